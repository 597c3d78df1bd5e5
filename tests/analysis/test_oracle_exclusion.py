"""Methods that see the true task (the oracle, and sweep trials of it) are never marked best."""

from __future__ import annotations

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
