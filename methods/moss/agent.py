"""The MoSS agent: online belief update with the GRU hidden state carried from step to step.

Online inference (MoSS), two ways of computing the belief the policy acts on at step t:

* ``retain_hidden=False`` (the paper's MuJoCo columns, and TIGR's rollout worker): from the **local context**,
  the last ``time_steps`` transitions of the episode, by a GRU pass from the empty hidden state, exactly as
  the encoder is trained and as the SAC batches compute their beliefs. The window slides, so the belief
  forgets old transitions and follows a task change inside a non-stationary episode.
* ``retain_hidden=True`` (the paper's ML1 Push column): one GRU hidden state carried from step 0 of the
  episode, updated after every transition. After ``time_steps`` steps this belief integrates a longer
  history than any window the encoder and the policy were trained on.

Either way the context is empty at the start of every episode (MoSS is evaluated zero-shot).

Trajectory-level inference (``moss-traj`` ablation): the hidden state accumulates every transition of the
trial, but the belief the policy acts on is refreshed only between episodes (the first episode acts on the
prior), as in PEARL.
"""

from __future__ import annotations

import numpy as np
import torch

from harness.agent import Agent, StepBatch
from methods.moss.encoder import GMVAEEncoder, Posterior, transition_features
from methods.moss.inference import left_align_index, policy_features, take_steps
from methods.moss.policy import BeliefSAC


class ContextWindow:
    """The last ``length`` transition features of ``N`` episodes, newest last (right-aligned).

    Args:
        num_envs: N.
        length: window size W (``time_steps``).
        feature_dim: D, raw transition feature size.
        device: torch device.
    """

    def __init__(self, num_envs: int, length: int, feature_dim: int, device: torch.device) -> None:
        self.features = torch.zeros(num_envs, length, feature_dim, device=device)  # [N, W, D]
        self.lengths = torch.zeros(num_envs, dtype=torch.long, device=device)  # [N] real transitions
        self._hidden: torch.Tensor | None = None  # cache of hidden(), valid until the window changes

    def clear(self) -> None:
        """Empty every window (start of an episode)."""
        self.features.zero_()
        self.lengths.zero_()
        self._hidden = None

    def push(self, features: torch.Tensor, active: torch.Tensor) -> None:
        """Append ``features [N, D]`` to the windows of the rows where ``active [N]`` is True."""
        shifted = torch.cat([self.features[:, 1:], features[:, None]], dim=1)
        self.features = torch.where(active[:, None, None], shifted, self.features)
        self.lengths = torch.where(active, (self.lengths + 1).clamp_max(self.features.shape[1]), self.lengths)
        self._hidden = None

    def hidden(self, encoder: GMVAEEncoder) -> torch.Tensor:
        """``[N, H]`` GRU state after the window's transitions, from the empty hidden state."""
        if self._hidden is not None:
            return self._hidden
        w = self.features.shape[1]
        mask = (torch.arange(w, device=self.features.device)[None, :] >= (w - self.lengths)[:, None]).float()
        idx, lengths = left_align_index(mask)
        out = encoder.rollout(take_steps(self.features, idx))  # [N, W + 1, H]
        self._hidden = out[torch.arange(len(lengths), device=out.device), lengths]
        return self._hidden


class BeliefSwap:
    """Training-time behaviour perturbation (``behaviour_swap_share``): stretches of env steps in which an
    env's policy acts on the belief of another env of the batch (another training task).

    Each step, every env not in a stretch starts one with probability ``p`` (so that about ``share`` of the
    steps are in one: ``p = share / (steps * (1 - share))``, capped at 1), acting for ``steps`` steps on the
    belief of env ``(i + k) % N`` with ``k`` drawn uniformly from ``1 .. N - 1``. Every step draws the same
    number of random numbers from ``rng`` (reproducible for a seeded generator). With one env there is no
    other belief and nothing is swapped.

    Args:
        num_envs: N.
        share: expected share of swapped steps, ``0 <= share <= 1``.
        steps: length of a stretch (>= 1).
        rng: the generator of the draws (the method's checkpointed RNG).
    """

    def __init__(self, num_envs: int, share: float, steps: int, rng: np.random.Generator) -> None:
        if not 0.0 <= share <= 1.0 or steps < 1:
            raise ValueError(f"behaviour swap: share must be in [0, 1] and steps >= 1, got {share}, {steps}")
        self.start_prob = 1.0 if share >= 1.0 else min(1.0, share / (steps * (1.0 - share)))
        self.steps, self.rng = steps, rng
        self.remaining = np.zeros(num_envs, dtype=np.int64)
        self.source = np.arange(num_envs)

    def reset(self) -> None:
        """End every stretch (start of an episode)."""
        self.remaining[:] = 0
        self.source = np.arange(len(self.remaining))

    def next_sources(self) -> np.ndarray:
        """``[N]`` the env whose belief each env acts on at this step (itself outside a stretch)."""
        n = len(self.remaining)
        own = np.arange(n)
        start = self.rng.random(n) < self.start_prob
        offset = self.rng.integers(1, max(n, 2), size=n)
        idle = self.remaining == 0
        start &= idle & (n > 1)
        self.source = np.where(start, (own + offset) % n, np.where(idle, own, self.source))
        self.remaining = np.where(start, self.steps, self.remaining)
        self.remaining = np.maximum(self.remaining - 1, 0)
        return self.source.copy()


