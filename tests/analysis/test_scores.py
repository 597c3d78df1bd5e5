"""Per-run scores, AUC, normalization, curves, steps-to-threshold and non-stationary tracking on hand-built
frames (every expected number is computed by hand in the comments)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from harness.analysis import curves, nonstationary, scores


def _evals(
    method: str,
    seed: int,
    values: dict[tuple[int, int], list[float]],
    metric: str = "return",
    suite: str = "s",
) -> pd.DataFrame:
    """values[(eval_index, task_id)] = per-episode scores; env_steps = 100 * eval_index."""
    rows = []
    for (i, task), eps in values.items():
        for e, v in enumerate(eps):
            rows.append(
                {
                    "suite": suite,
                    "method": method,
                    "seed": seed,
                    "eval_index": i,
                    "env_steps": 100 * i,
                    "task_id": task,
                    "episode": e,
                    "return": v if metric == "return" else 0.0,
                    "success": bool(v) if metric == "success" else False,
                    "metric": metric,
                }
            )
    return pd.DataFrame(rows)


def test_episode_selection_and_run_curves() -> None:
    ev = _evals("m", 0, {(0, 0): [1.0, 3.0], (0, 1): [2.0, 6.0], (1, 0): [4.0, 8.0], (1, 1): [5.0, 9.0]})
    zero = scores.run_curves(ev, "zero-shot")
    final = scores.run_curves(ev, "final")
    assert zero["score"].tolist() == [1.5, 4.5]  # mean over tasks of episode 0
    assert final["score"].tolist() == [4.5, 8.5]  # mean over tasks of the last episode
    assert scores.run_curves(ev, 2)["score"].tolist() == [4.5, 8.5]
    assert final["env_steps"].tolist() == [0, 100]
    with pytest.raises(ValueError):
        scores.select_episode(ev, "first")


def test_success_metric_scores_the_success_flag() -> None:
    ev = _evals("m", 0, {(0, 0): [0, 1], (0, 1): [0, 0], (0, 2): [1, 1], (0, 3): [0, 1]}, metric="success")
    assert scores.run_scores(ev)["score"].tolist() == [0.75]  # 3 of 4 test tasks succeed in the last episode
    assert scores.run_scores(ev, k="zero-shot")["score"].tolist() == [0.25]


def test_area_under_curve_by_hand() -> None:
    # trapezoids over [0, 100, 300]: (0+2)/2*100 + (2+4)/2*200 = 100 + 600 -> / 300
    assert scores.area_under_curve(np.array([0, 100, 300]), np.array([0.0, 2.0, 4.0])) == pytest.approx(
        700 / 300
    )
    assert scores.area_under_curve(np.array([50]), np.array([3.0])) == 3.0
    ev = _evals("m", 0, {(0, 0): [0.0], (1, 0): [2.0], (2, 0): [4.0]})
    auc = scores.run_scores(ev, "auc")
    assert auc["score"].iloc[0] == pytest.approx(2.0)  # evenly spaced: (0 + 2*2 + 4) / 4


def test_normalization_random_zero_oracle_one() -> None:
    frame = pd.DataFrame(
        {
            "suite": ["a"] * 6 + ["b"] * 2,
            "method": ["random", "random", "sac-oracle", "sac-oracle", "m", "m", "random", "m"],
            "seed": [0, 1, 0, 1, 0, 1, 0, 0],
            "score": [-10.0, -12.0, 9.0, 11.0, 0.0, 5.0, 1.0, 2.0],
            "metric": "return",
        }
    )
    refs = scores.reference_scores(frame)
    assert refs == {"a": (-11.0, 10.0)}  # suite b lacks the oracle
    norm = scores.normalize(frame)
    assert set(norm["suite"]) == {"a"}
    got = norm.groupby("method")["score"].mean()
    assert got["random"] == pytest.approx(0.0) and got["sac-oracle"] == pytest.approx(1.0)
    assert norm[norm["method"] == "m"]["score"].tolist() == pytest.approx([11 / 21, 16 / 21])


def test_score_dict_has_nan_for_missing_runs() -> None:
    frame = pd.DataFrame(
        {"suite": ["a", "a", "b"], "method": "m", "seed": [0, 1, 0], "score": [1.0, 2.0, 3.0]}
    )
    d = scores.score_dict(frame, ["a", "b"])
    np.testing.assert_array_equal(d["m"], [[1.0, 3.0], [2.0, np.nan]])


def test_first_crossing_interpolates() -> None:
    x, y = np.array([0, 100, 200]), np.array([0.0, 0.5, 1.0])
    assert curves.first_crossing(x, y, 0.75) == pytest.approx(150.0)
    assert curves.first_crossing(x, y, 0.0) == 0.0
    assert np.isnan(curves.first_crossing(x, y, 2.0))


def _agg(method: str, points: list[float]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "suite": "s",
            "method": method,
            "x": range(len(points)),
            "env_steps": [100.0 * i for i in range(len(points))],
            "point": points,
            "lo": points,
            "hi": points,
            "n_runs": 3,
        }
    )


def test_steps_to_threshold_and_speedup() -> None:
    agg = pd.concat(
        [
            _agg("random", [0.0, 0.0, 0.0]),
            _agg("fast", [0.0, 10.0, 10.0]),
            _agg("slow", [0.0, 4.0, 8.0]),
            _agg("sac-oracle", [0.0, 20.0, 20.0]),
        ]
    )
    out = curves.steps_to_threshold(agg, fraction=0.8).set_index("method")
    # best non-oracle final = 10, baseline = random's 0 -> threshold 8
    assert out.loc["fast", "threshold"] == pytest.approx(8.0)
    assert out.loc["fast", "steps"] == pytest.approx(80.0)  # 0 -> 10 over 100 steps
    assert out.loc["slow", "steps"] == pytest.approx(200.0)
    assert out.loc["fast", "speedup"] == pytest.approx(2.5)
    assert not out["speedup_is_bound"].any()
    never = curves.steps_to_threshold(pd.concat([_agg("fast", [0.0, 10.0]), _agg("flat", [0.0, 1.0])]), 0.8)
    row = never.set_index("method").loc["fast"]
    assert row["speedup_is_bound"] and row["speedup"] == pytest.approx(100 / 80)


def test_adaptation_curves_per_episode() -> None:
    ev = pd.concat([_evals("m", s, {(0, 0): [0.0, 0.0], (1, 0): [1.0 + s, 3.0 + s]}) for s in range(3)])
    out = curves.adaptation_curves(ev, np.random.default_rng(0), reps=100)
    assert out["x"].tolist() == [0, 1]
    assert out["point"].tolist() == pytest.approx([2.0, 4.0])  # last evaluation, IQM of 3 seeds = mean


def _trace(method: str = "m", seed: int = 0) -> pd.DataFrame:
    """One episode of 10 steps; the task switches from (0, 0) to (1, 2) at t = 4 and to (3, 3) at t = 8."""
    task = [[0.0, 0.0]] * 4 + [[1.0, 2.0]] * 4 + [[3.0, 3.0]] * 2
    belief = [[2 * a + 1, b - a, a + b] for a, b in task]  # a linear function of the task
    return pd.DataFrame(
        {
            "suite": "ns",
            "method": method,
            "seed": seed,
            "task_id": 0,
            "episode": 0,
            "t": range(10),
            "reward": [float(t) for t in range(10)],
            "true_task": task,
            "belief_mean": belief,
        }
    )


def test_switch_times_and_alignment() -> None:
    tr = _trace()
    sw = nonstationary.switch_times(tr)
    assert sw["t"].tolist() == [4, 8]
    al = nonstationary.aligned_to_switches(tr, "reward", before=2, after=3)
    # switch 4: t in [2, 7) -> offsets -2..2 ; switch 8: t in [max(6, 4), 10) -> offsets -2..1
    by = al.set_index("offset")["value"]
    assert (
        by[-2] == pytest.approx((2 + 6) / 2)
        and by[2] == pytest.approx(6.0)
        and by[1] == pytest.approx((5 + 9) / 2)
    )
    assert set(al["offset"]) == {-2, -1, 0, 1, 2}


def test_switch_progress_from_old_task_to_new() -> None:
    tr = _trace()
    assert nonstationary.aligned_switch_progress(tr).empty  # no ``achieved`` column: nothing to show
    # the agent reaches each new task one step after its switch (from (0, 0) to (1, 2) to (3, 3))
    achieved = [[0.0, 0.0]] * 5 + [[1.0, 2.0]] * 4 + [[3.0, 3.0]]
    tr["achieved"] = achieved
    al = nonstationary.aligned_switch_progress(tr, before=2, after=3).set_index("offset")["value"]
    # switch 4, d = (1, 2): offsets -2..2 = 0, 0, 0, 1, 1; switch 8 (d = (2, 1)): -2..1 = 0, 0, 0, 1
    assert al.to_dict() == pytest.approx({-2: 0.0, -1: 0.0, 0: 0.0, 1: 1.0, 2: 1.0})
    # switches smaller than ``min_change`` (both are sqrt(5) here) are left out
    assert nonstationary.aligned_switch_progress(tr, before=2, after=3, min_change=2.3).empty
    half = tr.copy()
    half["achieved"] = [[0.0, 0.0]] * 4 + [[0.5, 1.0]] * 4 + [[2.0, 2.5]] * 2
    al = nonstationary.aligned_switch_progress(half, before=1, after=2).set_index("offset")["value"]
    # halfway after each switch; before the second one the agent is at (0.5, 1), short of the old (1, 2):
    # (-0.5, -1) . (2, 1) / 5 = -0.4, averaged with the first switch's 0 at offset -1
    assert al.to_dict() == pytest.approx({-1: -0.2, 0: 0.5, 1: 0.5})
    # runs without the quantity (None rows) are ignored
    other = _trace(seed=1)
    other["achieved"] = None
    both = nonstationary.aligned_switch_progress(pd.concat([tr, other], ignore_index=True), before=2, after=3)
    assert set(both["seed"]) == {0}


def test_switch_panels_share_one_window_by_default() -> None:
    """The report's switch figure draws reward, progress and probe error from these defaults: one x range
    (a long segment after a switch shows up to ``SWITCH_AFTER - 1`` in every panel)."""
    n = 150
    task = [[0.0]] * 10 + [[2.0]] * (n - 10)
    tr = pd.DataFrame({"suite": "ns", "method": "m", "seed": 0, "task_id": 0, "episode": 0, "t": range(n),
                       "reward": 0.0, "true_task": task, "achieved": task})
    reward = nonstationary.aligned_to_switches(tr, "reward")["offset"]
    progress = nonstationary.aligned_switch_progress(tr)["offset"]
    expected = [-nonstationary.SWITCH_BEFORE, nonstationary.SWITCH_AFTER - 1]
    assert [reward.min(), reward.max()] == [progress.min(), progress.max()] == expected


def test_switch_progress_by_direction() -> None:
    """``direction`` keeps the switches that raise (increase) or lower (decrease) the task's first
    component; the agent here follows only the switches that raise it."""
    tr = _trace()
    tr["true_task"] = [[0.0, 0.0]] * 4 + [[2.0, 0.0]] * 4 + [[1.0, 0.0]] * 2  # up at t = 4, down at t = 8
    tr["achieved"] = [[0.0, 0.0]] * 4 + [[2.0, 0.0]] * 6  # reaches 2 at once, stays there after the drop
    up = nonstationary.aligned_switch_progress(tr, before=0, after=2, direction="increase")
    down = nonstationary.aligned_switch_progress(tr, before=0, after=2, direction="decrease")
    assert up["value"].tolist() == pytest.approx([1.0, 1.0])
    assert down["value"].tolist() == pytest.approx([0.0, 0.0])
    both = nonstationary.aligned_switch_progress(tr, before=0, after=2)
    assert both["value"].tolist() == pytest.approx([0.5, 0.5])
    with pytest.raises(ValueError, match="increase, decrease"):
        nonstationary.aligned_switch_progress(tr, direction="up")


def test_switch_phases_and_error_by_phase() -> None:
    """Steps since the last switch and the direction of that switch, and a signed error averaged per phase
    and range of steps since the switch."""
    target = np.array([[1.0] * 5 + [2.0] * 5 + [0.5] * 5, [3.0] * 15])
    since, direction = nonstationary.switch_phases(target)
    assert since[0].tolist() == [0, 1, 2, 3, 4, 0, 1, 2, 3, 4, 0, 1, 2, 3, 4]
    assert direction[0].tolist() == [0] * 5 + [1] * 5 + [-1] * 5 and not direction[1].any()
    assert since[1].tolist() == list(range(15))
    # an agent that keeps the first target: lags by -1 after the rise and overshoots by +0.5 after the drop
    error = np.array([[0.0] * 5 + [-1.0] * 5 + [0.5] * 5, [0.0] * 15])
    table = nonstationary.error_by_switch_phase(error, target, ranges=((0, 2), (2, 100)))
    got = {(r.phase, r.steps): (r.error, r.n) for r in table.itertuples()}
    assert got[("after an increase", "0-2")] == (pytest.approx(-1.0), 2)
    assert got[("after a decrease", "2-100")] == (pytest.approx(0.5), 3)
    assert got[("before any switch", "2-100")] == (pytest.approx(0.0), 16)  # rows 0 (2-4) and 1 (2-14)
    assert set(table["phase"]) == {"before any switch", "after an increase", "after a decrease"}


def test_belief_probe_error_is_zero_for_a_linear_belief() -> None:
    out = nonstationary.belief_probe_error(_trace(), "mean")
    assert np.allclose(out["probe_error"], 0.0, atol=1e-8)
    noisy = _trace()
    noisy["belief_mean"] = [[0.0, 0.0, 0.0]] * 10  # uninformative belief: error of predicting the mean task
    err = nonstationary.belief_probe_error(noisy, "mean")["probe_error"].to_numpy()
    assert np.sqrt(np.mean(err**2)) == pytest.approx(1.0)


def test_pca_2d_on_a_line() -> None:
    x = np.outer(np.arange(5.0), [1.0, 2.0, 3.0])
    coords, explained = nonstationary.pca_2d(x)
    assert explained == pytest.approx([1.0, 0.0])
    assert np.allclose(np.abs(coords[:, 0]), np.abs(np.arange(5.0) - 2) * np.sqrt(14))
    projections = nonstationary.belief_projections(pd.concat([_trace(seed=1), _trace(seed=0)]))
    assert len(projections) == 1 and projections[0].seed == 0 and projections[0].coords.shape == (10, 2)


def test_no_normalization_where_the_oracle_does_not_beat_random() -> None:
    frame = pd.DataFrame(
        {
            "suite": ["a", "a", "b", "b"],
            "method": ["random", "sac-oracle"] * 2,
            "seed": 0,
            "score": [-10.0, -12.0, 1.0, 1.0],
            "metric": "return",
        }
    )
    assert scores.reference_scores(frame) == {}  # an inverted or empty scale would mislead
    assert scores.reference_problems(frame) == {
        "a": "sac-oracle does not score above random",
        "b": "sac-oracle does not score above random",
    }
    assert scores.reference_problems(frame[frame["method"] == "random"]) == {
        "a": "no sac-oracle runs",
        "b": "no sac-oracle runs",
    }


def test_switch_times_with_task_vectors_of_different_sizes() -> None:
    other = pd.DataFrame(
        {
            "suite": "one-d",
            "method": "m",
            "seed": 0,
            "task_id": 0,
            "episode": 0,
            "t": range(3),
            "reward": 0.0,
            "true_task": [[1.0], [1.0], [2.0]],
        }
    )
    sw = nonstationary.switch_times(pd.concat([_trace(), other], ignore_index=True))
    assert sorted(zip(sw["suite"], sw["t"], strict=True)) == [("ns", 4), ("ns", 8), ("one-d", 2)]
