"""docs/extending.md stays true: its code is the fixture package, which runs via --plugin and entry points."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from harness import store
from harness.cli import main

ROOT = Path(__file__).resolve().parents[2]
PKG = ROOT / "tests" / "fixtures" / "ext_pkg"
DOC = ROOT / "docs" / "extending.md"
RESULTS = ROOT / "tests" / "fixtures" / "results"


def test_doc_code_blocks_are_the_fixture_files():
    blocks = re.findall(r"```(\w+)\n(.*?)```", DOC.read_text(), flags=re.DOTALL)
    shown = {}
    for _, code in blocks:
        first = code.splitlines()[0]
        if first.startswith("# tests/fixtures/ext_pkg/"):
            shown[first[2:]] = code
    files = {str(p.relative_to(ROOT)): p for p in PKG.rglob("*") if p.suffix in (".py", ".toml")}
    assert set(shown) == set(files)
    for rel, path in files.items():
        assert shown[rel] == path.read_text(), f"docs/extending.md is out of date for {rel}"


def test_plugin_suite_and_method_run(tmp_path, monkeypatch, capsys):
    monkeypatch.syspath_prepend(str(PKG))
    out = tmp_path / "exp"
    args = ["run", "--plugin", "harness_ext_demo", "--suite", "line-goal", "--method", "hill-climb",
            "--seeds", "0,1", "--profile", "quick", "--budget", "400", "--device", "cpu", "--out", str(out)]
    assert main(args) == 0
    assert "line-goal  hill-climb  1     finished  400/400" in capsys.readouterr().out
    records = store.scan_results(out)
    assert [r.ok for r in records] == [True, True]
    evals = store.load_frames(records)
    assert len(evals) == 2 * 4 * 10 and set(evals["metric"]) == {"return"}  # 2 seeds x 4 tasks x 10 evals
    train = store.load_frames(records, store.TRAIN_FILE)
    assert train.groupby("seed")["best_return"].apply(lambda s: s.is_monotonic_increasing).all()


def test_entry_points_register_without_plugin_flag(tmp_path):
    """Install-like: a dist-info with the pyproject's entry points on the path, no --plugin."""
    tomllib = pytest.importorskip("tomllib")  # Python >= 3.11
    meta = tomllib.loads((PKG / "pyproject.toml").read_text())["project"]
    dist = tmp_path / "site" / f"harness_ext_demo-{meta['version']}.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {meta['name']}\nVersion: {meta['version']}\n"
    )
    lines = []
    for group, eps in meta["entry-points"].items():
        lines += [f"[{group}]", *(f"{k} = {v}" for k, v in eps.items()), ""]
    (dist / "entry_points.txt").write_text("\n".join(lines))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path / "site"), str(PKG), str(ROOT)])}
    out = tmp_path / "exp"
    proc = subprocess.run(
        [sys.executable, "-m", "harness", "run", "--suite", "line-goal", "--method", "hill-climb",
         "--profile", "smoke", "--device", "cpu", "--out", str(out)],
        env=env, capture_output=True, text=True, timeout=180,
    )
    assert proc.returncode == 0, proc.stderr
    evals = pd.read_parquet(store.run_dir(out, "line-goal", "hill-climb", 0) / store.EVAL_FILE)
    assert evals["env_steps"].eq(40).all() and len(evals) == 2  # smoke: 4 x horizon 10, 2 test tasks


def test_doc_metric_golden_values(monkeypatch):
    monkeypatch.syspath_prepend(str(PKG))
    from harness_ext_demo.analysis import worst_suite_mean

    scores = np.array([[0.2, 0.9, np.nan], [0.4, np.nan, np.nan], [np.nan, 0.7, np.nan]])
    assert worst_suite_mean(scores) == pytest.approx(0.3)  # suite means 0.3, 0.8; the empty suite skipped
    assert np.isnan(worst_suite_mean(np.full((2, 2), np.nan)))


def test_doc_report_section_on_the_results_fixture(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(PKG))
    from harness_ext_demo.analysis import worst_suite_section, write_extended_report

    from harness.analysis import load_results
    from harness.report.sections import static_figures

    section = worst_suite_section(load_results(RESULTS), np.random.default_rng(0), reps=200)
    assert section.key == "worst-suite" and "note" not in "".join(b.html for b in section.blocks)
    bars = static_figures([section])["worst-suite"].data[0]
    worst = dict(zip(bars.x, bars.y, strict=True))
    assert list(worst) == ["moss", "random", "sac-mt", "sac-oracle"]
    # The references define the scale: random's mean is 0 and the oracle's 1 on every suite.
    assert worst["random"] == pytest.approx(0.0, abs=1e-9) and worst["sac-oracle"] == pytest.approx(1.0)
    assert 0.0 < worst["moss"] < 1.0 and 0.0 < worst["sac-mt"] < 1.0
    out = write_extended_report(RESULTS, tmp_path / "report.html", reps=200)
    page = out.read_text()
    ids = re.findall(r"<section id='([\w-]+)'>", page)
    assert ids[:2] == ["overview", "worst-suite"] and len(ids) > 2
    assert "Worst suite" in page