class MossAgent(Agent):
    """Batched MoSS agent for ``num_envs`` envs.

    Args:
        encoder: the task encoder (shared with the method; used without gradients).
        policy: the belief-conditioned SAC.
        num_envs: N.
        online: online (per-step) inference; False: trajectory-level (see the module docstring).
        bayes_adaptive: the policy reads the belief's mean and log-variance (False: a sample).
        device: torch device of the networks.
        window: online inference only: the belief comes from the last ``window`` transitions (the paper's
            ``retain_hidden=False``); None carries one hidden state through the episode
            (``retain_hidden=True``).
    """

    def __init__(
        self,
        encoder: GMVAEEncoder,
        policy: BeliefSAC,
        num_envs: int,
        online: bool,
        bayes_adaptive: bool,
        device: torch.device,
        window: int | None = None,
        swap: BeliefSwap | None = None,
    ) -> None:
        self.encoder, self.policy, self.swap = encoder, policy, swap
        self.num_envs, self.online, self.bayes_adaptive = num_envs, online, bayes_adaptive
        self.device = device
        self._hidden = encoder.initial_hidden(num_envs)
        self._acting_hidden = self._hidden.clone()
        self._window = (ContextWindow(num_envs, window, encoder.input_dim, device)
                        if online and window is not None else None)

    def _to(self, x: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(np.asarray(x, dtype=np.float32), device=self.device)

    def reset(self, task_boundary: bool) -> None:
        if task_boundary or self.online:
            self._hidden = self.encoder.initial_hidden(self.num_envs)
        if self._window is not None:
            self._window.clear()
        self._acting_hidden = self._hidden.clone()
        if self.swap is not None:
            self.swap.reset()

    @torch.no_grad()
    def _posterior(self) -> Posterior:
        if self._window is not None:
            return self.encoder.posterior(self._window.hidden(self.encoder))
        return self.encoder.posterior(self._hidden if self.online else self._acting_hidden)

    @torch.no_grad()
    def act(self, obs: np.ndarray, deterministic: bool) -> np.ndarray:
        belief = policy_features(self._posterior(), self.bayes_adaptive)
        if self.swap is not None:
            belief = belief[torch.as_tensor(self.swap.next_sources(), device=belief.device)]
        action = self.policy.act(self._to(obs), belief, deterministic)
        return action.cpu().numpy()

    @torch.no_grad()
    def observe(self, step: StepBatch) -> None:
        feats = transition_features(self._to(step.obs), self._to(step.action), self._to(step.reward),
                                    self._to(step.next_obs))
        active = torch.as_tensor(np.asarray(step.active, dtype=bool), device=self.device)
        if self._window is not None:
            self._window.push(feats, active)
            return
        new = self.encoder.step(feats, self._hidden)
        self._hidden = torch.where(active[:, None], new, self._hidden)

    @torch.no_grad()
    def belief(self) -> dict[str, np.ndarray]:
        """Per env: ``mean``/``var`` ``[N, L]`` of the most likely component, ``class_probs`` ``[N, K]``."""
        post = self._posterior()
        mean, logvar = post.best_component()
        return {"mean": mean.cpu().numpy(), "var": logvar.exp().cpu().numpy(),
                "class_probs": post.probs.cpu().numpy()}
