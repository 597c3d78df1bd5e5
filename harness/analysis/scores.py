"""Per-run scores from the tidy evaluation frame, normalization, and score matrices.

Input: the concatenated ``eval.parquet`` of many runs (``harness.store.load_frames``), one row per
evaluation episode with columns ``suite, method, seed, eval_index, env_steps, task_id, episode, return,
success, metric``. The *score* of an episode is its undiscounted return on ``return`` suites and its success
flag (success at any step of the episode, 0 or 1) on ``success`` suites. The score of a *run* at an
evaluation is the mean over its test tasks, so a success-suite run score is its success rate over test
tasks. Runs (seeds) are the statistical unit: test tasks and episodes are averaged inside a run, never
treated as independent runs.

:func:`run_curves` is the one place that scores an evaluation; :func:`trial_scores` applies it to one run's
latest evaluation (the runner's progress lines and summary, skipped runs, sweeps), so every number the
harness prints for an evaluation is the one ``harness compare`` computes from the files.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from harness.analysis.stats import Estimate, interval_estimate, mean

#: Keys of a run (one seed of a method on a suite).
RUN_KEYS = ["suite", "method", "seed"]
#: Reference methods for normalization: lower (score 0) and upper (score 1).
LOWER_REFERENCE = "random"
UPPER_REFERENCE = "sac-oracle"

#: Which episode of an evaluation trial is scored: ``zero-shot`` (episode 0) or ``final`` (the last one).
EpisodeSpec = str | int


def episode_scores(evals: pd.DataFrame) -> pd.DataFrame:
    """``evals`` with a float ``score`` column: ``success`` on success suites, ``return`` otherwise."""
    success = evals["metric"].astype(str) == "success"
    score = np.where(success, evals["success"].astype(float), evals["return"].astype(float))
    return evals.assign(score=score)


def select_episode(evals: pd.DataFrame, k: EpisodeSpec = "final") -> pd.DataFrame:
    """Rows of one episode index of each evaluation trial.

    Args:
        evals: the evaluation frame.
        k: ``"zero-shot"`` (episode 0: first episode on an unseen task), ``"final"`` (the last episode of
            the trial: the k-shot score after the belief was carried over every earlier episode) or an
            int ``k >= 1`` (episode ``k - 1``; trials shorter than ``k`` are dropped).
    """
    if k == "zero-shot":
        return evals[evals["episode"] == 0]
    if k == "final":
        last = evals.groupby([*RUN_KEYS, "eval_index", "task_id"])["episode"].transform("max")
        return evals[evals["episode"] == last]
    if isinstance(k, int) and k >= 1:
        return evals[evals["episode"] == k - 1]
    raise ValueError(f"episode spec must be 'zero-shot', 'final' or an int >= 1, got {k!r}")


def run_curves(evals: pd.DataFrame, k: EpisodeSpec = "final") -> pd.DataFrame:
    """Learning curve of every run: one row per (suite, method, seed, eval_index).

    Returns:
        Columns ``suite, method, seed, eval_index, env_steps, score, metric`` where ``score`` is the mean
        over test tasks of the selected episode's score at that evaluation and ``env_steps`` the training
        env steps consumed when it ran.
    """
    cols = [*RUN_KEYS, "eval_index", "env_steps", "score", "metric"]
    if evals.empty:
        return pd.DataFrame(columns=cols)
    df = episode_scores(select_episode(evals, k))
    out = df.groupby([*RUN_KEYS, "eval_index"], as_index=False).agg(
        env_steps=("env_steps", "max"), score=("score", "mean"), metric=("metric", "first")
    )
    return out[cols].sort_values([*RUN_KEYS, "eval_index"], ignore_index=True)


def trial_scores(evals: pd.DataFrame) -> tuple[float, float]:
    """Zero-shot and last-episode score of the latest evaluation of one run.

    Args:
        evals: ``eval.parquet`` rows of one run (or of one evaluation, e.g. the rows just written); the
            columns ``suite, method, seed`` may be absent.

    Returns:
        ``(zero_shot, last_episode)``: :func:`run_curves` with ``k="zero-shot"`` and ``k="final"`` at the
        highest ``eval_index`` (the mean over test tasks of the score of the trial's first and last
        episode); NaNs when there is no row.
    """
    if evals.empty:
        return math.nan, math.nan
    last = evals[evals["eval_index"] == evals["eval_index"].max()]
    last = last.assign(**{key: "" for key in RUN_KEYS if key not in last.columns})
    zero = run_curves(last, "zero-shot")["score"]
    final = run_curves(last, "final")["score"]
    return float(zero.iloc[0]), float(final.iloc[0])


def final_scores(curves: pd.DataFrame) -> pd.DataFrame:
    """Score of each run at its last evaluation: columns ``suite, method, seed, env_steps, score, metric``."""
    if curves.empty:
        return pd.DataFrame(columns=[*RUN_KEYS, "env_steps", "score", "metric"])
    last = curves.loc[curves.groupby(RUN_KEYS)["eval_index"].idxmax()]
    return last.drop(columns="eval_index").reset_index(drop=True)


def area_under_curve(env_steps: np.ndarray, scores: np.ndarray) -> float:
    """Mean score over training: trapezoidal area under ``scores`` vs ``env_steps``, divided by the span.

    In the units of the score (return, or success rate), so that it can share a table with final scores.
    A curve with one evaluation (or no span) returns that score.
    """
    x = np.asarray(env_steps, dtype=float)
    y = np.asarray(scores, dtype=float)
    order = np.argsort(x, kind="stable")
    x, y = x[order], y[order]
    span = x[-1] - x[0] if x.size else 0.0
    if x.size == 0:
        return float("nan")
    if span <= 0:
        return float(y.mean())
    return float(np.sum((y[1:] + y[:-1]) * np.diff(x)) / 2.0 / span)


def auc_scores(curves: pd.DataFrame) -> pd.DataFrame:
    """Area under each run's learning curve: columns ``suite, method, seed, env_steps, score, metric``."""
    rows = []
    for key, g in curves.groupby(RUN_KEYS, sort=True):
        suite, method, seed = key
        rows.append({"suite": suite, "method": method, "seed": seed, "env_steps": g["env_steps"].max(),
                     "score": area_under_curve(g["env_steps"].to_numpy(), g["score"].to_numpy()),
                     "metric": g["metric"].iloc[0]})
    return pd.DataFrame(rows, columns=[*RUN_KEYS, "env_steps", "score", "metric"])


