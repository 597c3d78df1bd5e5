"""MoSS (Wang, Bing et al., AAAI 2023) and its four ablations as registered methods.

One training iteration (``train_step``), following the paper's Algorithm 1 and its table:

1. collect: the first call runs ``num_transitions_initial`` steps on every training task; later calls run
   ``num_transitions_per_episode`` steps on each of ``num_train_tasks_per_episode`` sampled tasks. All
   tasks of a call run in one batched collector call (one policy call per step for all of them), with the
   belief updated online at every step (with ``behaviour_swap_share``, stretches act on another task's
   belief: :class:`methods.moss.agent.BeliefSwap`). Data goes to one replay buffer per training task,
   shared by the encoder and the policy (fully off-policy).
2. encoder: ``num_training_steps_reconstruction`` steps of the time step-wise GMVAE ELBO (+ InfoNCE, whose
   negatives are windows of other training tasks, identified by buffer / collector task id).
3. policy: ``num_training_steps_policy`` SAC steps on beliefs computed (without gradient) from the context
   windows before each sampled transition.

Train stats include ``encoder_seconds`` and ``policy_seconds`` of the iteration (the runner adds
``collect_seconds``, measured by the collector).
"""

from __future__ import annotations

import math
import time
from dataclasses import fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import torch

from harness.method import Method
from harness.registry import register_method
from methods.common.replay import Boundary, MultiTaskReplay, SequenceBatch
from methods.common.sac import StatsMean
from methods.common.search import suggest_batch_size, suggest_gamma, suggest_lr
from methods.moss.agent import BeliefSwap, MossAgent
from methods.moss.config import (
    MossConfig,
    MossNoContrastiveConfig,
    MossNoGmmConfig,
    MossPsConfig,
    MossTrajConfig,
)
from methods.moss.inference import (
    InferenceStats,
    TaskInference,
    belief_feature_dim,
    concat_sequences,
    flatten_tasks,
    sample_task_ids,
    with_columns,
)
from methods.moss.policy import BeliefSAC

if TYPE_CHECKING:
    from harness.collector import Collector
    from harness.context import RunContext
    from harness.suite import Suite, Task

#: SAC steps whose beliefs are computed in one encoder call (speed only; no effect on the result).
POLICY_CHUNK = 8

#: The paper's hyperparameter table columns: suite -> (n_train, initial, per-episode, tasks/episode, epochs).
_PAPER_SCHEDULES: dict[str, tuple[int, int, int, int, int]] = {
    "cheetah-vel": (100, 200, 200, 30, 501),
    "cheetah-multi-task": (70, 200, 200, 70, 3001),
    "ml1-push-v1": (50, 800, 800, 30, 2501),
    "ml1-push-v2": (50, 800, 800, 30, 2501),
}


