"""``scripts/moss_switch_beliefs.py``: MoSS's belief and behaviour after task switches, by direction."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.helpers import ROOT, load_script


def _module() -> Any:
    return load_script("moss_switch_beliefs")


def test_probes_read_a_belief_that_names_the_target_and_a_lagging_agent_shows() -> None:
    """Beliefs and transitions that carry the target are read by both probes within a small error after
    either kind of switch; an agent that keeps the old target after a drop shows a positive achieved error
    after decreases and none after increases; an uninformative belief reads as the mean target."""
    mod = _module()
    rng = np.random.default_rng(0)
    n, t = 40, 60
    first, second = rng.uniform(0, 3, n), rng.uniform(0, 3, n)
    target = np.where(np.arange(t)[None, :] < 30, first[:, None], second[:, None])
    beliefs = np.stack([np.sin(target), np.cos(target), 0.1 * rng.normal(size=target.shape)], axis=-1)
    features = np.stack([target, rng.normal(size=target.shape)], axis=-1)  # a transition shows the target
    achieved = np.where(target < first[:, None], first[:, None], target)  # never slows down
    ep = mod.Episodes(beliefs, features, target, achieved)
    probes = mod.fit_probes(ep, window=5, steps=300, seed=0)
    table = mod.switch_table(ep, probes)
    assert (table["belief"].abs() < 0.15).all() and (table["window"].abs() < 0.15).all(), table
    by = table.groupby("phase")["achieved"].mean()
    assert by["after a decrease"] > 0.1 and by["after an increase"] == pytest.approx(0.0)
    assert by["before any switch"] == pytest.approx(0.0)
    blind = mod.Episodes(rng.normal(size=beliefs.shape), features, target, achieved)
    read = mod.fit_probes(blind, window=5, steps=100, seed=0).read_beliefs(blind.beliefs)
    assert np.abs(read - target).mean() > 0.5  # nothing to read: about the mean absolute deviation
    with pytest.raises(ValueError, match="too short"):
        mod.fit_probes(ep, window=60)


def test_on_a_nonstationary_toy_run_against_the_oracle(tmp_path: Path) -> None:
    run = subprocess.run([sys.executable, "-m", "harness", "run", "--suite", "point-goal-nonstat", "--method",
                          "moss,sac-oracle", "--seeds", "0", "--profile", "smoke", "--out", str(tmp_path)],
                         capture_output=True, text=True, check=False, cwd=ROOT)
    assert run.returncode == 0, run.stderr
    mod = _module()
    moss = tmp_path / "point-goal-nonstat" / "moss" / "seed=0"
    oracle = tmp_path / "point-goal-nonstat" / "sac-oracle" / "seed=0"
    table = mod.measure(moss, oracle, None, "cpu", probe_steps=50)
    assert {"after an increase", "after a decrease"} <= set(table["phase"])
    assert np.isfinite(table["belief"]).all() and np.isfinite(table["belief_against"]).all()
    assert np.isfinite(table["critic_prefers_other"]).all()  # the oracle sees the task: it acts on any state
    from harness.trained import load_run

    moss_run = load_run(moss, device="cpu")
    method: Any = moss_run.method
    own = mod._episodes(moss_run, moss_run.test_tasks, method.inference.encoder, method.config)
    # a MoSS agent does not see the task (it cannot act on foreign states): NaN; the oracle's differs
    assert np.isnan(mod.critic_preference(moss_run.method, own, moss_run)).all()
    pref = mod.critic_preference(moss_run.method, own, load_run(oracle, device="cpu"))
    assert pref.shape == own.target.shape and np.isfinite(pref).all() and np.abs(pref).max() > 0
    assert np.isfinite(table["value_of_other_state"]).all()
    assert np.abs(mod.state_value_gap(moss_run.method, own, own)).max() == 0  # the same states: no gap
    theirs = mod._episodes(load_run(oracle, device="cpu"), moss_run.test_tasks, method.inference.encoder,
                           method.config)
    gap = mod.state_value_gap(moss_run.method, own, theirs)
    assert gap.shape == own.target.shape and np.abs(gap).max() > 0
    # intervention: fed its own beliefs the policy replays its own episodes; fed the oracle's, it does not
    _, replayed = mod.act_on_beliefs(moss_run, moss_run.test_tasks, own.beliefs)
    assert np.abs(replayed - own.action).max() < 1e-5
    _, fed = mod.act_on_beliefs(moss_run, moss_run.test_tasks, theirs.beliefs)
    assert fed.shape == own.action.shape and np.abs(fed - own.action).max() > 1e-4  # smoke: ~8e-4
    assert {"achieved_on_other_belief", "achieved_on_other_mean"} <= set(table)  # NaN: no achieved quantity
    assert (table["belief_mean_distance"] > 0).all()
    # critic or actor: the same policy's two actions valued under both beliefs; fed its own beliefs, no gap
    q_own_b, q_other_b = mod.fed_action_values(method, own, theirs)
    assert q_own_b.shape == own.target.shape and np.abs(q_own_b).max() > 0 and np.abs(q_other_b).max() > 0
    assert not np.allclose(q_own_b, q_other_b)
    assert all(np.abs(g).max() == 0 for g in mod.fed_action_values(method, own, own))
    assert np.isfinite(table["fed_action_q_own_belief"]).all()
    assert np.isfinite(table["fed_action_q_other_belief"]).all()
    assert table["achieved"].isna().all()  # the point suite defines no achieved quantity
    out = tmp_path / "t.json"
    assert mod.main([str(moss), "--against", str(oracle), "--json", str(out), "--probe-steps", "20"]) == 0
    assert out.stat().st_size > 0
    assert mod.main([str(oracle)]) == 2  # not a MoSS run
    assert mod.main([str(tmp_path / "missing")]) == 2


def test_on_a_run_that_sees_the_task(tmp_path: Path) -> None:
    """A MoSS run that sees the task (``moss-critic-task-control``) has an encoder built for observations
    with the task: the script hands it the task columns it was trained with (it crashed on such runs)."""
    plugin = str(ROOT / "scripts" / "moss_controls.py")
    run = subprocess.run([sys.executable, "-m", "harness", "run", "--suite", "point-goal-nonstat", "--method",
                          "moss-critic-task-control", "--seeds", "0", "--profile", "smoke",
                          "--plugin", plugin, "--set", "policy_dim_preprocess=false", "--out", str(tmp_path)],
                         capture_output=True, text=True, check=False, cwd=ROOT)
    assert run.returncode == 0, run.stderr
    mod = _module()
    run_dir = tmp_path / "point-goal-nonstat" / "moss-critic-task-control" / "seed=0"
    assert mod.main([str(run_dir), "--plugin", plugin, "--probe-steps", "20", "--fit-tasks", "5"]) == 0


def test_critic_columns_of_a_privileged_critic_read_the_task(tmp_path: Path) -> None:
    """``critic_input: task``: the critic columns feed the critics the task in force at each step (the
    belief they are given is ignored, so the columns under the own and the other's belief coincide)."""
    run = subprocess.run([sys.executable, "-m", "harness", "run", "--suite", "point-goal-nonstat", "--method",
                          "moss,sac-oracle", "--seeds", "0", "--profile", "smoke", "--set",
                          "moss.critic_input=task", "--out", str(tmp_path)],
                         capture_output=True, text=True, check=False, cwd=ROOT)
    assert run.returncode == 0, run.stderr
    mod = _module()
    moss = tmp_path / "point-goal-nonstat" / "moss" / "seed=0"
    table = mod.measure(moss, tmp_path / "point-goal-nonstat" / "sac-oracle" / "seed=0", 5, "cpu",
                        fit_tasks=5, probe_steps=20)
    for column in ("critic_prefers_other", "value_of_other_state", "fed_action_q_own_belief"):
        assert np.isfinite(table[column]).all(), column
    np.testing.assert_allclose(table["fed_action_q_own_belief"], table["fed_action_q_other_belief"])
