"""Aggregate metrics with stratified bootstrap confidence intervals (rliable's estimators, seeded).

Every function here takes score matrices ``scores[runs, tasks]``: one row per independent run (a seed:
one training run of a method), one column per task of the benchmark (a suite: the score of a run on a
suite is already averaged over its test tasks and never counts evaluation episodes as runs). Entries may be
NaN where a run is missing on a task (a failed or unfinished seed): each column then uses its finite
entries only, so methods with a missing seed still get an estimate, from fewer runs.

The point estimators are ``rliable.metrics`` (IQM, median, mean, optimality gap, probability of
improvement). The bootstrap is re-implemented here, for two reasons checked on the installed versions:
``rliable.library`` does not import with arch 7 + pandas 3 (``deprecate_kwarg`` signature change), and its
``StratifiedBootstrap.update_indices`` draws from the *global* ``np.random`` (ignoring ``random_state``),
which this project forbids. The resampling is rliable's: runs are resampled with replacement independently
within each task (``task_bootstrap=False``), and CIs are percentile intervals.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import scipy.stats
from rliable import metrics as rly_metrics

ScoreDict = Mapping[str, np.ndarray]
"""``{method: scores[runs, tasks]}`` (runs may differ between methods; NaN marks a missing run)."""

#: Default bootstrap replications (rliable uses 2000 for profiles and P(improvement), 50000 for aggregates).
DEFAULT_REPS = 2000
#: Most bootstrap replications (memory: reps x runs x tasks floats per estimate).
MAX_REPS = 200_000


def check_reps(reps: int) -> int:
    """Return ``reps`` if it is a usable number of bootstrap replications, else raise ``ValueError``."""
    if isinstance(reps, bool) or not isinstance(reps, int) or not 1 <= reps <= MAX_REPS:
        raise ValueError(f"--reps must be in 1..{MAX_REPS} bootstrap replications, got {reps!r}")
    return reps


@dataclass(frozen=True)
class Estimate:
    """A point estimate with a confidence interval.

    Attributes:
        point: the estimate on the observed data.
        lo: lower end of the CI (NaN when there is no data).
        hi: upper end of the CI.
        n_runs: runs (seeds) that contributed (the largest per-task count).
    """

    point: float
    lo: float
    hi: float
    n_runs: int


def _as_matrix(scores: np.ndarray) -> np.ndarray:
    """``scores`` as float ``[runs, tasks]`` (a 1-D array is one task)."""
    a = np.asarray(scores, dtype=float)
    if a.ndim == 1:
        a = a[:, None]
    if a.ndim != 2:
        raise ValueError(f"scores must be [runs, tasks], got shape {a.shape}")
    return a


def _finite(scores: np.ndarray) -> np.ndarray:
    a = np.asarray(scores, dtype=float).ravel()
    return a[np.isfinite(a)]


def _task_means(scores: np.ndarray) -> np.ndarray:
    """Per-task mean over finite runs ``[1, tasks']`` (tasks without any run dropped)."""
    a = _as_matrix(scores)
    keep = np.isfinite(a).any(axis=0)
    if not keep.any():
        return np.empty((1, 0))
    return np.nanmean(a[:, keep], axis=0, keepdims=True)


# ------------------------------------------------------------------------------------------ estimators


def iqm(scores: np.ndarray) -> float:
    """Interquartile mean (25% trimmed mean) of all finite ``scores[runs, tasks]`` (rliable)."""
    values = _finite(scores)
    return float(rly_metrics.aggregate_iqm(values)) if values.size else float("nan")


def mean(scores: np.ndarray) -> float:
    """Mean over tasks of the per-task mean over runs (rliable ``aggregate_mean``)."""
    m = _task_means(scores)
    return float(rly_metrics.aggregate_mean(m)) if m.size else float("nan")


def median(scores: np.ndarray) -> float:
    """Median over tasks of the per-task mean over runs (rliable ``aggregate_median``)."""
    m = _task_means(scores)
    return float(rly_metrics.aggregate_median(m)) if m.size else float("nan")


def optimality_gap(scores: np.ndarray, gamma: float = 1.0) -> float:
    """``gamma - mean(min(scores, gamma))`` over all finite scores (rliable; for normalized scores)."""
    values = _finite(scores)
    return float(rly_metrics.aggregate_optimality_gap(values, gamma)) if values.size else float("nan")


#: Aggregate metrics by display name (all take ``scores[runs, tasks]`` and return a float).
AGGREGATES: dict[str, Callable[[np.ndarray], float]] = {
    "IQM": iqm,
    "Median": median,
    "Mean": mean,
    "Optimality gap": optimality_gap,
}


def _finite_flat(r: np.ndarray) -> np.ndarray:
    """Resamples ``[reps, runs, tasks]`` -> their finite values ``[reps, k]`` (the NaN padding of
    :func:`bootstrap_resamples` is the same in every replication)."""
    flat = r.reshape(len(r), -1)
    return flat[:, np.isfinite(flat[0])]


def _task_means_resampled(r: np.ndarray) -> np.ndarray:
    """Per-task means of resamples ``[reps, runs, tasks]`` -> ``[reps, tasks']`` (empty tasks dropped)."""
    keep = np.isfinite(r[0]).any(axis=0)
    sub = r[:, :, keep]
    return np.nanmean(sub, axis=1) if sub.size else np.full((len(r), 0), np.nan)


#: Vectorized versions over resamples ``[reps, runs, tasks]`` -> ``[reps]``, equal to calling the metric on
#: each resample (checked in tests).
_VECTORIZED: dict[Callable[[np.ndarray], float], Callable[[np.ndarray], np.ndarray]] = {
    iqm: lambda r: scipy.stats.trim_mean(_finite_flat(r), 0.25, axis=1),
    mean: lambda r: _task_means_resampled(r).mean(axis=1),
    median: lambda r: np.median(_task_means_resampled(r), axis=1),
    optimality_gap: lambda r: 1.0 - np.minimum(_finite_flat(r), 1.0).mean(axis=1),
}

# ------------------------------------------------------------------------------------------- bootstrap


def _columns(scores: np.ndarray) -> list[np.ndarray]:
    """Finite runs of each task."""
    a = _as_matrix(scores)
    return [a[np.isfinite(a[:, j]), j] for j in range(a.shape[1])]


def bootstrap_resamples(scores: np.ndarray, rng: np.random.Generator, reps: int) -> np.ndarray:
    """Stratified bootstrap resamples ``[reps, runs, tasks]`` of ``scores[runs, tasks]``.

    Within each task the finite runs are drawn with replacement (as many as it has); tasks with fewer runs
    than the largest count are padded with NaN, tasks without runs stay NaN.
    """
    cols = _columns(scores)
    n_max = max((c.size for c in cols), default=0)
    out = np.full((reps, n_max, len(cols)), np.nan)
    for j, col in enumerate(cols):
        if col.size:
            out[:, : col.size, j] = col[rng.integers(0, col.size, size=(reps, col.size))]
    return out


def _percentile_ci(stats: np.ndarray, confidence: float) -> tuple[np.ndarray, np.ndarray]:
    """Percentile interval of bootstrap statistics ``stats[reps, ...]``."""
    alpha = (1.0 - confidence) / 2.0
    stats = np.asarray(stats, dtype=float)
    if not np.isfinite(stats).any():
        nan = np.full(stats.shape[1:], np.nan)
        return nan, nan
    lo, hi = np.nanpercentile(stats, [100 * alpha, 100 * (1 - alpha)], axis=0)
    return lo, hi


def interval_estimate(
    scores: np.ndarray,
    func: Callable[[np.ndarray], float],
    rng: np.random.Generator,
    reps: int = DEFAULT_REPS,
    confidence: float = 0.95,
) -> Estimate:
    """``func(scores)`` with a stratified bootstrap percentile CI over runs.

    Args:
        scores: ``[runs, tasks]`` (NaN = missing run).
        func: aggregate of a ``[runs, tasks]`` matrix, e.g. :func:`iqm`.
        rng: the bootstrap's generator (same generator state => same CI).
        reps: bootstrap replications.
        confidence: CI coverage (0.95 = 95%).
    """
    a = _as_matrix(scores)
    n_runs = int(np.isfinite(a).sum(axis=0).max(initial=0))
    if n_runs == 0:
        return Estimate(float("nan"), float("nan"), float("nan"), 0)
    point = func(a)
    resamples = bootstrap_resamples(a, rng, reps)
    fast = _VECTORIZED.get(func)
    if fast is not None:
        stats = fast(resamples)
    else:
        stats = np.array([func(r) for r in resamples])
    lo, hi = _percentile_ci(stats, confidence)
    return Estimate(float(point), float(lo), float(hi), n_runs)


def aggregate_estimates(
    score_dict: ScoreDict,
    rng: np.random.Generator,
    metrics: Sequence[str] = ("IQM", "Median", "Mean", "Optimality gap"),
    reps: int = DEFAULT_REPS,
    confidence: float = 0.95,
) -> dict[str, dict[str, Estimate]]:
    """``{method: {metric: Estimate}}`` for the named :data:`AGGREGATES` (bootstrapped per method).

    Methods are processed in the order of ``score_dict`` and every method draws from ``rng`` in turn, so
    the CIs are a pure function of the inputs and the generator's seed.
    """
    unknown = [m for m in metrics if m not in AGGREGATES]
    if unknown:
        raise ValueError(f"unknown aggregate metric(s) {unknown}; available: {list(AGGREGATES)}")
    return {
        method: {m: interval_estimate(scores, AGGREGATES[m], rng, reps, confidence) for m in metrics}
        for method, scores in score_dict.items()
    }


# -------------------------------------------------------------------------- probability of improvement


def probability_of_improvement(scores_x: np.ndarray, scores_y: np.ndarray) -> float:
    """P(X > Y): Mann-Whitney ``U / (n_x n_y)`` per task, averaged over tasks (rliable).

    ``scores_x[runs_x, tasks]`` and ``scores_y[runs_y, tasks]`` share the tasks axis; each task uses its
    finite runs, tasks where either method has none are skipped. Identical methods give 0.5.
    """
    x, y = _as_matrix(scores_x), _as_matrix(scores_y)
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"tasks differ: {x.shape[1]} vs {y.shape[1]}")
    probs = []
    for cx, cy in zip(_columns(x), _columns(y), strict=True):
        if cx.size and cy.size:
            probs.append(rly_metrics.probability_of_improvement(cx[:, None], cy[:, None]))
    return float(np.mean(probs)) if probs else float("nan")


