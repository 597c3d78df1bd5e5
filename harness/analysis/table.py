"""The methods x suites comparison: one estimate with CI per cell, the best cell of each column marked."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from harness.analysis.scores import (
    LOWER_REFERENCE,
    UPPER_REFERENCE,
    EpisodeSpec,
    normalize,
    reference_problems,
    reference_scores,
    run_scores,
    score_dict,
)
from harness.analysis.stats import AGGREGATES, DEFAULT_REPS, interval_estimate

#: Name of the aggregate column (over suites) of a comparison.
AGGREGATE_COLUMN = "all suites"
TABLE_COLUMNS = ["method", "column", "point", "lo", "hi", "n_runs", "best", "metric"]


@dataclass
class Comparison:
    """A methods x suites table of estimates.

    Attributes:
        cells: tidy frame, one row per (method, column): ``method, column, point, lo, hi, n_runs, best,
            metric`` where ``column`` is a suite name or :data:`AGGREGATE_COLUMN` and ``metric`` the
            suite's metric (``return``, ``success`` or ``normalized``).
        methods: row order.
        columns: column order.
        statistic: aggregate over seeds (``IQM`` ...).
        score: ``final`` or ``auc``; ``k``: the scored episode (``final`` / ``zero-shot``).
        normalized: scores are normalized (random = 0, oracle = 1).
        notes: caveats to print under the table (dropped suites, excluded methods, missing runs).
    """

    cells: pd.DataFrame
    methods: list[str]
    columns: list[str]
    statistic: str
    score: str
    k: EpisodeSpec
    normalized: bool
    confidence: float
    notes: list[str] = field(default_factory=list)

    def caption(self) -> str:
        """One sentence describing what the numbers are."""
        what = "score (return, or success rate)"
        if self.normalized:
            what = "normalized score (random = 0, oracle = 1)"
        when = {"final": "at the last evaluation", "auc": "averaged over training (area under the curve)"}[
            self.score]
        episode = "zero-shot (first episode)" if self.k == "zero-shot" else f"episode {self.k} of the trial"
        if self.k == "final":
            episode = "last episode of the evaluation trial"
        return (f"{self.statistic} over seeds of the {what} {when}, {episode}; "
                f"[{self.confidence:.0%} stratified bootstrap CI]. Best per column in bold "
                f"(methods that see the task excluded).")


def compare(
    evals: pd.DataFrame,
    rng: np.random.Generator,
    score: str = "final",
    k: EpisodeSpec = "final",
    normalized: bool = False,
    statistic: str = "IQM",
    reps: int = DEFAULT_REPS,
    confidence: float = 0.95,
    exclude_from_best: Sequence[str] = (UPPER_REFERENCE,),
    lower: str = LOWER_REFERENCE,
    upper: str = UPPER_REFERENCE,
) -> Comparison:
    """Build the comparison of every method on every suite of ``evals``.

    Each cell aggregates one score per seed (``statistic`` over seeds with a bootstrap CI). With
    ``normalized``, suites without both reference methods are dropped (and listed in ``notes``); an
    aggregate column over suites is added when the scores are comparable across suites (normalized, or
    every suite uses the success metric).
    """
    if statistic not in AGGREGATES:
        raise ValueError(f"unknown statistic {statistic!r}; available: {list(AGGREGATES)}")
    func = AGGREGATES[statistic]
    scores = run_scores(evals, score, k)
    notes: list[str] = []
    if normalized:
        refs = reference_scores(scores, lower, upper)
        for suite, reason in reference_problems(scores, lower, upper).items():
            notes.append(f"{suite} left out: cannot normalize ({reason})")
        scores = normalize(scores, refs)
        scores["metric"] = "normalized"
    suites = sorted(scores["suite"].unique())
    methods = sorted(scores["method"].unique())
    metric_of = scores.groupby("suite")["metric"].first().to_dict()
    rows = []
    for suite in suites:
        for method in methods:
            sub = scores[(scores["suite"] == suite) & (scores["method"] == method)]
            est = interval_estimate(sub["score"].to_numpy(), func, rng, reps, confidence)
            rows.append([method, suite, est.point, est.lo, est.hi, est.n_runs, False, metric_of[suite]])
    columns = list(suites)
    if len(suites) > 1 and (normalized or all(metric_of[s] == "success" for s in suites)):
        columns.append(AGGREGATE_COLUMN)
        for method, matrix in score_dict(scores, suites, methods).items():
            est = interval_estimate(matrix, func, rng, reps, confidence)
            rows.append([method, AGGREGATE_COLUMN, est.point, est.lo, est.hi, est.n_runs, False,
                         "normalized" if normalized else "success"])
    cells = pd.DataFrame(rows, columns=TABLE_COLUMNS)
    cells["best"] = _best(cells, exclude_from_best, lower_is_better=statistic == "Optimality gap")
    return Comparison(cells, methods, columns, statistic, score, k, normalized, confidence, notes)


def _best(cells: pd.DataFrame, exclude: Sequence[str], lower_is_better: bool) -> pd.Series:
    """True for the best point estimate of each column (ties all marked), excluded methods never."""
    best = pd.Series(False, index=cells.index)
    eligible = cells[~cells["method"].isin(list(exclude)) & cells["point"].notna()]
    for _, g in eligible.groupby("column"):
        target = g["point"].min() if lower_is_better else g["point"].max()
        best[g.index[np.isclose(g["point"], target, rtol=1e-12, atol=1e-12)]] = True
    return best
