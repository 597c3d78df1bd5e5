"""The MoSS control variants of ``scripts/moss_controls.py`` (a ``--plugin``): the policy and the critics
never read the belief; ``moss-task-control`` sees the true task in its observation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from harness.collector import Collector
from harness.config import method_config
from harness.context import RunContext
from harness.registry import get_method, get_suite, load_plugins

PLUGIN = str(Path(__file__).resolve().parents[2] / "scripts" / "moss_controls.py")


def _trained(name: str) -> tuple[Any, dict[str, torch.Tensor]]:
    load_plugins([PLUGIN])
    suite = get_suite("point-goal")
    cls = get_method(name)
    method: Any = cls(method_config(cls, suite, "smoke"))
    tasks = suite.train_tasks(0, 2)
    method.setup(suite, tasks, RunContext(seed=0))
    before = {k: v.clone() for k, v in method.policy.actor_embed.state_dict().items()}
    method.train_step(Collector(suite, tasks, 0, 10_000, task_obs=cls.sees_task))
    method.train_step(Collector(suite, tasks, 0, 10_000, task_obs=cls.sees_task))
    return method, before


def test_no_belief_control_never_reads_the_belief() -> None:
    method, before = _trained("moss-no-belief-control")
    after = method.policy.actor_embed.state_dict()
    assert method.config.policy_dim_preprocess  # smoke keeps the paper's embeddings: a belief layer exists
    torch.testing.assert_close(after["belief.0.weight"], before["belief.0.weight"])  # zero input: no gradient
    assert not torch.equal(after["state.0.weight"], before["state.0.weight"])


def test_task_control_sees_the_task_in_its_observation() -> None:
    method, _ = _trained("moss-task-control")
    suite = get_suite("point-goal")
    assert method.obs_dim == suite.spec.obs_dim + suite.spec.task_dim
    assert type(method).sees_task


def test_task_control_bootstraps_within_the_current_task() -> None:
    """On a non-stationary suite the SAC samples' ``s'`` carries the task of ``s`` (as ``sac-oracle``'s
    default ``bootstrap_task: current``), though some stored transitions switch task."""
    load_plugins([PLUGIN])
    suite = get_suite("point-goal-nonstat")
    cls = get_method("moss-task-control")
    method: Any = cls(method_config(cls, suite, "smoke"))
    tasks = suite.train_tasks(0, 2)
    method.setup(suite, tasks, RunContext(seed=0))
    method.train_step(Collector(suite, tasks, 0, 10_000, task_obs=True))
    obs_dim = suite.spec.obs_dim
    stored = method.replay.sample_sequences([0, 1], 2000, 1, boundary="episode", include_current=True).current
    assert not torch.equal(stored.obs[..., obs_dim:], stored.next_obs[..., obs_dim:])  # switches are stored
    obs, _, _, _, next_obs, _, _ = method._policy_samples(512)
    assert torch.equal(obs[:, obs_dim:], next_obs[:, obs_dim:])
    assert not torch.equal(obs[:, :obs_dim], next_obs[:, :obs_dim])


def _critic_task_control(suite_name: str = "point-goal-nonstat") -> Any:
    load_plugins([PLUGIN])
    suite = get_suite(suite_name)
    cls = get_method("moss-critic-task-control")
    method: Any = cls(method_config(cls, suite, "smoke", sets={"policy_dim_preprocess": False}))
    tasks = suite.train_tasks(0, 2)
    method.setup(suite, tasks, RunContext(seed=0))
    method.train_step(Collector(suite, tasks, 0, 10_000, task_obs=True))
    method.train_step(Collector(suite, tasks, 0, 10_000, task_obs=True))
    return method


def test_critic_task_control_hides_the_task_from_encoder_and_actor() -> None:
    """The encoder (and its decoder) never read the task columns; the acting policy never reads them."""
    method = _critic_task_control()
    suite = get_suite("point-goal-nonstat")
    o, k = method.obs_dim, suite.spec.task_dim
    assert o == suite.spec.obs_dim + k
    enc = method.inference.encoder
    feats = torch.randn(4, 7, enc.input_mean.shape[0])
    other = feats.clone()
    other[..., o - k : o] += 5.0  # the task of s
    other[..., -k:] -= 3.0  # the task of s'
    torch.testing.assert_close(enc.rollout(other), enc.rollout(feats), rtol=0, atol=0)
    assert not torch.equal(enc.rollout(feats + 1.0), enc.rollout(feats))  # it does read the rest
    obs = torch.randn(5, o)
    belief = torch.randn(5, method.policy.sac.actor.trunk[0].in_features - (o - k))
    moved = obs.clone()
    moved[:, o - k :] += 2.0
    torch.testing.assert_close(method.policy.act(moved, belief, True), method.policy.act(obs, belief, True))
    assert not torch.equal(method.policy.act(obs, belief + 1.0, True), method.policy.act(obs, belief, True))


def test_critic_task_control_critics_read_the_task_not_the_belief() -> None:
    method = _critic_task_control()
    sac = method.policy.sac
    o, act_dim = method.obs_dim, method.act_dim
    assert sac.critic.net[0].in_dim == o + act_dim  # state with its task, action: no belief
    obs, action = torch.randn(6, o), torch.rand(6, act_dim) * 2 - 1
    moved = obs.clone()
    moved[:, -get_suite("point-goal-nonstat").spec.task_dim :] += 1.0
    assert not torch.equal(sac.critic(moved, action), sac.critic(obs, action))