def _poi_resampled(rx: np.ndarray, ry: np.ndarray) -> np.ndarray:
    """Vectorized P(X > Y) of resamples ``rx[reps, nx, tasks]``, ``ry[reps, ny, tasks]`` -> ``[reps]``.

    Equals :func:`probability_of_improvement` on each resample (ties count one half, as Mann-Whitney U).
    """
    gt = rx[:, :, None, :] > ry[:, None, :, :]
    eq = rx[:, :, None, :] == ry[:, None, :, :]
    valid = np.isfinite(rx)[:, :, None, :] & np.isfinite(ry)[:, None, :, :]
    pairs = valid.sum(axis=(1, 2))
    with np.errstate(invalid="ignore", divide="ignore"):
        per_task = ((gt & valid).sum(axis=(1, 2)) + 0.5 * (eq & valid).sum(axis=(1, 2))) / pairs
    return np.nanmean(np.where(pairs > 0, per_task, np.nan), axis=1)


def probability_of_improvement_ci(
    scores_x: np.ndarray,
    scores_y: np.ndarray,
    rng: np.random.Generator,
    reps: int = DEFAULT_REPS,
    confidence: float = 0.95,
) -> Estimate:
    """P(X > Y) with a CI from resampling the runs of X and of Y independently within each task."""
    x, y = _as_matrix(scores_x), _as_matrix(scores_y)
    point = probability_of_improvement(x, y)
    if not np.isfinite(point):
        return Estimate(float("nan"), float("nan"), float("nan"), 0)
    stats = _poi_resampled(bootstrap_resamples(x, rng, reps), bootstrap_resamples(y, rng, reps))
    lo, hi = _percentile_ci(stats, confidence)
    n = int(min(np.isfinite(x).sum(axis=0).max(), np.isfinite(y).sum(axis=0).max()))
    return Estimate(point, float(lo), float(hi), n)


