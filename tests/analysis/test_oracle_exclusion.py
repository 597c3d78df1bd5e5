"""Methods that see the true task (the oracle, and sweep trials of it) are never marked best."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd

from harness.analysis.results import Results
from harness.store import RunRecord


def results_with(methods: list[str]) -> Results:
    runs = [RunRecord(Path(m), "x", "point-goal", m, 0, "finished") for m in methods]
    return Results(Path("x"), runs, pd.DataFrame(), pd.DataFrame(), pd.DataFrame())


def test_task_seeing_methods_come_from_the_registry() -> None:
    r = results_with(["sac-oracle", "sac-oracle@trial-3", "sac-mt", "moss@trial-0", "someones-plugin"])
    assert sorted(r.task_seeing_methods) == ["sac-oracle", "sac-oracle@trial-3"]


def test_task_seeing_methods_come_from_the_run_configs_without_the_registry() -> None:
    """``sees_task`` in ``config.yaml`` decides (plugin methods too); runs written before the key fall back
    to the built-in oracle's name; the analysis layer never imports the method registry."""
    runs = [
        RunRecord(Path("a"), "x", "point-goal", "plugin-oracle", 0, "finished", config={"sees_task": True}),
        RunRecord(Path("b"), "x", "point-goal", "sac-mt", 0, "finished", config={"sees_task": False}),
        RunRecord(Path("c"), "x", "point-goal", "sac-oracle", 0, "finished", config={"sees_task": True}),
        RunRecord(Path("d"), "x", "point-goal", "sac-oracle@trial-1", 0, "finished", config={"seed": 0}),
    ]
    r = Results(Path("x"), runs, pd.DataFrame(), pd.DataFrame(), pd.DataFrame())
    assert sorted(r.task_seeing_methods) == ["plugin-oracle", "sac-oracle", "sac-oracle@trial-1"]
    code = ("import sys, harness.analysis, harness.analysis.table, harness.report.sections; "
            "print(sorted(m for m in sys.modules if m.startswith(('harness.registry', 'methods', 'torch'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
