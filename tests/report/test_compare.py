"""``harness compare`` on the committed results fixture, and the fixture itself."""

from __future__ import annotations

import io
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pandas as pd
import pytest

from harness.analysis.results import load_results
from harness.cli import main
from tests.fixtures import make_results_fixture

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "results"


def run_cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(list(argv))
    return code, out.getvalue(), err.getvalue()


def test_fixture_is_small_and_reproducible(tmp_path: Path) -> None:
    size = sum(p.stat().st_size for p in FIXTURE.rglob("*") if p.is_file())
    assert size < 1_000_000
    fresh = load_results(make_results_fixture.main(tmp_path / "results"))
    committed = load_results(FIXTURE)
    assert [(r.suite, r.method, r.seed, r.status, r.problems) for r in fresh.runs] == [
        (r.suite, r.method, r.seed, r.status, r.problems) for r in committed.runs
    ]
    pd.testing.assert_frame_equal(fresh.evals, committed.evals)


def test_fixture_health_lists_the_broken_runs() -> None:
    res = load_results(FIXTURE)
    bad = {(r.suite, r.method, r.seed): r.status for r in res.runs if not r.ok}
    assert bad == {
        ("ml1-reach-v2", "moss", 2): "failed",
        ("ml1-reach-v2", "sac-oracle", 2): "incomplete",
        ("point-goal", "sac-mt", 1): "finished",
    }
    assert len(res.usable) == 33


def test_compare_markdown_marks_best_and_writes_every_format(tmp_path: Path) -> None:
    code, out, err = run_cli("compare", str(FIXTURE), "-o", str(tmp_path), "--reps", "300")
    assert code == 0
    lines = {line.split("|")[1].strip(): line for line in out.splitlines() if line.startswith("| ")}
    header = [c.strip() for c in lines["method"].split("|")[2:-1]]
    assert header == ["ml1-reach-v2", "point-goal", "point-goal-nonstat"]
    assert lines["moss"].count("**") == 2 * 3  # moss is best on every suite (the oracle is not eligible)
    assert "**" not in lines["sac-oracle"] and "**" not in lines["random"]
    assert "(n=2)" in lines["moss"]  # the failed seed is left out and the count says so
    assert "skipped ml1-reach-v2/moss/seed=2 (failed)" in err
    assert "eval.parquet corrupt" in err
    stem = "compare-final-k_final"
    assert (tmp_path / f"{stem}.md").read_text() == out
    tex = (tmp_path / f"{stem}.tex").read_text()
    assert tex.count(r"\textbf{") == 3 and r"\begin{tabular}{lccc}" in tex
    csv = pd.read_csv(tmp_path / f"{stem}.csv")
    assert len(csv) == 12 and set(csv[csv["best"]]["method"]) == {"moss"}
    point_goal = csv[(csv["column"] == "point-goal")].set_index("method")
    assert (
        point_goal.loc["random", "point"]
        < point_goal.loc["sac-mt", "point"]
        < point_goal.loc["moss", "point"]
    )
    assert (csv["lo"] <= csv["point"] + 1e-9).all() and (csv["point"] <= csv["hi"] + 1e-9).all()


@pytest.mark.parametrize("fmt", ["latex", "csv"])
def test_compare_normalized_auc_zero_shot(tmp_path: Path, fmt: str) -> None:
    code, out, _ = run_cli(
        "compare",
        str(FIXTURE),
        "-o",
        str(tmp_path),
        "--normalize",
        "--metric",
        "auc",
        "--k",
        "zero-shot",
        "--format",
        fmt,
        "--reps",
        "200",
    )
    assert code == 0
    stem = tmp_path / "compare-auc-k_zero-shot-normalized"
    csv = pd.read_csv(f"{stem}.csv")
    assert "all suites" in set(csv["column"])
    norm = csv.set_index(["column", "method"])["point"]
    assert norm[("point-goal", "random")] == pytest.approx(0.0, abs=1e-9)
    assert norm[("point-goal", "sac-oracle")] == pytest.approx(1.0, abs=1e-9)
    assert out == Path(f"{stem}.{'tex' if fmt == 'latex' else 'csv'}").read_text()


def test_compare_without_usable_runs_fails_cleanly(tmp_path: Path) -> None:
    (tmp_path / "s" / "m" / "seed=0").mkdir(parents=True)
    code, _, err = run_cli("compare", str(tmp_path))
    assert code == 1 and "no usable runs" in err
    code, _, err = run_cli("compare", str(tmp_path / "nope"))
    assert code == 2 and "does not exist" in err
