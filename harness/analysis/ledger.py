"""The reproduction ledger: published numbers beside ours, with both budgets and a verdict per row.

``published.yaml`` (next to this module) lists numbers from the papers, each with its source (paper, table or
figure), budget, evaluation protocol and k. :func:`ledger_rows` matches them with the cells of a
:class:`harness.analysis.table.Comparison` (same suite and method) and says in plain words how they relate:

* ``consistent``: the published number lies inside our confidence interval;
* ``below`` / ``above``: our interval lies entirely below / above it;
* ``budgets not comparable``: we trained on less than :data:`COMPARABLE_FRACTION` of the published budget,
  so a gap says nothing about the method (the numbers are still shown);
* ``not run``: no run of ours on that suite and method.

Where the source gives no budget for a number (``budget: null``), the first three verdicts get
:data:`UNKNOWN_BUDGET` appended: the numbers are compared, but nothing says the budgets were alike.

Success rates are compared in percent (our scores are rates in [0, 1]).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

#: The ledger shipped with the harness.
LEDGER_FILE = Path(__file__).with_name("published.yaml")
#: Our budget must be at least this fraction of the published one for a verdict on the numbers.
COMPARABLE_FRACTION = 0.5
#: Appended to a verdict on the numbers when the published budget is unknown.
UNKNOWN_BUDGET = " (published budget unknown)"
#: Columns of :func:`ledger_rows`.
LEDGER_COLUMNS = ["suite", "method", "metric", "published", "approx", "k_published", "budget_published",
                  "ours", "lo", "hi", "n_runs", "budget_ours", "verdict", "source", "protocol"]
METRICS = ("success", "return")


class LedgerError(ValueError):
    """The ledger file is malformed (the message names the entry and field)."""


@dataclass(frozen=True)
class PublishedNumber:
    """One published number.

    Attributes:
        suite, method: harness names (a method the harness lacks, e.g. ``maml``, is listed for context).
        metric: ``success`` (percent) or ``return``.
        value: the number; ``approx``: read off a figure rather than printed.
        k: the episode of the trial it is for (``"1"`` = zero-shot, ``"1-2"`` ranges allowed).
        budget: training env steps behind it, None when the source does not say.
        source: paper, table or figure; ``protocol``: how it was evaluated.
    """

    suite: str
    method: str
    metric: str
    value: float
    k: str
    budget: int | None
    source: str
    protocol: str
    approx: bool = False


def _entry(raw: Any, i: int) -> PublishedNumber:
    where = f"ledger entry {i}"
    if not isinstance(raw, Mapping):
        raise LedgerError(f"{where}: expected a mapping, got {type(raw).__name__}")
    missing = [f for f in ("suite", "method", "metric", "value", "k", "budget", "source", "protocol")
               if f not in raw]
    if missing:
        raise LedgerError(f"{where}: missing field(s) {', '.join(missing)}")
    if raw["metric"] not in METRICS:
        raise LedgerError(f"{where}: metric {raw['metric']!r} is not one of {', '.join(METRICS)}")
    value = float(raw["value"])
    if not math.isfinite(value):
        raise LedgerError(f"{where}: value {raw['value']!r} is not a finite number")
    budget = raw["budget"]
    if budget is not None and (not isinstance(budget, int) or budget < 1):
        raise LedgerError(f"{where}: budget must be a positive integer or null, got {budget!r}")
    return PublishedNumber(suite=str(raw["suite"]), method=str(raw["method"]), metric=str(raw["metric"]),
                           value=value, k=str(raw["k"]), budget=budget, source=str(raw["source"]),
                           protocol=str(raw["protocol"]), approx=bool(raw.get("approx", False)))


def load_ledger(path: Path | str | None = None) -> list[PublishedNumber]:
    """Read and check a ledger file (default: the one shipped with the harness)."""
    file = LEDGER_FILE if path is None else Path(path)
    data = yaml.safe_load(file.read_text(encoding="utf-8"))
    if not isinstance(data, Mapping) or not isinstance(data.get("entries"), list):
        raise LedgerError(f"{file}: expected a mapping with an 'entries' list")
    return [_entry(raw, i) for i, raw in enumerate(data["entries"])]


def verdict(
    published: float, lo: float, hi: float, budget_published: int | None, budget_ours: int | None
) -> str:
    """Plain-words relation of our interval ``[lo, hi]`` to a published number (see the module docstring)."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return "not run"
    if budget_published is not None and (budget_ours is None
                                         or budget_ours < COMPARABLE_FRACTION * budget_published):
        return "budgets not comparable"
    word = "below" if hi < published else "above" if lo > published else "consistent"
    return word + UNKNOWN_BUDGET if budget_published is None else word


