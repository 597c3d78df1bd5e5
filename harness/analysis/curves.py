"""Curves over seeds: sample efficiency (score vs env steps), steps to a score, k-shot adaptation.

Every curve point aggregates one score per run (seed) with the IQM and a bootstrap CI over seeds (the
runs axis; the tasks axis has one column, the suite).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from harness.analysis.scores import LOWER_REFERENCE, RUN_KEYS, UPPER_REFERENCE, episode_scores
from harness.analysis.stats import DEFAULT_REPS, interval_estimate, iqm

CURVE_COLUMNS = ["suite", "method", "x", "env_steps", "point", "lo", "hi", "n_runs"]


def _aggregate(
    frame: pd.DataFrame, x: str, rng: np.random.Generator, reps: int, confidence: float,
    stat: Callable[[np.ndarray], float],
) -> pd.DataFrame:
    rows = []
    for (suite, method, xv), g in frame.groupby(["suite", "method", x], sort=True):
        est = interval_estimate(g["score"].to_numpy(), stat, rng, reps, confidence)
        rows.append({"suite": suite, "method": method, "x": xv, "env_steps": float(g["env_steps"].mean()),
                     "point": est.point, "lo": est.lo, "hi": est.hi, "n_runs": est.n_runs})
    return pd.DataFrame(rows, columns=CURVE_COLUMNS)


def sample_efficiency_curves(
    curves: pd.DataFrame,
    rng: np.random.Generator,
    reps: int = DEFAULT_REPS,
    confidence: float = 0.95,
    stat: Callable[[np.ndarray], float] = iqm,
) -> pd.DataFrame:
    """Score vs env steps, aggregated over seeds.

    Args:
        curves: per-run curves (:func:`harness.analysis.scores.run_curves`).
        rng: bootstrap generator.
        reps: bootstrap replications per point.
        confidence: CI coverage.
        stat: aggregate over seeds (IQM by default).

    Returns:
        Columns ``suite, method, x, env_steps, point, lo, hi, n_runs`` with ``x`` the evaluation index
        and ``env_steps`` the mean training env steps of the seeds at that evaluation (seeds of one method
        evaluate on the same cadence). Late points may have fewer runs (``n_runs``).
    """
    return _aggregate(curves, "eval_index", rng, reps, confidence, stat)


def adaptation_curves(
    evals: pd.DataFrame,
    rng: np.random.Generator,
    reps: int = DEFAULT_REPS,
    confidence: float = 0.95,
    eval_index: str | int = "last",
) -> pd.DataFrame:
    """k-shot adaptation: score per episode index of the evaluation trial (belief carried across).

    Args:
        evals: the evaluation frame.
        eval_index: which evaluation of each run: ``"last"`` (the final one) or an index.

    Returns:
        ``CURVE_COLUMNS`` with ``x`` the episode index (0 = zero-shot); each point is the IQM over seeds
        of the run's mean score over test tasks on that episode.
    """
    if evals.empty:
        return pd.DataFrame(columns=CURVE_COLUMNS)
    df = episode_scores(evals)
    if eval_index == "last":
        df = df[df["eval_index"] == df.groupby(RUN_KEYS)["eval_index"].transform("max")]
    else:
        df = df[df["eval_index"] == int(eval_index)]
    per_run = df.groupby([*RUN_KEYS, "episode"], as_index=False).agg(
        score=("score", "mean"), env_steps=("env_steps", "max")
    )
    return _aggregate(per_run, "episode", rng, reps, confidence, iqm)


def first_crossing(env_steps: np.ndarray, values: np.ndarray, threshold: float) -> float:
    """Env steps at which a curve first reaches ``threshold`` (linear interpolation between points).

    Returns NaN when it never does; the first point's steps when it starts at or above the threshold.
    """
    x = np.asarray(env_steps, dtype=float)
    y = np.asarray(values, dtype=float)
    above = np.flatnonzero(y >= threshold)
    if not above.size:
        return float("nan")
    i = int(above[0])
    if i == 0 or not np.isfinite(y[i - 1]):
        return float(x[i])
    frac = (threshold - y[i - 1]) / (y[i] - y[i - 1])
    return float(x[i - 1] + frac * (x[i] - x[i - 1]))


def steps_to_threshold(
    curves: pd.DataFrame,
    fraction: float = 0.8,
    lower: str = LOWER_REFERENCE,
    exclude: Sequence[str] = (UPPER_REFERENCE,),
) -> pd.DataFrame:
    """Env steps each method needs to reach ``fraction`` of the best final score (the "N x faster" view).

    Per suite, the scale runs from the baseline (the final score of ``lower`` where it was run, else the
    lowest first-evaluation score of any method) to the best final score among methods not in
    ``exclude`` (the oracle sees the task, so it is not the bar to reach). The threshold is
    ``baseline + fraction * (best - baseline)``.

    Args:
        curves: aggregated curves (:func:`sample_efficiency_curves`).
        fraction: in (0, 1].

    Returns:
        Columns ``suite, method, threshold, steps, speedup, speedup_is_bound``: ``steps`` is NaN when a
        method never reaches the threshold; ``speedup`` = steps of the slowest method / the method's steps,
        where a method that never reached counts with its last evaluated env steps, which makes the ratio a
        lower bound (``speedup_is_bound``). Every method except ``lower`` gets a row (excluded methods too,
        as reference points).
    """
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    rows = []
    for suite, g in curves.groupby("suite", sort=True):
        g = g.sort_values(["method", "x"])
        finals = g.groupby("method")["point"].last()
        contenders = finals.drop(labels=[m for m in exclude if m in finals.index])
        if contenders.dropna().empty:
            continue
        best = float(contenders.max())
        if lower in finals.index and np.isfinite(finals[lower]):
            base = float(finals[lower])
        else:
            base = float(g.groupby("method")["point"].first().min())
        threshold = base + fraction * (best - base)
        for method, mg in g.groupby("method", sort=True):
            if method == lower:
                continue
            steps = first_crossing(mg["env_steps"].to_numpy(), mg["point"].to_numpy(), threshold)
            rows.append({"suite": suite, "method": method, "threshold": threshold, "steps": steps,
                         "horizon": steps if np.isfinite(steps) else float(mg["env_steps"].max())})
    out = pd.DataFrame(rows, columns=["suite", "method", "threshold", "steps", "horizon"])
    slowest = out.groupby("suite")["horizon"].transform("max")
    never = out["steps"].isna().groupby(out["suite"]).transform("any")
    out["speedup"] = slowest / out["steps"]
    out["speedup_is_bound"] = never & out["steps"].notna()
    return out.drop(columns="horizon")
