"""``sac-mt`` and ``sac-oracle``: SAC over all training tasks, without / with the true task.

* ``sac-mt``: multi-task SAC on observations only, one shared replay buffer over every training task. It
  cannot tell tasks apart, so it learns the best task-agnostic policy: the floor a meta-RL method must beat.
* ``sac-oracle``: the same learner with ``sees_task = True``: the harness appends the true task vector to
  its observations (for non-stationary suites, the current task), the ceiling of what task inference can
  buy. Its ``bootstrap_task`` says which task the next observation of a stored transition carries where the
  task switches inside an episode (see :class:`SacOracleConfig`).

Schedule of one ``train_step``: sample ``tasks_per_step`` training tasks, collect ``episodes_per_task``
episodes on each in parallel (uniform random actions until ``learning_starts`` env steps, then the
stochastic policy), store them, then run ``utd`` gradient updates per new env step (the fractional part is
carried over). ``learning_starts`` is capped at a quarter of the run's budget so tiny budgets still train.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import torch

from harness.agent import Agent
from harness.method import Method
from harness.registry import register_method
from harness.rollout import Rollout
from methods.baselines.random_policy import RandomAgent, sample_task_ids
from methods.common.replay import ReplayBuffer
from methods.common.sac import SAC, SACConfig, TanhGaussianActor
from methods.common.search import suggest_sac

if TYPE_CHECKING:
    from harness.collector import Collector
    from harness.context import RunContext
    from harness.suite import Suite, Task

HPARAMS = Path(__file__).with_name("hparams.yaml")


@dataclass(frozen=True, kw_only=True)
class SacMtConfig(SACConfig):
    """SAC hyperparameters (see :class:`methods.common.sac.SACConfig`) plus the collection schedule."""

    buffer_size: int = 1_000_000
    """Replay capacity in transitions, shared by all training tasks (SAC paper: 1e6)."""
    learning_starts: int = 5_000
    """Env steps of uniform random actions before the policy acts and updates start (cleanrl
    ``sac_continuous_action.py``: 5e3); capped at a quarter of the run's budget."""
    utd: float = 1.0
    """Gradient updates per collected env step (SAC paper: 1)."""
    tasks_per_step: int = 5
    """Training tasks sampled (without replacement) per ``train_step``, one env each, collected in parallel
    (PEARL's ``num_tasks_sample`` = 5)."""
    episodes_per_task: int = 1
    """Consecutive episodes per sampled task and ``train_step``."""


@dataclass(frozen=True, kw_only=True)
class SacOracleConfig(SacMtConfig):
    """:class:`SacMtConfig` plus which task the oracle bootstraps from across a task switch."""

    bootstrap_task: Literal["current", "next"] = "current"
    """Task vector stored in the next observation of each transition (only differs from the observed one where
    a non-stationary suite switches the task inside an episode, about 0.5% of cheetah-vel-nonstat's steps).
    ``next`` (plain SAC on the task-augmented observations): the task after the switch, so the Bellman target
    of that transition jumps by the value difference between the two tasks, which nothing in the observation
    predicts. Measured on cheetah-vel-nonstat (bench, 300k, seed 0, ``scripts/oracle_switch_td.py``): those
    transitions make 93% of the critic loss (squared TD error 9769 against 3.8) and the oracle stands still
    for the whole run (-956). ``current``: the task the step's reward was computed under, i.e. the critic
    values each segment as if its task went on (the switches are exogenous: no action changes when or to
    what the task switches). Both are identical on stationary suites, so runs made before this field
    existed keep their numbers there; on non-stationary suites such runs used ``next``."""


def with_current_task(rollout: Rollout, obs_dim: int) -> Rollout:
    """``rollout`` whose next observations carry the task of their own step: the task part (columns
    ``obs_dim:`` of the task-augmented ``[N, T, obs_dim + task_dim]`` observations) of ``next_obs`` replaced
    by that of ``obs``. Arrays other than ``next_obs`` are shared, not copied."""
    next_obs = rollout.next_obs.copy()
    next_obs[..., obs_dim:] = rollout.obs[..., obs_dim:]
    return dataclasses.replace(rollout, next_obs=next_obs)