def run_scores(evals: pd.DataFrame, kind: str = "final", k: EpisodeSpec = "final") -> pd.DataFrame:
    """One score per run: ``kind="final"`` (last evaluation) or ``"auc"`` (mean over training)."""
    curves = run_curves(evals, k)
    if kind == "final":
        return final_scores(curves)
    if kind == "auc":
        return auc_scores(curves)
    raise ValueError(f"score kind must be 'final' or 'auc', got {kind!r}")


# ------------------------------------------------------------------------------------------ normalizing


def reference_scores(
    scores: pd.DataFrame, lower: str = LOWER_REFERENCE, upper: str = UPPER_REFERENCE
) -> dict[str, tuple[float, float]]:
    """``{suite: (lower mean, upper mean)}`` for suites where the references define a scale.

    The reference value is the mean score over the reference method's runs (seeds) on that suite. Suites
    are left out (see :func:`reference_problems`) where either reference has no run, or where the upper
    reference does not score above the lower one (e.g. an undertrained oracle): normalizing there would
    invert or blow up the scale.
    """
    means = scores.groupby(["suite", "method"])["score"].mean()
    out = {}
    for suite in scores["suite"].unique():
        if (suite, lower) in means.index and (suite, upper) in means.index:
            lo, hi = float(means[(suite, lower)]), float(means[(suite, upper)])
            if np.isfinite(lo) and np.isfinite(hi) and hi > lo:
                out[str(suite)] = (lo, hi)
    return out


