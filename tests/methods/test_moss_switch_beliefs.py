"""``scripts/moss_switch_beliefs.py``: MoSS's belief read-out and behaviour after task switches, by direction."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "moss_switch_beliefs.py"


def _module() -> Any:
    spec = importlib.util.spec_from_file_location("moss_switch_beliefs", SCRIPT)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


def test_a_belief_that_names_the_target_reads_zero_error_and_a_lagging_agent_shows() -> None:
    """Beliefs that are a linear function of the target give a zero read-out error in every phase (the
    read-out is fitted before the first switch only); an agent that keeps the old target after a drop
    shows a positive achieved error after decreases and none after increases."""
    mod = _module()
    rng = np.random.default_rng(0)
    n, t = 8, 60
    first, second = rng.uniform(0, 3, n), rng.uniform(0, 3, n)
    target = np.where(np.arange(t)[None, :] < 30, first[:, None], second[:, None])
    beliefs = np.stack([2 * target + 1, -target, np.ones_like(target)], axis=-1)
    achieved = np.where(target < first[:, None], first[:, None], target)  # never slows down
    coef = mod.fit_readout(beliefs, target, full_window=10)
    table = mod.switch_table(beliefs, target, achieved, coef)
    assert np.allclose(table["readout"], 0.0, atol=1e-8)
    by = table.groupby("phase")["achieved"].mean()
    assert by["after a decrease"] > 0.1 and by["after an increase"] == pytest.approx(0.0)
    assert by["before any switch"] == pytest.approx(0.0)
    with pytest.raises(ValueError, match="no task switch"):
        mod.fit_readout(beliefs[:, :20], target[:, :20], full_window=10)


def test_on_a_nonstationary_toy_run_against_the_oracle(tmp_path: Path) -> None:
    run = subprocess.run([sys.executable, "-m", "harness", "run", "--suite", "point-goal-nonstat", "--method",
                          "moss,sac-oracle", "--seeds", "0", "--profile", "smoke", "--out", str(tmp_path)],
                         capture_output=True, text=True, check=False, cwd=ROOT)
    assert run.returncode == 0, run.stderr
    mod = _module()
    moss = tmp_path / "point-goal-nonstat" / "moss" / "seed=0"
    oracle = tmp_path / "point-goal-nonstat" / "sac-oracle" / "seed=0"
    table = mod.measure(moss, oracle, None, "cpu")
    assert {"after an increase", "after a decrease"} <= set(table["phase"])
    assert np.isfinite(table["readout"]).all() and np.isfinite(table["readout_against"]).all()
    assert table["achieved"].isna().all()  # the point suite defines no achieved quantity
    out = tmp_path / "t.json"
    assert mod.main([str(moss), "--against", str(oracle), "--json", str(out)]) == 0 and out.stat().st_size > 0
    assert mod.main([str(oracle)]) == 2  # not a MoSS run
    assert mod.main([str(tmp_path / "missing")]) == 2
