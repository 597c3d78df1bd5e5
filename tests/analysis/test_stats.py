"""Golden values of the aggregate metrics, probability of improvement, profiles and the bootstrap."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.stats
from rliable import metrics as rly

from harness.analysis import stats
from harness.analysis.stats import (
    bootstrap_resamples,
    interval_estimate,
    iqm,
    mean,
    median,
    optimality_gap,
    performance_profiles,
    probability_of_improvement,
    probability_of_improvement_ci,
    score_distribution,
)


def test_iqm_of_known_matrix_by_hand_and_rliable() -> None:
    scores = np.arange(8.0).reshape(2, 4)  # values 0..7: drop 0,1 and 6,7 -> mean(2,3,4,5)
    assert iqm(scores) == pytest.approx(3.5)
    assert iqm(scores) == pytest.approx(rly.aggregate_iqm(scores))


def test_mean_median_optimality_gap_by_hand() -> None:
    scores = np.array([[1.0, 2.0, 9.0], [3.0, 4.0, 11.0]])  # task means 2, 3, 10
    assert mean(scores) == pytest.approx(5.0)
    assert median(scores) == pytest.approx(3.0)
    gap = np.array([[0.5, 1.2], [0.8, 0.2]])  # clipped at 1: 0.5, 1, 0.8, 0.2 -> mean 0.625
    assert optimality_gap(gap) == pytest.approx(0.375)
    rng = np.random.default_rng(3)
    for _ in range(5):
        x = rng.normal(size=(5, 3))
        assert mean(x) == pytest.approx(rly.aggregate_mean(x))
        assert median(x) == pytest.approx(rly.aggregate_median(x))
        assert optimality_gap(x) == pytest.approx(rly.aggregate_optimality_gap(x))
        assert iqm(x) == pytest.approx(rly.aggregate_iqm(x))


def test_missing_runs_use_the_finite_entries_of_each_task() -> None:
    scores = np.array([[1.0, 10.0], [3.0, np.nan], [5.0, 14.0]])
    assert mean(scores) == pytest.approx((3.0 + 12.0) / 2)
    assert iqm(scores) == pytest.approx(rly.aggregate_iqm(np.array([1.0, 10.0, 3.0, 5.0, 14.0])))
    assert np.isnan(iqm(np.full((2, 2), np.nan)))


def test_probability_of_improvement_by_hand() -> None:
    same = np.array([[1.0, 5.0], [2.0, 6.0], [3.0, 7.0]])
    assert probability_of_improvement(same, same) == pytest.approx(0.5)
    x, y = np.array([[3.0], [4.0]]), np.array([[1.0], [2.0], [3.0]])
    # 3 beats 1 and 2 and ties 3 (one half); 4 beats all three -> (2.5 + 3) / 6
    assert probability_of_improvement(x, y) == pytest.approx(5.5 / 6)
    assert probability_of_improvement(y, x) == pytest.approx(0.5 / 6)
    assert probability_of_improvement(x, y) == pytest.approx(rly.probability_of_improvement(x, y))


def test_vectorized_improvement_matches_rliable_on_resamples() -> None:
    rng = np.random.default_rng(0)
    x, y = rng.integers(0, 4, size=(4, 3)).astype(float), rng.integers(0, 4, size=(5, 3)).astype(float)
    rx, ry = bootstrap_resamples(x, rng, 20), bootstrap_resamples(y, rng, 20)
    fast = stats._poi_resampled(rx, ry)
    slow = [rly.probability_of_improvement(a, b) for a, b in zip(rx, ry, strict=True)]
    np.testing.assert_allclose(fast, slow)


def test_improvement_ci_of_identical_methods_is_centred() -> None:
    x = np.random.default_rng(1).normal(size=(10, 2))
    est = probability_of_improvement_ci(x, x, np.random.default_rng(0), reps=500)
    assert est.point == pytest.approx(0.5)
    assert est.lo < 0.5 < est.hi


def test_bootstrap_is_seeded_and_constant_scores_have_zero_width() -> None:
    x = np.random.default_rng(2).normal(size=(6, 3))
    a = interval_estimate(x, iqm, np.random.default_rng(7), reps=300)
    b = interval_estimate(x, iqm, np.random.default_rng(7), reps=300)
    assert a == b
    assert a.lo <= a.point <= a.hi and a.n_runs == 6
    c = interval_estimate(np.full((4, 2), 2.5), iqm, np.random.default_rng(0), reps=100)
    assert (c.point, c.lo, c.hi) == (2.5, 2.5, 2.5)


@pytest.mark.parametrize("func", [iqm, mean, median, optimality_gap])
def test_vectorized_bootstrap_equals_the_loop(func) -> None:
    x = np.random.default_rng(4).normal(size=(5, 3))
    x[1, 2] = np.nan  # ragged: one missing run
    fast = interval_estimate(x, func, np.random.default_rng(0), reps=200)
    slow = interval_estimate(x, lambda s: func(s), np.random.default_rng(0), reps=200)
    assert fast.point == pytest.approx(slow.point)
    assert (fast.lo, fast.hi) == pytest.approx((slow.lo, slow.hi))


def test_resampling_stays_within_each_task() -> None:
    x = np.array([[0.0, 10.0], [1.0, 11.0], [2.0, np.nan]])
    r = bootstrap_resamples(x, np.random.default_rng(0), 50)
    assert r.shape == (50, 3, 2)
    assert set(np.unique(r[:, :, 0])) <= {0.0, 1.0, 2.0}
    assert set(np.unique(r[:, :2, 1])) <= {10.0, 11.0} and np.isnan(r[:, 2, 1]).all()


def test_single_task_ci_agrees_with_scipy_percentile_bootstrap() -> None:
    data = np.random.default_rng(5).normal(loc=3.0, scale=1.0, size=12)
    ours = interval_estimate(data, mean, np.random.default_rng(0), reps=20000)
    ref = scipy.stats.bootstrap(
        (data,), np.mean, n_resamples=20000, method="percentile", rng=np.random.default_rng(1)
    ).confidence_interval
    assert ours.lo == pytest.approx(ref.low, abs=0.04)
    assert ours.hi == pytest.approx(ref.high, abs=0.04)


def test_score_distribution_and_profiles() -> None:
    scores = np.array([[0.1, 0.5], [0.9, 1.2]])
    np.testing.assert_allclose(score_distribution(scores, np.array([0.0, 0.5, 1.0])), [1.0, 0.5, 0.25])
    prof = performance_profiles({"a": scores}, np.array([0.0, 0.5, 1.0]), np.random.default_rng(0), reps=200)[
        "a"
    ]
    np.testing.assert_allclose(prof.fraction, [1.0, 0.5, 0.25])
    assert np.all(prof.lo <= prof.fraction + 1e-12) and np.all(prof.fraction <= prof.hi + 1e-12)


def test_aggregate_estimates_rejects_unknown_metric() -> None:
    with pytest.raises(ValueError, match="available"):
        stats.aggregate_estimates({"a": np.ones((2, 2))}, np.random.default_rng(0), metrics=("IQR",))