def reference_problems(
    scores: pd.DataFrame, lower: str = LOWER_REFERENCE, upper: str = UPPER_REFERENCE
) -> dict[str, str]:
    """``{suite: reason}`` for every suite that :func:`reference_scores` cannot normalize."""
    refs = reference_scores(scores, lower, upper)
    out = {}
    for suite in sorted(set(scores["suite"]) - set(refs)):
        have = set(scores.loc[scores["suite"] == suite, "method"])
        missing = [m for m in (lower, upper) if m not in have]
        out[str(suite)] = (f"no {' or '.join(missing)} runs" if missing
                           else f"{upper} does not score above {lower}")
    return out


def normalize(
    scores: pd.DataFrame, references: dict[str, tuple[float, float]] | None = None,
    lower: str = LOWER_REFERENCE, upper: str = UPPER_REFERENCE,
) -> pd.DataFrame:
    """Scores mapped per suite so that the lower reference scores 0 and the upper reference 1.

    ``(score - lower) / (upper - lower)`` with the references of :func:`reference_scores`; suites without
    both references are dropped (say so to the reader: see ``reference_scores``).
    """
    refs = reference_scores(scores, lower, upper) if references is None else references
    df = scores[scores["suite"].isin(list(refs))].copy()
    lo = df["suite"].map(lambda s: refs[s][0]).astype(float)
    hi = df["suite"].map(lambda s: refs[s][1]).astype(float)
    df["score"] = (df["score"].astype(float) - lo) / (hi - lo)
    return df.reset_index(drop=True)


def random_normalized(score: float, random_score: float) -> float:
    """``(score - random_score) / |random_score|``: a score on a scale where a random policy is 0 and the
    unit is the random policy's own magnitude (return suites when only a random reference exists, as in
    multi-suite sweeps; with both references use :func:`normalize`)."""
    return (score - random_score) / max(abs(random_score), 1e-8)


# -------------------------------------------------------------------------------------- score matrices


def score_dict(
    scores: pd.DataFrame, suites: Sequence[str] | None = None, methods: Iterable[str] | None = None
) -> dict[str, np.ndarray]:
    """``{method: array[runs, suites]}`` from per-run scores (runs = the method's seeds, sorted).

    A cell is NaN where that seed of the method has no score on that suite (failed or missing run).
    """
    suites = list(suites) if suites is not None else sorted(scores["suite"].unique())
    methods = list(methods) if methods is not None else sorted(scores["method"].unique())
    out = {}
    for m in methods:
        sub = scores[scores["method"] == m]
        table = sub.pivot_table(index="seed", columns="suite", values="score", aggfunc="mean")
        out[m] = table.reindex(columns=suites).to_numpy(dtype=float)
    return out


def success_rates(
    scores: pd.DataFrame, rng: np.random.Generator, reps: int = 2000, confidence: float = 0.95
) -> pd.DataFrame:
    """Success rate per (suite, method) on ``success`` suites: mean over seeds of the per-run rate, with CI.

    ``scores`` are per-run scores (:func:`run_scores`); the per-run rate is the fraction of test tasks
    whose selected episode succeeded at any step. Columns ``suite, method, point, lo, hi, n_runs``.
    """
    rows = []
    sub = scores[scores["metric"] == "success"]
    for (suite, method), g in sub.groupby(["suite", "method"], sort=True):
        est: Estimate = interval_estimate(g["score"].to_numpy(), mean, rng, reps, confidence)
        rows.append({"suite": suite, "method": method, "point": est.point, "lo": est.lo, "hi": est.hi,
                     "n_runs": est.n_runs})
    return pd.DataFrame(rows, columns=["suite", "method", "point", "lo", "hi", "n_runs"])
