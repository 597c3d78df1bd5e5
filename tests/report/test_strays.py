"""Readers accept only canonical run folders (``seed=<k>`` whose config.yaml names the same suite, method
and seed); the rest are named as strays and never pooled into a number."""

from __future__ import annotations

import shutil
from pathlib import Path

from harness import store
from harness.analysis.results import load_results
from tests.report.test_compare import FIXTURE, run_cli


def hostile_tree(tmp_path: Path) -> Path:
    root = tmp_path / "exp"
    shutil.copytree(FIXTURE / "point-goal", root / "point-goal")
    runs = root / "point-goal"
    shutil.copytree(runs / "moss" / "seed=1", runs / "moss" / "seed=01")  # the same run twice
    shutil.copytree(runs / "moss" / "seed=1", runs / "moss" / "seed=abc")
    shutil.copytree(runs / "moss" / "seed=2", runs / "random" / "seed=9")  # a moss run in random's folder
    config = store.read_yaml_file(runs / "random" / "seed=9" / store.CONFIG_FILE) or {}
    store.write_yaml(runs / "random" / "seed=9" / store.CONFIG_FILE, {**config, "seed": 9})
    (runs / "moss" / "seed=7").mkdir()  # empty
    (runs / "moss" / "seed=4294967296").mkdir()
    return root


def test_stray_folders_are_named_and_never_pooled(tmp_path: Path) -> None:
    root = hostile_tree(tmp_path)
    clean = load_results(FIXTURE)
    res = load_results(root)
    assert res.seeds == [0, 1, 2]
    assert res.missing() == []  # the empty seed=7 adds no rows
    assert sorted((r.method, r.seed) for r in res.runs) == sorted(
        (r.method, r.seed) for r in clean.runs if r.suite == "point-goal"
    )
    reasons = {s.path.name: s.reason for s in res.strays}
    assert set(reasons) == {"seed=01", "seed=abc", "seed=9", "seed=7", "seed=4294967296"}
    assert "not seed=<non-negative integer>" in reasons["seed=01"] and "not seed=" in reasons["seed=abc"]
    assert "method 'moss', not 'random'" in reasons["seed=9"]
    assert "no readable config.yaml" in reasons["seed=7"]
    assert "out of range" in reasons["seed=4294967296"]
    assert [s.path.name for s in store.scan_tree(root)[1]] == [s.path.name for s in res.strays]

    code, out, err = run_cli("compare", str(root), "-o", str(tmp_path / "tables"), "--reps", "200")
    assert code == 0
    moss = next(line for line in out.splitlines() if line.startswith("| moss"))
    assert "(n=" not in moss  # all three canonical seeds usable: no count note, nothing pooled in
    assert f"skipped stray folder {root / 'point-goal' / 'moss' / 'seed=01'}" in err
