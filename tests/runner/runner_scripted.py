"""Scripted methods and a step-counting suite for the runner tests (imported as ``--plugin runner_scripted``).

* ``scripted-linear``: a tiny torch policy trained by a made-up regression loss; uses torch RNG, a
  method-owned numpy generator and an optimizer, so resuming is only exact if every state is restored.
  ``RUNNER_TEST_CRASH_AFTER=N`` in the environment makes it ``os._exit(3)`` at its N-th iteration.
* ``scripted-probe``: a parameter-free agent logging every ``reset`` and ``observe`` (protocol tests).
* ``counting-goal``: point-goal with horizon 10 whose envs count every ``step`` call, and whose episodes
  terminate early when the robot crosses ``x > 0.25`` (lock-step waiting without phantom steps).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from harness.agent import Agent, StepBatch
from harness.collector import Collector
from harness.context import RunContext
from harness.method import Method
from harness.registry import list_methods, list_suites, register_method, register_suite
from harness.suite import Suite, Task
from suites.toy.point import PointEnv, PointGoalSuite

#: Env ``step`` calls of counting-goal envs in this process.
#: The module name to give ``--plugin`` / ``Job.plugins`` (worker processes import it by this name).
PLUGIN = __name__

STEP_CALLS = {"n": 0}
#: Agent calls of scripted-probe agents: ("reset", task_boundary, n_envs) and ("observe", n_active).
PROBE_LOG: list[tuple[Any, ...]] = []


@dataclass(frozen=True, kw_only=True)
class LinearConfig:
    """Config of the scripted linear method."""

    lr: float = 0.05
    """Adam learning rate."""
    hidden: int = 8
    """Hidden units."""
    tasks_per_step: int = 3
    """Envs per collect call."""
    episodes_per_step: int = 1
    """Episodes per collect call."""
    noise: float = 0.3
    """Std of the exploration noise (torch RNG)."""
    nan_at: int | None = None
    """Iteration at which a NaN stat is returned (failure test)."""
    raise_at: int | None = None
    """Iteration at which train_step raises (failure test)."""
    widths: tuple[int, ...] = (4, 4)
    """Unused; exercises tuple typing."""
    mode: str = "a"
    """Unused; exercises str typing."""


class LinearAgent(Agent):
    def __init__(self, net: torch.nn.Module, n: int, noise: float) -> None:
        self.net, self.noise = net, noise
        self.mean_reward = np.zeros((n, 1), np.float32)
        self.count = np.zeros((n, 1), np.float32)

    def reset(self, task_boundary: bool) -> None:
        if task_boundary:
            self.mean_reward[:] = 0.0
            self.count[:] = 0.0

    def act(self, obs: np.ndarray, deterministic: bool) -> np.ndarray:
        with torch.no_grad():
            x = torch.as_tensor(np.concatenate([obs, self.mean_reward], 1))
            a = torch.tanh(self.net(x))
            if not deterministic:
                a = a + self.noise * torch.randn_like(a)
        return a.clamp(-1, 1).numpy()

    def observe(self, step: StepBatch) -> None:
        act = step.active[:, None]
        self.count += act
        self.mean_reward = np.where(
            act, self.mean_reward + (step.reward[:, None] - self.mean_reward) / np.maximum(self.count, 1),
            self.mean_reward,
        ).astype(np.float32)

    def belief(self) -> dict[str, np.ndarray] | None:
        return {"mean_reward": self.mean_reward.copy()}


class ScriptedLinear(Method):
    config_cls = LinearConfig
    eval_episodes = 2

    def setup(self, suite: Suite, train_tasks: list[Task], ctx: RunContext) -> None:
        c = self.config
        self.net = torch.nn.Sequential(
            torch.nn.Linear(suite.spec.obs_dim + 1, c.hidden), torch.nn.Tanh(), torch.nn.Linear(c.hidden, 2)
        )
        self.opt = torch.optim.Adam(self.net.parameters(), lr=c.lr)
        self.rng = ctx.rng("tasks")
        self.iterations = 0

    def train_step(self, collector: Collector) -> dict[str, float]:
        c = self.config
        crash = os.environ.get("RUNNER_TEST_CRASH_AFTER")
        if crash is not None and self.iterations == int(crash):
            os._exit(3)
        if c.raise_at is not None and self.iterations == c.raise_at:
            raise RuntimeError("scripted failure")
        ids = self.rng.integers(0, collector.num_tasks, size=c.tasks_per_step)
        ro = collector.collect(self.agent(len(ids)), ids.tolist(), c.episodes_per_step)
        obs = torch.as_tensor(ro.obs[ro.active])
        x = torch.cat([obs, torch.zeros(len(obs), 1)], 1)
        target = torch.as_tensor(ro.action[ro.active]) * torch.as_tensor(ro.reward[ro.active])[:, None]
        loss = ((torch.tanh(self.net(x)) - target) ** 2).mean()
        self.opt.zero_grad()
        loss.backward()
        self.opt.step()
        self.iterations += 1
        stats = {"loss": float(loss.detach()), "reward": float(ro.reward[ro.active].mean()),
                 "torch_threads": float(torch.get_num_threads())}
        if c.nan_at is not None and self.iterations - 1 == c.nan_at:
            stats["loss"] = float("nan")
        return stats

    def agent(self, num_envs: int) -> Agent:
        return LinearAgent(self.net, num_envs, self.config.noise)

    def state_dict(self) -> dict[str, Any]:
        return {"net": self.net.state_dict(), "opt": self.opt.state_dict(),
                "rng": self.rng.bit_generator.state, "iterations": self.iterations}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.net.load_state_dict(state["net"])
        self.opt.load_state_dict(state["opt"])
        self.rng.bit_generator.state = state["rng"]
        self.iterations = state["iterations"]


@dataclass(frozen=True, kw_only=True)
class ProbeConfig:
    """Config of the probe method."""

    tasks_per_step: int = 3
    """Envs per collect call."""
    episodes_per_step: int = 2
    """Episodes per collect call."""


class ProbeAgent(Agent):
    def __init__(self, n: int) -> None:
        self.n = n

    def reset(self, task_boundary: bool) -> None:
        PROBE_LOG.append(("reset", task_boundary, self.n))

    def act(self, obs: np.ndarray, deterministic: bool) -> np.ndarray:
        return np.tile(np.array([[1.0, 0.3]], np.float32), (len(obs), 1))

    def observe(self, step: StepBatch) -> None:
        PROBE_LOG.append(("observe", int(step.active.sum())))


class ScriptedProbe(Method):
    config_cls = ProbeConfig
    eval_episodes = 3

    def setup(self, suite: Suite, train_tasks: list[Task], ctx: RunContext) -> None:
        self.steps: list[int] = []

    def train_step(self, collector: Collector) -> dict[str, float]:
        c = self.config
        ids = [i % collector.num_tasks for i in range(c.tasks_per_step)]
        ro = collector.collect(self.agent(len(ids)), ids, c.episodes_per_step)
        self.steps.append(ro.num_steps)
        return {"steps": float(ro.num_steps), "update_seconds": -1.0}  # clashes with a runner column

    def agent(self, num_envs: int) -> Agent:
        return ProbeAgent(num_envs)

    def state_dict(self) -> dict[str, Any]:
        return {"steps": list(self.steps)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.steps = list(state["steps"])


class CountingEnv(PointEnv):
    def step(self, action: np.ndarray) -> tuple[Any, float, bool, bool, dict]:
        STEP_CALLS["n"] += 1
        obs, reward, _, truncated, info = super().step(action)
        return obs, reward, bool(obs[0] > 0.25), truncated, info


@dataclass(frozen=True, kw_only=True)
class CountingGoalSuite(PointGoalSuite):
    name: str = "counting-goal"
    group: str = "runner-test"
    horizon: int = 10
    n_train: int = 6
    n_test: int = 4
    description: str = "point-goal whose envs count their steps (runner tests)"

    def make_env(self, task: Task, seed: int) -> gym.Env:
        env = CountingEnv(task, self.horizon)
        env.reset(seed=seed)
        return env


def register() -> None:
    """Register the test methods and suite once per process."""
    if "scripted-linear" not in list_methods():
        register_method("scripted-linear")(ScriptedLinear)
        register_method("scripted-probe")(ScriptedProbe)
    if "counting-goal" not in {s.name for s in list_suites()}:
        register_suite(CountingGoalSuite())


register()
