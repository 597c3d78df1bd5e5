"""PPO over k-episode trials: the training loop VariBAD and RL2 share (written once).

One ``train_step`` of a :class:`TrialPPOMethod`:

1. sample ``num_processes x trials_per_process`` training tasks (one env each) and collect one trial of
   ``trial_episodes`` episodes on each in a single batched collector call (belief / hidden state carried
   across the episodes of a trial, reset between trials);
2. compact the rollout into :class:`~methods.common.trials.TrialBatch` sequences, let the method add its
   per-step context (``_prepare``: VariBAD's beliefs);
3. evaluate the collecting policy on the whole batch (old log-probs, values and the bootstrap value after the
   last step), scale rewards by the running return std, compute GAE over each trial as one sequence: the
   return flows across the episode boundaries inside a trial (the BAMDP view of VariBAD, and RL2's);
   the last step of a trial bootstraps unless it terminated (time limit / end of data);
4. PPO: units are whole trials for recurrent policies (the network is re-run over the sequences in every
   epoch) and single steps for feed-forward ones;
5. ``_after_update`` (VariBAD: VAE updates, normalizer updates).

Subclasses implement ``_build`` (networks; returns the PPO parameters), ``_policy_outputs`` (the policy
on a batch), ``agent`` and the optional hooks.
"""

from __future__ import annotations

import math
from abc import abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import torch
from torch import nn
from torch.distributions import Normal

from harness.agent import Agent
from harness.method import Method
from methods.common.nets import init_weights_, mlp
from methods.common.ppo import PPO, PPOBatch, PPOConfig, gae
from methods.common.running_stats import RunningMeanStd, scale_rewards
from methods.common.trials import ActionRecorder, TrialBatch

if TYPE_CHECKING:
    from harness.collector import Collector
    from harness.context import RunContext
    from harness.suite import Suite, Task


@dataclass(frozen=True, kw_only=True)
class TrialPPOConfig(PPOConfig):
    """PPO hyperparameters plus the trial collection schedule (defaults: varibad cheetah-vel)."""

    trial_episodes: int = 2
    """Episodes per training trial, belief kept across them (varibad ``max_rollouts_per_task`` = 2)."""
    num_processes: int = 16
    """Parallel envs per update, each on a sampled training task (varibad ``num_processes`` = 16)."""
    policy_num_steps: int = 400
    """Env steps per process per update (varibad ``policy_num_steps``, cheetah-vel 400 at 57e1795); rounded
    up to whole trials: each process collects ``ceil(policy_num_steps / (trial_episodes * horizon))``
    trials."""