def ledger_rows(
    entries: list[PublishedNumber],
    cells: pd.DataFrame | None,
    budgets: Mapping[tuple[str, str], int],
    only_ours: bool = False,
) -> pd.DataFrame:
    """Published numbers beside our estimates.

    Args:
        entries: the ledger (:func:`load_ledger`).
        cells: a comparison's cells (``method, column, point, lo, hi, n_runs``; ``column`` = suite), raw
            (not normalized) scores; None when there are no runs.
        budgets: ``(suite, method) -> env steps`` of our runs (their ``config.yaml`` budget).
        only_ours: keep only the rows of suites and methods we ran.

    Returns:
        One row per entry, columns :data:`LEDGER_COLUMNS` (``ours``/``lo``/``hi`` NaN where we have no run;
        success rates in percent).
    """
    index = {} if cells is None else {(str(r.column), str(r.method)): r for r in cells.itertuples()}
    rows = []
    for e in entries:
        cell = index.get((e.suite, e.method))
        scale = 100.0 if e.metric == "success" else 1.0
        ours = lo = hi = math.nan
        n_runs = 0
        if cell is not None:
            ours, lo, hi = (float(getattr(cell, f)) * scale for f in ("point", "lo", "hi"))
            n_runs = int(cell.n_runs)
        elif only_ours:
            continue
        budget_ours = budgets.get((e.suite, e.method))
        rows.append({
            "suite": e.suite, "method": e.method, "metric": e.metric, "published": e.value,
            "approx": e.approx, "k_published": e.k, "budget_published": e.budget, "ours": ours, "lo": lo,
            "hi": hi, "n_runs": n_runs, "budget_ours": budget_ours,
            "verdict": verdict(e.value, lo, hi, e.budget, budget_ours), "source": e.source,
            "protocol": e.protocol,
        })
    return pd.DataFrame(rows, columns=LEDGER_COLUMNS)


def ledger_markdown(rows: pd.DataFrame) -> str:
    """The ledger rows as a Markdown table (numbers, budgets, verdict; sources as footnote numbers)."""
    sources = list(dict.fromkeys(rows["source"]))
    lines = ["| suite | method | published | k | budget (published) | ours [95% CI] | n | budget (ours) | "
             "verdict | src |", "|---|---|---|---|---|---|---|---|---|---|"]

    def budget(b: Any) -> str:
        return "?" if b is None or b != b else f"{int(b):,}"

    for r in rows.itertuples():
        pub = f"{'~' if r.approx else ''}{r.published:g}{'%' if r.metric == 'success' else ''}"
        ours = "-" if math.isnan(r.ours) else f"{r.ours:.3g} [{r.lo:.3g}, {r.hi:.3g}]"
        lines.append(f"| {r.suite} | {r.method} | {pub} | {r.k_published} | {budget(r.budget_published)} | "
                     f"{ours} | {r.n_runs} | {budget(r.budget_ours)} | {r.verdict} | "
                     f"{sources.index(r.source) + 1} |")
    lines.append("")
    lines += [f"{i + 1}. {s}" for i, s in enumerate(sources)]
    return "\n".join(lines)


def run_budgets(configs: Mapping[tuple[str, str], Mapping[str, Any]]) -> dict[tuple[str, str], int]:
    """``(suite, method) -> budget`` (env steps) from runs' ``config.yaml`` mappings (``Results.configs``)."""
    out: dict[tuple[str, str], int] = {}
    for key, cfg in configs.items():
        budget = cfg.get("budget")
        if isinstance(budget, int):
            out[key] = budget
    return out
