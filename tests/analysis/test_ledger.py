"""The reproduction ledger: the shipped file parses, rows match our cells, verdicts follow the rule."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest

from harness.analysis.ledger import (
    LedgerError,
    PublishedNumber,
    ledger_markdown,
    ledger_rows,
    load_ledger,
    verdict,
)
from harness.registry import list_suites


def test_shipped_ledger_parses_and_names_known_suites() -> None:
    entries = load_ledger()
    # The MoSS paper's ML1 table: 5 methods x 3 tasks x 2 reward versions, less VariBAD's V2 row.
    assert len(entries) >= 27
    suites = {s.name for s in list_suites()}
    assert {e.suite for e in entries} <= suites
    moss_v2 = {e.suite: e.value for e in entries if e.method == "moss" and e.suite.endswith("-v2")}
    assert moss_v2 == {"ml1-reach-v2": 86, "ml1-push-v2": 100, "ml1-pick-place-v2": 100}
    assert all(e.source and e.protocol for e in entries)


@pytest.mark.parametrize(("pub", "lo", "hi", "bp", "bo", "want"), [
    (80.0, 70.0, 90.0, 1000, 1000, "consistent"),
    (95.0, 70.0, 90.0, 1000, 1000, "below"),
    (50.0, 70.0, 90.0, 1000, 1000, "above"),
    (50.0, 70.0, 90.0, None, 1000, "above (published budget unknown)"),
    (95.0, 70.0, 90.0, None, 200_000, "below (published budget unknown)"),
    (80.0, 70.0, 90.0, 1_000_000, 200_000, "budgets not comparable"),
    (80.0, math.nan, math.nan, None, None, "not run"),
])
def test_verdict_rule(pub: float, lo: float, hi: float, bp: int | None, bo: int | None, want: str) -> None:
    assert verdict(pub, lo, hi, bp, bo) == want


def test_rows_match_cells_and_scale_success_to_percent() -> None:
    entries = [PublishedNumber("ml1-reach-v2", "moss", "success", 86, "1", None, "paper T2", "success"),
               PublishedNumber("ml1-push-v2", "moss", "success", 100, "1", None, "paper T2", "success")]
    cells = pd.DataFrame([{"method": "moss", "column": "ml1-reach-v2", "point": 0.8, "lo": 0.7, "hi": 0.9,
                           "n_runs": 2}])
    rows = ledger_rows(entries, cells, {("ml1-reach-v2", "moss"): 200_000})
    assert list(rows.verdict) == ["consistent (published budget unknown)", "not run"]
    assert rows.ours.iloc[0] == pytest.approx(80.0) and rows.budget_ours.iloc[0] == 200_000
    assert len(ledger_rows(entries, cells, {}, only_ours=True)) == 1
    text = ledger_markdown(rows)
    row = "| 80 [70, 90] | 2 | 200,000 | consistent (published budget unknown) | 1 |"
    assert "| ml1-reach-v2 | moss | 86% | 1 | ? " + row in text
    assert "1. paper T2" in text


def test_malformed_ledger_names_the_entry(tmp_path: Path) -> None:
    bad = tmp_path / "l.yaml"
    bad.write_text("entries:\n  - {suite: a, method: b, metric: speed, value: 1, k: '1', budget: null,"
                   " source: s, protocol: p}\n")
    with pytest.raises(LedgerError, match="entry 0: metric 'speed'"):
        load_ledger(bad)
