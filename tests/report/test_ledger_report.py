"""The reproduction ledger in the report: published numbers beside the fixture's runs, in Chromium."""

from __future__ import annotations

from pathlib import Path

from tests.report.test_compare import FIXTURE, run_cli
from tests.report.test_report import build_report, chromium, needs_chromium, rendered_state


def test_report_has_the_ledger_section_with_published_numbers(tmp_path: Path) -> None:
    _, html = build_report(tmp_path)
    start = html.rindex("Reproduction ledger")
    section = html[start:start + 20_000]
    # The fixture has ml1-reach-v2 runs: the MoSS paper's 86% (V2) is listed with its source and budget.
    assert "<td>ml1-reach-v2</td><td>moss</td><td>86%</td><td>1</td><td>60,064,000</td>" in section
    assert "MoSS (Wang, Bing et al., AAAI 2023" in section
    assert any(v in section for v in ("budgets not comparable", "not run"))


@needs_chromium
def test_ledger_renders_in_headless_chromium(tmp_path: Path) -> None:
    path, _ = build_report(tmp_path)
    attrs = rendered_state(path, tmp_path)
    assert attrs.get("data-errors") == "[]", attrs
    dom = chromium("--dump-dom", path.as_uri(), tmp=tmp_path).stdout
    assert "Reproduction ledger" in dom and "<td>86%</td>" in dom



def test_compare_ledger_prints_the_same_rows(tmp_path: Path) -> None:
    code, out, err = run_cli("compare", str(FIXTURE), "--ledger", "-o", str(tmp_path), "--reps", "200")
    assert code == 0, err
    assert "Reproduction ledger" in out
    assert "| ml1-reach-v2 | moss | 86% | 1 | 60,064,000 |" in out and "budgets not comparable" in out
    assert (tmp_path / "ledger.md").read_text(encoding="utf-8") in out
