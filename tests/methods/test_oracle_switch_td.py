"""``scripts/oracle_switch_td.py``: the TD error of a task-seeing SAC run split by task switches."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch

from tests.helpers import ROOT, load_script


def test_switch_split_on_a_nonstationary_toy_run(tmp_path: Path) -> None:
    run = subprocess.run([sys.executable, "-m", "harness", "run", "--suite", "point-goal-nonstat", "--method",
                          "sac-oracle,sac-mt", "--seeds", "0", "--profile", "smoke", "--out", str(tmp_path),
                          "--set", "sac-oracle.bootstrap_task=next"],
                         capture_output=True, text=True, check=False, cwd=ROOT)
    assert run.returncode == 0, run.stderr
    mod = load_script("oracle_switch_td")
    from harness.trained import load_run

    loaded = load_run(tmp_path / "point-goal-nonstat" / "sac-oracle" / "seed=0", device="cpu")
    r = mod.switch_td_error(loaded.method, loaded.suite.spec.obs_dim, samples=200)
    assert r.samples == 200 and 0.0 < r.switch_share < 0.5  # ``next`` stores the switches
    assert 0.0 <= r.loss_share_switch <= 1.0 and r.mse_other >= 0.0
    assert mod.main([str(tmp_path / "point-goal-nonstat" / "sac-oracle" / "seed=0"), "--samples", "200"]) == 0
    assert mod.main([str(tmp_path / "point-goal-nonstat" / "sac-mt" / "seed=0")]) == 2
    with pytest.raises(SystemExit):
        mod.main([])


def test_default_oracle_stores_no_switch(tmp_path: Path) -> None:
    """``bootstrap_task: current`` (the default): no stored transition changes task, so no switch TD error."""
    run = subprocess.run([sys.executable, "-m", "harness", "run", "--suite", "point-goal-nonstat", "--method",
                          "sac-oracle", "--seeds", "0", "--profile", "smoke", "--out", str(tmp_path)],
                         capture_output=True, text=True, check=False, cwd=ROOT)
    assert run.returncode == 0, run.stderr
    from harness.trained import load_run

    loaded = load_run(tmp_path / "point-goal-nonstat" / "sac-oracle" / "seed=0", device="cpu")
    assert loaded.method.config.bootstrap_task == "current"
    batch = loaded.method.replay.sample(2000)
    obs_dim = loaded.suite.spec.obs_dim
    assert torch.equal(batch.obs[:, obs_dim:], batch.next_obs[:, obs_dim:])
