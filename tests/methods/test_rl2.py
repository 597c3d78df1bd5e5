"""RL2 unit tests: hidden state across episodes and trials (scripted inputs), online == sequence recompute,
resuming from a state dict."""

from __future__ import annotations

import numpy as np
import torch

from harness.agent import StepBatch
from harness.collector import Collector
from harness.context import RunContext
from harness.registry import get_suite
from methods.common.trials import ActionRecorder, TrialBatch
from methods.rl2 import RL2, RL2Config
from methods.rl2.method import RL2Agent
from tests.helpers import second_train_step

SMALL = RL2Config(num_processes=2, policy_num_steps=1, gru_hidden=16, latent_dim=8, policy_layers=(16,))


def _method(seed: int = 0) -> RL2:
    torch.manual_seed(seed)
    suite = get_suite("point-goal")
    method = RL2(SMALL)
    method.setup(suite, suite.train_tasks(seed, 4), RunContext(seed=seed, budget=10_000))
    return method


def _step(obs: np.ndarray, action: np.ndarray, reward: float, done: bool, active: list[bool]) -> StepBatch:
    n = len(active)
    flags = np.full(n, done)
    return StepBatch(obs, action, np.full(n, reward, np.float32), obs + 0.1, np.zeros(n, bool), flags,
                     np.array(active))


def test_hidden_state_kept_across_episodes_and_reset_between_trials() -> None:
    method = _method()
    agent = method.agent(2)
    assert isinstance(agent, RL2Agent)
    obs = np.array([[0.1, 0.2], [0.1, 0.2]], np.float32)
    agent.reset(task_boundary=True)
    first = agent.act(obs, deterministic=True)
    np.testing.assert_allclose(first[0], first[1], rtol=1e-4)  # same inputs, same start state
    agent.observe(_step(obs, first, reward=-1.0, done=False, active=[True, False]))  # env 1 waits
    h_after = agent.hidden.clone()
    assert torch.any(h_after[0] != 0) and torch.all(h_after[1] == 0)  # inactive rows keep their state
    agent.observe(_step(obs, first, reward=-1.0, done=True, active=[True, False]))
    h_end = agent.hidden.clone()
    agent.reset(task_boundary=False)  # next episode of the same trial: hidden state kept
    torch.testing.assert_close(agent.hidden, h_end)
    assert agent.prev_done.tolist() == [1.0, 1.0]
    second = agent.act(obs, deterministic=True)
    assert not np.allclose(second[0], first[0], rtol=1e-3, atol=0)  # the history changes the action
    agent.reset(task_boundary=True)  # new trial: everything forgotten
    assert torch.all(agent.hidden == 0) and torch.all(agent.prev_action == 0)
    np.testing.assert_allclose(agent.act(obs, deterministic=True), first, rtol=1e-4)


def test_online_actions_match_sequence_recompute() -> None:
    method = _method()
    suite = get_suite("point-goal")
    collector = Collector(suite, suite.train_tasks(0, 4), 0, 1000)
    recorder = ActionRecorder(3, 2, suite.horizon)
    agent = RL2Agent(method.net, 3, 2, method.device, recorder)
    ro = collector.collect(agent, [0, 1, 2], episodes=2, deterministic=True)
    batch = TrialBatch.from_rollout(ro, recorder.actions(ro.active.shape[1]), method.device)
    with torch.no_grad():
        mean, _, value = method.net.sequence(batch)
    length = batch.mask.shape[1]
    online = batch.raw_action[batch.mask]
    torch.testing.assert_close(mean[:, :length][batch.mask], online, atol=1e-5, rtol=1e-4)
    assert value.shape == (3, length + 1)


def test_train_step_and_resume_are_deterministic() -> None:
    a, b = second_train_step(_method, resume=False), second_train_step(_method, resume=True)
    assert a == b and np.isfinite(a["ppo_loss"])
    assert RL2.published_budget(get_suite("cheetah-vel")) == 100_000_000
    assert RL2.published_budget(get_suite("point-goal")) is None and RL2.eval_episodes == 2