def pairwise_improvement(
    score_dict: ScoreDict,
    pairs: Sequence[tuple[str, str]],
    rng: np.random.Generator,
    reps: int = DEFAULT_REPS,
    confidence: float = 0.95,
) -> dict[tuple[str, str], Estimate]:
    """``{(x, y): P(x > y) with CI}`` for the given method pairs."""
    return {
        (x, y): probability_of_improvement_ci(score_dict[x], score_dict[y], rng, reps, confidence)
        for x, y in pairs
    }


# ------------------------------------------------------------------------------- performance profiles


def score_distribution(scores: np.ndarray, taus: np.ndarray) -> np.ndarray:
    """Fraction of finite run x task scores above each threshold (rliable score distribution) ``[taus]``."""
    values = _finite(scores)
    taus = np.asarray(taus, dtype=float)
    if not values.size:
        return np.full(taus.shape, np.nan)
    return (values[None, :] > taus[:, None]).mean(axis=1)


@dataclass(frozen=True)
class Profile:
    """A performance profile: fraction of runs with score > tau, with a pointwise CI band.

    Attributes:
        taus: thresholds ``[n_taus]``.
        fraction: fraction of (run, task) scores above each threshold ``[n_taus]``.
        lo: lower CI band ``[n_taus]``.
        hi: upper CI band ``[n_taus]``.
    """

    taus: np.ndarray
    fraction: np.ndarray
    lo: np.ndarray
    hi: np.ndarray


def performance_profiles(
    score_dict: ScoreDict,
    taus: np.ndarray,
    rng: np.random.Generator,
    reps: int = DEFAULT_REPS,
    confidence: float = 0.95,
) -> dict[str, Profile]:
    """Score-distribution performance profiles ``{method: Profile}`` with stratified bootstrap bands."""
    taus = np.asarray(taus, dtype=float)
    out = {}
    for method, scores in score_dict.items():
        resamples = bootstrap_resamples(_as_matrix(scores), rng, reps)  # [reps, runs, tasks]
        flat = resamples.reshape(reps, -1)
        finite = np.isfinite(flat)
        counts = finite.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            above = ((flat[:, None, :] > taus[None, :, None]) & finite[:, None, :]).sum(axis=2)
            stats = above / counts[:, None]
        lo, hi = _percentile_ci(stats, confidence)
        out[method] = Profile(taus, score_distribution(scores, taus), np.asarray(lo), np.asarray(hi))
    return out