@register_method("moss")
class Moss(Method):
    """MoSS: GMVAE + GRU online task inference, InfoNCE, Bayes-adaptive SAC; see the module docstring."""

    config_cls: ClassVar[type[Any]] = MossConfig
    hparams_file: ClassVar[Path | None] = Path(__file__).with_name("hparams.yaml")
    eval_episodes: ClassVar[int] = 1

    config: MossConfig

    @classmethod
    def search_space(cls, trial: Any) -> dict[str, Any]:
        """Policy and encoder learning rates, discount, KL weights, InfoNCE weight and SAC batch size."""
        return {
            **dict.fromkeys(("actor_lr", "critic_lr"), suggest_lr(trial, "policy_lr")),
            "lr_encoder": suggest_lr(trial, "lr_encoder"),
            "gamma": suggest_gamma(trial),
            "alpha_kl_component": float(trial.suggest_float("alpha_kl_component", 1e-3, 1.0, log=True)),
            "beta_kl_categorical": float(trial.suggest_float("beta_kl_categorical", 1e-3, 1.0, log=True)),
            "contrastive_weight": float(trial.suggest_float("contrastive_weight", 0.1, 10.0, log=True)),
            "batch_size": suggest_batch_size(trial, 6, 9),
        }

    @classmethod
    def published_budget(cls, suite: Suite) -> int | None:
        """Env steps of the paper's table: ``n_train * initial + epochs * tasks * per_episode``."""
        if suite.name not in _PAPER_SCHEDULES:
            return None
        n_train, initial, per_episode, tasks, epochs = _PAPER_SCHEDULES[suite.name]
        return n_train * initial + epochs * tasks * per_episode

    @classmethod
    def privileged_task(cls, config: Any) -> bool:
        """Meta-training reads the true task with ``critic_input: task`` (critics that read it)."""
        return bool(config.critic_input == "task")

    # ------------------------------------------------------------------------------------------- setup

    def setup(self, suite: Suite, train_tasks: list[Task], ctx: RunContext) -> None:
        cfg = self.config
        spec = suite.spec
        self.device = torch.device(ctx.device)
        self.obs_dim, self.act_dim, self.horizon = spec.obs_dim, spec.act_dim, suite.horizon
        self.num_tasks = len(train_tasks)
        self.rng = ctx.rng("moss", "tasks")
        #: Task columns the critics read (privileged critic), stored beside each transition as extra "task".
        self.task_dim = spec.task_dim if self.privileged_task(cfg) else 0
        self.replay = MultiTaskReplay(self.num_tasks, self.obs_dim, self.act_dim, cfg.replay_capacity,
                                      ctx.rng("moss", "replay"), self.device,
                                      extra_fields={"task": (self.task_dim,)} if self.task_dim else None)
        contrastive = cfg.use_contrastive and (not suite.nonstationary or cfg.segment_contrastive)
        #: InfoNCE on windows inside one segment, grouped by segment (non-stationary suites).
        self.segment_contrast = contrastive and suite.nonstationary
        #: SAC beliefs from an independent window of the sampled transition's task: any episode of its
        #: training task on stationary suites; on non-stationary ones (another episode's window may belong
        #: to another task) a window of the same segment, the stretch of its episode under one task.
        self.same_task_beliefs = cfg.sac_belief_context == "same-task"
        self.nonstationary = suite.nonstationary
        self.inference = TaskInference(self.obs_dim, self.act_dim, cfg, contrastive, self.device)
        self.policy = BeliefSAC(self.obs_dim, self.act_dim, belief_feature_dim(cfg), cfg, self.device,
                                self.task_dim)
        self.iteration = 0
        self._mean_window = (self.config.time_steps + 1) / 2  # running estimate, for batch sizing

    # ------------------------------------------------------------------------------------------- agent

    def agent(self, num_envs: int) -> MossAgent:
        cfg = self.config
        return MossAgent(self.inference.encoder, self.policy, num_envs, cfg.online_inference,
                         cfg.bayes_adaptive, self.device, None if cfg.retain_hidden else cfg.time_steps)

    # -------------------------------------------------------------------------------------- training

    def _collect(self, collector: Collector) -> int:
        cfg = self.config
        if self.iteration == 0 and cfg.warmup == "every-task":
            task_ids = np.arange(self.num_tasks)
        else:
            task_ids = sample_task_ids(self.rng, list(range(self.num_tasks)), cfg.num_train_tasks_per_episode)
        steps = cfg.num_transitions_initial if self.iteration == 0 else cfg.num_transitions_per_episode
        episodes = max(1, math.ceil(steps / self.horizon))
        agent = self.agent(len(task_ids))
        if cfg.behaviour_swap_share > 0:
            agent.swap = BeliefSwap(len(task_ids), cfg.behaviour_swap_share, cfg.behaviour_swap_steps,
                                    self.rng)
        rollout = collector.collect(agent, task_ids.tolist(), episodes=episodes)
        if not self.task_dim:
            return self.replay.add_rollout(rollout)
        if rollout.task is None:
            raise RuntimeError("critic_input='task' needs the collector to hand over the task "
                               "(Collector(privileged_task=True), as the runner builds it for this method)")
        return self.replay.add_rollout(rollout, {"task": rollout.task})

    def _encoder_phase(self) -> InferenceStats | None:
        cfg = self.config
        tasks = self.replay.task_ids()
        if not tasks or cfg.num_training_steps_reconstruction < 1:
            return None
        self.inference.fit_normalization(self.replay)
        boundary: Boundary = "episode" if cfg.online_inference else "trial"
        stats: list[InferenceStats] = []
        for _ in range(cfg.num_training_steps_reconstruction):
            ids = sample_task_ids(self.rng, tasks, cfg.contrastive_tasks)
            per_task = max(1, cfg.batch_size_reconstruction // len(ids))
            batch = self.replay.sample_sequences(ids.tolist(), per_task, cfg.time_steps, boundary=boundary,
                                                 include_current=True)
            groups = torch.as_tensor(np.repeat(ids, per_task), device=self.device)
            contrast = self._segment_pairs(ids, max(1, per_task // 2)) if self.segment_contrast else None
            stats.append(self.inference.update(flatten_tasks(batch), groups, contrast))
        names = [f.name for f in fields(InferenceStats)]
        return InferenceStats(*(torch.stack([getattr(s, n) for s in stats]).mean() for n in names))

    def _segment_pairs(self, ids: np.ndarray, per_task: int) -> tuple[SequenceBatch, torch.Tensor]:
        """``per_task`` pairs of windows of each task in ``ids`` for the segment InfoNCE: a window ending at a
        uniformly drawn transition and one ending at an independent transition of the same segment (both
        inside the segment), with group ids ``[2 * P]`` naming the pair (the first halves, then the
        second)."""
        w = self.config.time_steps
        draws = [(int(t), per_task) for t in ids.tolist()]
        first, second = self._segment_window_pairs(draws, w, True, w, True)
        pairs = torch.arange(len(ids) * per_task, device=self.device)
        return concat_sequences([first, second]), torch.cat([pairs, pairs])

    def _window_counts(self, n: int) -> np.ndarray:
        """``[num_tasks]`` how many of ``n`` windows each task gets (uniform over tasks with data)."""
        ids = self.rng.choice(np.asarray(self.replay.task_ids()), size=n)
        return np.bincount(ids, minlength=self.num_tasks)

    def _windows(
        self, counts: np.ndarray, length: int, boundary: Boundary, include_current: bool
    ) -> SequenceBatch:
        """``counts[t]`` context windows of every task ``t`` in one batch (task order)."""
        draws = [(int(t), self.replay.buffer(int(t)).sample_indices(int(counts[t])))
                 for t in np.flatnonzero(counts)]
        return self.replay.gather_sequences(draws, length, boundary, include_current)

    def _segment_windows(
        self, counts: np.ndarray, length: int, include_current: bool, other_length: int
    ) -> tuple[SequenceBatch, SequenceBatch]:
        """Windows that stay inside one segment, each with an independent window of the same segment.

        ``counts[t]`` windows of ``length`` of every task ``t`` (task order; a window never crosses a task
        switch) and, row for row, a window of ``other_length`` transitions before a transition drawn
        uniformly from the same segment of the same episode (non-stationary ``same-task`` beliefs).
        """
        return self._segment_window_pairs([(int(t), int(counts[t])) for t in np.flatnonzero(counts)], length,
                                          include_current, other_length, False,
                                          self.config.same_task_first_segment)

    def _segment_window_pairs(
        self, draws: list[tuple[int, int]], length: int, include_current: bool, other_length: int,
        other_current: bool, first_segment: bool = False,
    ) -> tuple[SequenceBatch, SequenceBatch]:
        """For each ``(task, n)`` of ``draws`` in order, ``n`` windows of ``length`` ending at (or, without
        ``include_current``, before) uniformly drawn transitions of the task's buffer, and row for row a
        window of ``other_length`` ending at (``other_current``) or before an independent transition of the
        same segment (``first_segment``: of any episode's first segment for a transition in its episode's
        first segment); every window stays inside its segment."""
        own, other = [], []
        for t, n in draws:  # the draws in the order of the per-task calls before (same random numbers)
            buf = self.replay.buffer(t)
            idx = buf.sample_indices(n)
            own.append((t, idx))
            pick = buf.first_segment_indices(idx) if first_segment else buf.same_segment_indices(idx)
            other.append((t, pick))
        return (self.replay.gather_sequences(own, length, "segment", include_current),
                self.replay.gather_sequences(other, other_length, "segment", other_current))

    def _policy_samples(self, wanted: int) -> tuple[torch.Tensor, ...]:
        """About ``wanted`` SAC samples (obs, belief, action, reward, next_obs, next_belief, terminated).

        With a privileged critic ``obs`` and ``next_obs`` carry the transition's task after the state."""
        cfg = self.config
        task = "task" if self.task_dim else None
        w = cfg.time_steps + 1
        if cfg.online_inference and cfg.use_trajectory_sample_sac:
            n = max(1, math.ceil(wanted / self._mean_window))
            counts = self._window_counts(n)
            other: SequenceBatch | None = None
            if self.same_task_beliefs and self.nonstationary:
                batch, other = self._segment_windows(counts, w, True, cfg.time_steps)
            else:
                batch = self._windows(counts, w, "episode", True)
                if self.same_task_beliefs:
                    other = self._windows(counts, cfg.time_steps, "episode", False)
            out = self.inference.window_transitions(batch, other, task)
            self._mean_window = max(1.0, len(out[0]) / n)
            return out
        counts = self._window_counts(wanted)
        if cfg.online_inference and self.same_task_beliefs and self.nonstationary:
            seq, ctx = self._segment_windows(counts, w, True, cfg.time_steps)
        else:
            seq = self._windows(counts, w, "episode", True)
            ctx = (self._windows(counts, cfg.time_steps, "episode", False)
                   if cfg.online_inference and self.same_task_beliefs else seq)
        cur = seq.current
        if cfg.online_inference and self.same_task_beliefs:  # after a whole independent window, for s and s'
            b = nb = self.inference.context_beliefs(ctx)
        elif cfg.online_inference:
            b, nb = self.inference.transition_beliefs(seq)
        else:  # trajectory-level: one belief from an independent window of the same task, for s and s'
            b = nb = self.inference.context_beliefs(self._windows(counts, cfg.time_steps, "trial", False))
        obs, next_obs = cur.obs, cur.next_obs
        if task is not None:  # s' keeps the task of s
            obs, next_obs = with_columns(obs, cur.extras[task]), with_columns(next_obs, cur.extras[task])
        return obs, b, cur.action, cur.reward, next_obs, nb, cur.terminated

    def _policy_phase(self) -> dict[str, float]:
        cfg = self.config
        bs, total_steps = cfg.batch_size, cfg.num_training_steps_policy
        mean = StatsMean()
        done = 0
        while done < total_steps:
            chunk = min(POLICY_CHUNK, total_steps - done)
            samples = self._policy_samples(chunk * bs)
            if not cfg.next_belief_in_target:  # the belief of s also stands for s' (tigr)
                samples = (*samples[:5], samples[1], samples[6])
            n = len(samples[0])
            perm = torch.as_tensor(self.rng.permutation(n), device=self.device)
            samples = tuple(x[perm] for x in samples)
            for i in range(max(1, min(chunk, n // bs))):
                batch = tuple(x[i * bs : (i + 1) * bs] for x in samples)
                mean.add(self.policy.update(*batch))
                done += 1
        return mean.result()

    def train_step(self, collector: Collector) -> dict[str, float]:
        stored = self._collect(collector)
        t1 = time.perf_counter()
        enc = self._encoder_phase()
        t2 = time.perf_counter()
        pol = self._policy_phase() if self.replay.task_ids() else {}
        t3 = time.perf_counter()
        self.iteration += 1
        # The runner records ``collect_seconds`` (the collector's own clock) next to these.
        stats: dict[str, float] = {"encoder_seconds": t2 - t1, "policy_seconds": t3 - t2,
                                   "stored_steps": float(stored)}
        if enc is not None:
            stats.update({f"encoder_{f.name}": float(getattr(enc, f.name)) for f in fields(InferenceStats)
                          if f.name != "relabel" or self.config.relabel_weight > 0})
        stats.update({f"policy_{k}": v for k, v in pol.items()})
        return stats

    # -------------------------------------------------------------------------------------------- state

    def state_dict(self) -> dict[str, Any]:
        return {"inference": self.inference.state_dict(), "policy": self.policy.state_dict(),
                "replay": self.replay.state_dict(), "rng": self.rng.bit_generator.state,
                "iteration": self.iteration, "mean_window": self._mean_window}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.inference.load_state_dict(state["inference"])
        self.policy.load_state_dict(state["policy"])
        self.replay.load_state_dict(state["replay"])
        self.rng.bit_generator.state = state["rng"]
        self.iteration = int(state["iteration"])
        # Checkpoints before this key existed restart the estimate (the sampling then differs from an
        # uninterrupted run's; numbers stay valid).
        self._mean_window = float(state.get("mean_window", (self.config.time_steps + 1) / 2))


@register_method("moss-no-gmm")
class MossNoGmm(Moss):
    """Ablation: a single Gaussian VAE (latent ``num_classes * latent_dim``) instead of the mixture."""

    config_cls: ClassVar[type[Any]] = MossNoGmmConfig


@register_method("moss-no-contrastive")
class MossNoContrastive(Moss):
    """Ablation: no InfoNCE term."""

    config_cls: ClassVar[type[Any]] = MossNoContrastiveConfig


@register_method("moss-traj")
class MossTraj(Moss):
    """Ablation: trajectory-level inference (belief refreshed between episodes; 3-episode trials)."""

    config_cls: ClassVar[type[Any]] = MossTrajConfig
    eval_episodes: ClassVar[int] = 3


@register_method("moss-ps")
class MossPs(Moss):
    """Ablation: posterior sampling (the policy sees a sample of the belief, not its mean and variance)."""

    config_cls: ClassVar[type[Any]] = MossPsConfig
