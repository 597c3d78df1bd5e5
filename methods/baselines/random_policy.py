"""The ``random`` baseline: uniform actions in [-1, 1]^act_dim (the "0" of normalised scores).

``train_step`` only collects (so the budget is consumed like every method's); it learns nothing. The agent
ignores observations and the ``deterministic`` flag (a uniform policy has no greedy action); its generator
is seeded from the run's seed and a per-agent counter, so evaluations are reproducible and never disturb
the training stream.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from harness.agent import Agent
from harness.method import Method
from harness.registry import register_method
from harness.seeding import derive_rng

if TYPE_CHECKING:
    from harness.collector import Collector
    from harness.context import RunContext
    from harness.suite import Suite, Task


class RandomAgent(Agent):
    """Uniform actions ``[N, act_dim]`` in [-1, 1] drawn from ``rng`` (observations are ignored)."""

    def __init__(self, num_envs: int, act_dim: int, rng: np.random.Generator) -> None:
        self.num_envs, self.act_dim, self.rng = num_envs, act_dim, rng

    def reset(self, task_boundary: bool) -> None:
        pass

    def act(self, obs: np.ndarray, deterministic: bool) -> np.ndarray:
        return self.rng.uniform(-1.0, 1.0, size=(len(obs), self.act_dim)).astype(np.float32)


@dataclass(frozen=True, kw_only=True)
class RandomConfig:
    """Collection schedule of the random baseline (no learning)."""

    tasks_per_step: int = 5
    """Training tasks sampled (without replacement) per ``train_step``, one env each (PEARL's 5 tasks per
    iteration; only changes how the budget is chopped into train steps)."""
    episodes_per_task: int = 1
    """Consecutive episodes per sampled task and ``train_step``."""


def sample_task_ids(rng: np.random.Generator, num_tasks: int, k: int) -> list[int]:
    """``min(k, num_tasks)`` distinct task ids drawn uniformly, sorted."""
    return sorted(rng.choice(num_tasks, size=min(k, num_tasks), replace=False).tolist())


@register_method("random")
class RandomMethod(Method):
    """Uniform random actions; see the module docstring."""

    config_cls = RandomConfig
    eval_episodes = 1

    def __init__(self, config: RandomConfig | None = None) -> None:
        super().__init__(config or RandomConfig())

    def setup(self, suite: Suite, train_tasks: list[Task], ctx: RunContext) -> None:
        self.act_dim = suite.spec.act_dim
        self.seed = ctx.seed
        self.num_tasks = len(train_tasks)
        self.rng = ctx.rng("random", "tasks")
        self.collect_agent = RandomAgent(1, self.act_dim, ctx.rng("random", "collect"))
        self.agents_built = 0

    def train_step(self, collector: Collector) -> dict[str, float]:
        tids = sample_task_ids(self.rng, self.num_tasks, self.config.tasks_per_step)
        ro = collector.collect(self.collect_agent, tids, episodes=self.config.episodes_per_task)
        done = ro.episode_lengths() > 0
        return {"train_return": float(ro.episode_returns()[done].mean()), "steps": float(ro.num_steps)}

    def agent(self, num_envs: int) -> Agent:
        rng = derive_rng(self.seed, "method", "random", "agent", self.agents_built)
        self.agents_built += 1
        return RandomAgent(num_envs, self.act_dim, rng)

    def state_dict(self) -> dict[str, Any]:
        return {
            "rng": self.rng.bit_generator.state,
            "collect_rng": self.collect_agent.rng.bit_generator.state,
            "agents_built": self.agents_built,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.rng.bit_generator.state = state["rng"]
        self.collect_agent.rng.bit_generator.state = state["collect_rng"]
        self.agents_built = int(state["agents_built"])
