"""MoSS with a privileged critic (``critic_input: task``): the collector hands meta-training the true task
of every transition after acting; the critics read it, the actor, the encoder and the agent never do."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from harness.agent import Agent, StepBatch
from harness.collector import Collector
from harness.config import method_config
from harness.context import RunContext
from harness.registry import get_method, get_suite
from harness.runner import Job
from methods.moss.encoder import feature_dim
from tests.runner.test_method_resume import assert_resumes_to_identical_rows


class _Recorder(Agent):
    """Random actions; records the width of every observation it is given."""

    def __init__(self, num_envs: int, act_dim: int) -> None:
        self.num_envs, self.act_dim, self.widths = num_envs, act_dim, set()

    def reset(self, task_boundary: bool) -> None:
        pass

    def act(self, obs: np.ndarray, deterministic: bool) -> np.ndarray:
        self.widths.add(obs.shape[-1])
        return np.zeros((self.num_envs, self.act_dim), np.float32)

    def observe(self, step: StepBatch) -> None:
        self.widths.add(step.obs.shape[-1])


@pytest.mark.parametrize("privileged", [False, True])
def test_collector_hands_the_task_after_acting_only_when_asked(privileged: bool) -> None:
    suite = get_suite("point-goal-nonstat")
    tasks = suite.train_tasks(0, 3)
    agent = _Recorder(3, suite.spec.act_dim)
    rollout = Collector(suite, tasks, 0, 10_000, privileged_task=privileged).collect(agent, [0, 1, 2])
    assert agent.widths == {suite.spec.obs_dim}  # the agent sees the environment's observation only
    if not privileged:
        assert rollout.task is None
        return
    assert rollout.task is not None and rollout.switched is not None
    assert rollout.task.shape == (*rollout.reward.shape, suite.spec.task_dim)
    for i, tid in enumerate(rollout.task_ids):  # the first segment is the training task itself
        np.testing.assert_allclose(rollout.task[i, 0], tasks[int(tid)].vector())
    changed = np.any(rollout.task[:, 1:] != rollout.task[:, :-1], axis=-1) & rollout.active[:, 1:]
    assert changed.any() and np.array_equal(changed, rollout.switched[:, 1:] & changed)  # only at switches


def _method(suite_name: str, **sets: Any) -> tuple[Any, Any, list[Any]]:
    suite = get_suite(suite_name)
    cls = get_method("moss")
    method: Any = cls(method_config(cls, suite, "smoke", sets={"critic_input": "task", **sets}))
    tasks = suite.train_tasks(0, 3)
    method.setup(suite, tasks, RunContext(seed=0))
    privileged = cls.privileged_task(method.config)
    assert privileged
    for _ in range(2):
        method.train_step(Collector(suite, tasks, 0, 10_000, privileged_task=privileged))
    return method, suite, tasks


@pytest.mark.parametrize("trajectory", [True, False])
def test_sac_samples_carry_each_transitions_task_and_bootstrap_within_it(trajectory: bool) -> None:
    """Stationary suite: every sample's task columns are the vector of a training task, ``s'`` keeps them;
    both SAC sampling paths (windows of every transition, one transition per window)."""
    method, suite, tasks = _method("point-goal", use_trajectory_sample_sac=trajectory,
                                   sac_belief_context="same-task")
    o = suite.spec.obs_dim
    obs, _, _, _, next_obs, _, _ = method._policy_samples(512)
    assert obs.shape[1] == next_obs.shape[1] == o + suite.spec.task_dim
    torch.testing.assert_close(obs[:, o:], next_obs[:, o:])
    vectors = torch.as_tensor(np.stack([t.vector() for t in tasks]), dtype=obs.dtype)
    match = (obs[:, None, o:] == vectors[None]).all(-1)  # [S, tasks]
    assert match.any(1).all() and match.any(0).sum() > 1
    assert not torch.equal(obs[:, :o], next_obs[:, :o])


def test_nonstationary_samples_bootstrap_within_the_current_task() -> None:
    method, suite, _ = _method("point-goal-nonstat", sac_belief_context="same-task")
    o = suite.spec.obs_dim
    stored = method.replay.sample_sequences([0, 1, 2], 500, 2, boundary="episode", include_current=True)
    task = stored.context.extras["task"]  # consecutive transitions: the task changes at switches
    assert not torch.equal(task[..., 0, :], task[..., 1, :])
    obs, _, _, _, next_obs, _, _ = method._policy_samples(512)
    torch.testing.assert_close(obs[:, o:], next_obs[:, o:])


def test_critics_read_the_task_and_the_actor_and_encoder_do_not() -> None:
    method, suite, _ = _method("point-goal-nonstat")
    o, k = suite.spec.obs_dim, suite.spec.task_dim
    assert method.inference.encoder.input_mean.shape[-1] == feature_dim(o, suite.spec.act_dim)
    policy = method.policy
    state, belief = torch.randn(64, o), torch.randn(64, policy.actor_embed.belief[0].in_features)
    task_a, task_b = torch.randn(64, k), torch.randn(64, k)
    for t in (task_a, task_b):  # actions ignore the columns after the state
        torch.testing.assert_close(policy.act(torch.cat([state, t], 1), belief, True),
                                   policy.act(state, belief, True))
    action = torch.rand(64, suite.spec.act_dim) * 2 - 1
    with torch.no_grad():
        q_a = policy.sac.critic(policy.critic_embed(state, task_a), action)[0]
        q_b = policy.sac.critic(policy.critic_embed(state, task_b), action)[0]
    assert not torch.allclose(q_a, q_b)
    assert policy.critic_embed.belief[0].in_features == k  # the critics' second input is the task


def test_privileged_critic_without_the_task_from_the_collector_is_refused() -> None:
    suite = get_suite("point-goal")
    cls = get_method("moss")
    method: Any = cls(method_config(cls, suite, "smoke", sets={"critic_input": "task"}))
    tasks = suite.train_tasks(0, 2)
    method.setup(suite, tasks, RunContext(seed=0))
    with pytest.raises(RuntimeError, match="privileged_task=True"):
        method.train_step(Collector(suite, tasks, 0, 10_000))


def test_run_with_a_privileged_critic_resumes_to_identical_rows(tmp_path: Path) -> None:
    """Through the runner (which builds the collector with the method's ``privileged_task``): an interrupted
    run resumes from its checkpoint, the task columns of the replay included, to the rows of an
    uninterrupted one (``tests/runner/test_method_resume.py`` does the same for every method's default)."""

    def make_job(out: Path) -> Job:
        return Job(suite="point-goal-nonstat", method="moss", seed=0, out=str(out), profile="smoke",
                   budget=2400, eval_every=800, device="cpu", sets=("critic_input=task",))

    job = assert_resumes_to_identical_rows(make_job, tmp_path)
    record = (job.run_dir / "config.yaml").read_text()
    assert "critic_input: task" in record and "sees_task: true" in record  # a reference ceiling, never best
