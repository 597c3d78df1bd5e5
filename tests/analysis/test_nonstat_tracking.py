"""``scripts/nonstat_tracking.py``: tracking figures of non-stationary runs from their traces alone."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import numpy as np
import pandas as pd
import pytest

from tests.helpers import load_script


def _script() -> ModuleType:
    return load_script("nonstat_tracking")


def _traces(achieved: np.ndarray, target: np.ndarray) -> pd.DataFrame:
    """Trace rows of ``[N, T]`` episodes (one per task)."""
    n, t = target.shape
    return pd.DataFrame({
        "task_id": np.repeat(np.arange(n), t), "episode": 0, "t": np.tile(np.arange(t), n),
        "reward": -np.abs(achieved - target).ravel(),
        "true_task": [[float(x)] for x in target.ravel()], "base_id": 0,
        "achieved": [[float(x)] for x in achieved.ravel()],
    })


def _targets() -> np.ndarray:
    """Four 300-step episodes; the target drops at 100 and rises at 200 on two, the reverse on the others."""
    target = np.empty((4, 300))
    for i, (a, b, c) in enumerate([(2.0, 0.5, 2.5), (2.5, 1.0, 2.0), (0.5, 2.0, 1.0), (1.0, 2.5, 0.5)]):
        target[i, :100], target[i, 100:200], target[i, 200:] = a, b, c
    return target


def test_a_tracker_scores_one_and_a_constant_runner_zero() -> None:
    mod = _script()
    target = _targets()
    perfect = mod.tracking(_traces(target.copy(), target))
    assert perfect["slope"] == pytest.approx(1.0) and perfect["mae"] == pytest.approx(0.0)
    assert perfect["return"] == pytest.approx(0.0)
    for key in ("drop_20-64", "drop_64-100", "rise_64-100"):
        assert perfect[key] == pytest.approx(0.0)
    assert perfect["drop_progress_10"] == pytest.approx(1.0)
    assert perfect["rise_progress_30"] == pytest.approx(1.0)
    # Follows a rise only: after a drop it keeps the old speed (the MoSS failure on cheetah-vel-nonstat).
    lagging = target.copy()
    since_drop = np.zeros_like(target, dtype=bool)
    for i in range(4):
        for start in (100, 200):
            if target[i, start] < target[i, start - 1]:
                lagging[i, start: start + 100] = target[i, start - 1]
                since_drop[i, start: start + 100] = True
    lag = mod.tracking(_traces(lagging, target))
    assert lag["drop_20-64"] == pytest.approx(float((lagging - target)[since_drop].mean()))
    assert lag["drop_20-64"] > 1.0 and lag["rise_20-64"] == pytest.approx(0.0)
    assert lag["drop_progress_30"] == pytest.approx(0.0) and lag["rise_progress_30"] == pytest.approx(1.0)
    constant = mod.tracking(_traces(np.full_like(target, 1.5), target))
    assert constant["slope"] == pytest.approx(0.0, abs=1e-9)
    table = mod.markdown({"run": perfect})
    assert "| run | 0 | 1.00 | 0.00 |" in table


def test_cli_skips_runs_without_achieved(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    mod = _script()
    target = _targets()
    good, bad = tmp_path / "good", tmp_path / "bad"
    good.mkdir()
    bad.mkdir()
    _traces(target, target).to_parquet(good / "traces.parquet")
    _traces(target, target).drop(columns="achieved").to_parquet(bad / "traces.parquet")
    assert mod.main([str(good)]) == 0
    assert mod.main([str(good), str(bad), str(tmp_path / "missing")]) == 0  # the readable one is printed
    out = capsys.readouterr()
    assert str(good) in out.out and "skipped" in out.err and "no achieved quantity" in out.err
    assert "2 of 3 runs skipped" in out.err
    assert mod.main([str(bad), str(tmp_path / "missing")]) == 2  # nothing to print
    assert capsys.readouterr().out == ""
