"""docs/extending.md stays true: its code is the fixture package, which runs via --plugin and entry points."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from harness import store
from harness.cli import main

ROOT = Path(__file__).resolve().parents[2]
PKG = ROOT / "tests" / "fixtures" / "ext_pkg"
DOC = ROOT / "docs" / "extending.md"


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