class ActorCriticHeads(nn.Module):
    """Gaussian actor and value critic on a feature vector, state-independent learned log-std.

    Args:
        in_dim: feature size.
        act_dim: action size.
        hidden: hidden widths of both the actor and the critic MLP.
        init_std: initial action standard deviation.
        activation: hidden activation (varibad: tanh).
    """

    def __init__(self, in_dim: int, act_dim: int, hidden: Iterable[int], init_std: float,
                 activation: type[nn.Module] = nn.Tanh) -> None:
        super().__init__()
        hidden = list(hidden)
        self.actor = mlp(in_dim, hidden, act_dim, activation)
        self.critic = mlp(in_dim, hidden, 1, activation)
        for net, out_gain in ((self.actor, 0.01), (self.critic, 1.0)):  # PPO init (baselines, cleanrl)
            init_weights_(net, gain=math.sqrt(2))
            init_weights_(net[-1], gain=out_gain)
        self.log_std = nn.Parameter(torch.full((act_dim,), math.log(init_std)))

    def forward(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``features [..., in_dim]`` -> ``(mean [..., act], log_std [act], value [...])``."""
        return self.actor(features), self.log_std, self.critic(features).squeeze(-1)


def sample_action(mean: torch.Tensor, log_std: torch.Tensor, deterministic: bool) -> torch.Tensor:
    """The Gaussian mean (deterministic) or a sample ``mean + std * eps`` (torch's global RNG)."""
    if deterministic:
        return mean
    return mean + log_std.exp() * torch.randn_like(mean)


class TrialPPOMethod(Method):
    """A method trained by PPO over k-episode trials; see the module docstring."""

    #: True: the policy is recurrent over the trial (PPO minibatches whole trials); False: feed-forward on
    #: per-step inputs (PPO minibatches single steps, as varibad's ``feed_forward_generator``).
    recurrent_policy: ClassVar[bool] = True
    eval_episodes = 2

    # ------------------------------------------------------------------------------------------ hooks

    @abstractmethod
    def _build(self, suite: Suite, ctx: RunContext) -> list[nn.Parameter]:
        """Build networks and method-specific state; return the parameters PPO optimizes."""

    @abstractmethod
    def _policy_outputs(self, batch: TrialBatch) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Policy on every slot of ``batch``: ``(mean [N, L+1, act], log_std [act], value [N, L+1])``."""

    @abstractmethod
    def _make_agent(self, num_envs: int, recorder: ActionRecorder | None) -> Agent:
        """An agent for ``num_envs`` envs; with ``recorder``, it records its sampled actions there."""

    def _prepare(self, batch: TrialBatch) -> dict[str, float]:
        """Before PPO: add method context to ``batch`` (e.g. beliefs), store data; return stats."""
        return {}

    def _after_update(self, batch: TrialBatch) -> dict[str, float]:
        """After PPO: auxiliary updates (VAE, normalizers); return stats."""
        return {}

    def _extra_state(self) -> dict[str, Any]:
        return {}

    def _load_extra_state(self, state: dict[str, Any]) -> None:
        pass

    # ------------------------------------------------------------------------------------------- setup

    def setup(self, suite: Suite, train_tasks: list[Task], ctx: RunContext) -> None:
        cfg: TrialPPOConfig = self.config
        spec = suite.spec
        self.obs_dim = spec.obs_dim + (spec.task_dim if self.sees_task else 0)
        self.act_dim = spec.act_dim
        self.horizon = suite.horizon
        self.num_tasks = len(train_tasks)
        self.device = ctx.device
        self.budget = ctx.budget
        self.task_rng = ctx.rng("trial-ppo", "tasks")
        self.ppo_rng = ctx.rng("trial-ppo", "minibatches")
        self.ret_rms = RunningMeanStd(())
        self.ppo = PPO(self._build(suite, ctx), cfg)

    def agent(self, num_envs: int) -> Agent:
        return self._make_agent(num_envs, None)

    @classmethod
    def search_space(cls, trial: Any) -> dict[str, Any]:
        """PPO hyperparameters in natural spaces (rl-zoo3 style: ``1 - gamma`` on a log scale)."""
        return {
            "lr": trial.suggest_float("lr", 1e-4, 3e-3, log=True),
            "gamma": 1.0 - trial.suggest_float("one_minus_gamma", 1e-3, 0.1, log=True),
            "gae_lambda": trial.suggest_float("gae_lambda", 0.8, 0.99),
            "clip": trial.suggest_categorical("clip", [0.05, 0.1, 0.2, 0.3]),
            "epochs": trial.suggest_categorical("epochs", [2, 4, 8, 16]),
            "num_minibatch": trial.suggest_categorical("num_minibatch", [1, 2, 4, 8]),
            "entropy_coef": trial.suggest_float("entropy_coef", 1e-4, 3e-2, log=True),
            "init_std": trial.suggest_float("init_std", 0.3, 1.0),
        }

    @property
    def trials_per_update(self) -> int:
        cfg: TrialPPOConfig = self.config
        per_process = math.ceil(cfg.policy_num_steps / (cfg.trial_episodes * self.horizon))
        return cfg.num_processes * max(per_process, 1)

    # ------------------------------------------------------------------------------------------ train

    def train_step(self, collector: Collector) -> dict[str, float]:
        cfg: TrialPPOConfig = self.config
        n = self.trials_per_update
        tids = self.task_rng.choice(self.num_tasks, size=n, replace=n > self.num_tasks)
        recorder = ActionRecorder(n, self.act_dim, self.horizon)
        ro = collector.collect(self._make_agent(n, recorder), tids.tolist(), episodes=cfg.trial_episodes)
        batch = TrialBatch.from_rollout(ro, recorder.actions(ro.active.shape[1]), self.device)
        lengths = ro.episode_lengths()
        returns = ro.episode_returns()
        stats = {"train_return": float(returns[lengths > 0].mean()),
                 "train_return_first": float(returns[:, 0][lengths[:, 0] > 0].mean())}
        if returns.shape[1] > 1 and (lengths[:, -1] > 0).any():
            stats["train_return_last"] = float(returns[:, -1][lengths[:, -1] > 0].mean())
        stats.update(self._prepare(batch))
        if cfg.anneal_lr and self.budget > 0:
            self.ppo.set_lr_fraction(1.0 - collector.steps_used / self.budget)
        stats.update(self._ppo_update(batch))
        stats.update(self._after_update(batch))
        return stats

    def _log_prob_entropy(
        self, mean: torch.Tensor, log_std: torch.Tensor, action: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        dist = Normal(mean, log_std.exp().expand_as(mean))
        return dist.log_prob(action).sum(-1), dist.entropy().sum(-1)

    def _ppo_data(self, batch: TrialBatch) -> PPOBatch:
        """Old log-probs and values, scaled rewards and GAE for ``batch`` (``[N, L]`` tensors)."""
        cfg: TrialPPOConfig = self.config
        length = batch.mask.shape[1]
        with torch.no_grad():
            mean, log_std, value_ext = self._policy_outputs(batch)
            old_log_prob, _ = self._log_prob_entropy(mean[:, :length], log_std, batch.raw_action)
        mask = batch.mask.cpu().numpy()
        reward = batch.reward.cpu().numpy()
        if cfg.normalize_rewards:
            reward = scale_rewards(reward, mask, cfg.gamma, self.ret_rms)
        values = value_ext.cpu().numpy()
        is_last = batch.is_last.cpu().numpy() & mask
        terminated = batch.terminated.cpu().numpy() & is_last  # inner episode ends do not cut the trial
        adv, ret = gae(reward, values[:, :length], values[:, 1:], terminated, is_last | ~mask,
                       cfg.gamma, cfg.gae_lambda)

        def t(x: np.ndarray) -> torch.Tensor:
            return torch.as_tensor(x, dtype=torch.float32, device=self.device)

        fmask = batch.mask.float()
        return PPOBatch(old_log_prob * fmask, value_ext[:, :length] * fmask, t(adv) * fmask, t(ret) * fmask,
                        fmask)

    def _ppo_update(self, batch: TrialBatch) -> dict[str, float]:
        data = self._ppo_data(batch)
        units = batch
        if not self.recurrent_policy:  # one unit per valid step
            units = batch.steps()
            sel = batch.mask
            data = PPOBatch(*(x[sel].unsqueeze(1) for x in data))

        def evaluate(idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
            sub = units.index(idx)
            length = sub.mask.shape[1]
            mean, log_std, value = self._policy_outputs(sub)
            log_prob, entropy = self._log_prob_entropy(mean[:, :length], log_std, sub.raw_action)
            return log_prob, entropy, value[:, :length]

        stats = self.ppo.update(evaluate, data, self.ppo_rng)
        stats["ppo_lr"] = float(self.ppo.optimizer.param_groups[0]["lr"])
        return stats

    # ----------------------------------------------------------------------------------------- state

    def state_dict(self) -> dict[str, Any]:
        return {
            "ppo": self.ppo.state_dict(),
            "ret_rms": self.ret_rms.state_dict(),
            "task_rng": self.task_rng.bit_generator.state,
            "ppo_rng": self.ppo_rng.bit_generator.state,
            **self._extra_state(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.ppo.load_state_dict(state["ppo"])
        self.ret_rms.load_state_dict(state["ret_rms"])
        self.task_rng.bit_generator.state = state["task_rng"]
        self.ppo_rng.bit_generator.state = state["ppo_rng"]
        self._load_extra_state(state)