class PolicyAgent(Agent):
    """Acts with a :class:`TanhGaussianActor` on the (batched) observations; stateless.

    Args:
        actor: the policy network (shared with the learner, so the agent always uses current weights).
        device: where the actor lives.
    """

    def __init__(self, actor: TanhGaussianActor, device: torch.device) -> None:
        self.actor, self.device = actor, device

    def reset(self, task_boundary: bool) -> None:
        pass

    @torch.no_grad()
    def act(self, obs: np.ndarray, deterministic: bool) -> np.ndarray:
        x = torch.as_tensor(obs, dtype=torch.float32, device=self.device)
        return self.actor(x, deterministic)[0].cpu().numpy()


@register_method("sac-mt")
class SacMultiTask(Method):
    """Multi-task SAC on observations only; see the module docstring."""

    config_cls = SacMtConfig
    hparams_file = HPARAMS
    eval_episodes = 1

    def __init__(self, config: SacMtConfig | None = None) -> None:
        super().__init__(config or self.config_cls())

    @classmethod
    def search_space(cls, trial: Any) -> dict[str, Any]:
        """SAC learning rate, discount, tau, batch size and width, plus the update-to-data ratio."""
        return {**suggest_sac(trial), "utd": float(trial.suggest_float("utd", 0.25, 2.0, log=True))}

    def setup(self, suite: Suite, train_tasks: list[Task], ctx: RunContext) -> None:
        cfg: SacMtConfig = self.config
        spec = suite.spec
        self.env_obs_dim = spec.obs_dim
        self.obs_dim = spec.obs_dim + (spec.task_dim if self.sees_task else 0)
        self.act_dim = spec.act_dim
        self.num_tasks = len(train_tasks)
        self.device = ctx.device
        self.sac = SAC(self.obs_dim, self.act_dim, cfg.sac_config(), ctx.device)
        self.replay = ReplayBuffer(self.obs_dim, self.act_dim, cfg.buffer_size, ctx.rng("sac", "replay"),
                                   ctx.device)
        self.task_rng = ctx.rng("sac", "tasks")
        self.random_agent = RandomAgent(1, self.act_dim, ctx.rng("sac", "warmup"))
        cap = ctx.budget // 4 if ctx.budget > 0 else cfg.learning_starts
        self.learning_starts = min(cfg.learning_starts, cap)
        self.update_debt = 0.0

    def train_step(self, collector: Collector) -> dict[str, float]:
        cfg: SacMtConfig = self.config
        tids = sample_task_ids(self.task_rng, self.num_tasks, cfg.tasks_per_step)
        warm = collector.steps_used < self.learning_starts
        agent = self.random_agent if warm else PolicyAgent(self.sac.actor, self.device)
        ro = collector.collect(agent, tids, episodes=cfg.episodes_per_task)
        new = self.replay.add_rollout(self.stored(ro))
        done = ro.episode_lengths() > 0
        stats = {"train_return": float(ro.episode_returns()[done].mean()),
                 "buffer_size": float(len(self.replay))}
        if collector.steps_used >= self.learning_starts:
            self.update_debt += cfg.utd * new
            n = int(self.update_debt)
            self.update_debt -= n
            stats.update(self.sac.update_many(lambda: self.replay.sample(cfg.batch_size), n))
        return stats

    def stored(self, rollout: Rollout) -> Rollout:
        """The rollout as it goes into the replay buffer (as collected; the oracle may rewrite the task)."""
        return rollout

    def agent(self, num_envs: int) -> Agent:
        return PolicyAgent(self.sac.actor, self.device)

    def state_dict(self) -> dict[str, Any]:
        return {
            "sac": self.sac.state_dict(), "replay": self.replay.state_dict(),
            "task_rng": self.task_rng.bit_generator.state,
            "warmup_rng": self.random_agent.rng.bit_generator.state, "update_debt": self.update_debt,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.sac.load_state_dict(state["sac"])
        self.replay.load_state_dict(state["replay"])
        self.task_rng.bit_generator.state = state["task_rng"]
        self.random_agent.rng.bit_generator.state = state["warmup_rng"]
        self.update_debt = float(state["update_debt"])


@register_method("sac-oracle")
class SacOracle(SacMultiTask):
    """``sac-mt`` whose observations end with the true (current) task vector: the ceiling."""

    config_cls = SacOracleConfig
    sees_task = True

    def stored(self, rollout: Rollout) -> Rollout:
        """With ``bootstrap_task: current``, next observations carry the step's own task
        (:func:`with_current_task`)."""
        if self.config.bootstrap_task == "current":
            return with_current_task(rollout, self.env_obs_dim)
        return rollout
