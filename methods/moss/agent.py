"""The MoSS agent: online belief update with the GRU hidden state carried from step to step.

Online inference (MoSS): at the start of every episode the hidden state is the empty-context state (the
encoder is trained on within-episode windows, and MoSS is evaluated zero-shot); every observed transition
updates it, so the belief follows a task change inside a non-stationary episode.

Trajectory-level inference (``moss-traj`` ablation): the hidden state accumulates every transition of the
trial, but the belief the policy acts on is refreshed only between episodes (the first episode acts on the
prior), as in PEARL.
"""

from __future__ import annotations

import numpy as np
import torch

from harness.agent import Agent, StepBatch
from methods.moss.encoder import GMVAEEncoder, Posterior, transition_features
from methods.moss.inference import policy_features
from methods.moss.policy import BeliefSAC


class MossAgent(Agent):
    """Batched MoSS agent for ``num_envs`` envs.

    Args:
        encoder: the task encoder (shared with the method; used without gradients).
        policy: the belief-conditioned SAC.
        num_envs: N.
        online: online (per-step) inference; False: trajectory-level (see the module docstring).
        bayes_adaptive: the policy reads the belief's mean and log-variance (False: a sample).
        device: torch device of the networks.
    """

    def __init__(
        self,
        encoder: GMVAEEncoder,
        policy: BeliefSAC,
        num_envs: int,
        online: bool,
        bayes_adaptive: bool,
        device: torch.device,
    ) -> None:
        self.encoder, self.policy = encoder, policy
        self.num_envs, self.online, self.bayes_adaptive = num_envs, online, bayes_adaptive
        self.device = device
        self._hidden = encoder.initial_hidden(num_envs)
        self._acting_hidden = self._hidden.clone()

    def _to(self, x: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(np.asarray(x, dtype=np.float32), device=self.device)

    def reset(self, task_boundary: bool) -> None:
        if task_boundary or self.online:
            self._hidden = self.encoder.initial_hidden(self.num_envs)
        self._acting_hidden = self._hidden.clone()

    @torch.no_grad()
    def _posterior(self) -> Posterior:
        return self.encoder.posterior(self._hidden if self.online else self._acting_hidden)

    @torch.no_grad()
    def act(self, obs: np.ndarray, deterministic: bool) -> np.ndarray:
        belief = policy_features(self._posterior(), self.bayes_adaptive)
        action = self.policy.act(self._to(obs), belief, deterministic)
        return action.cpu().numpy()

    @torch.no_grad()
    def observe(self, step: StepBatch) -> None:
        feats = transition_features(self._to(step.obs), self._to(step.action), self._to(step.reward),
                                    self._to(step.next_obs))
        new = self.encoder.step(feats, self._hidden)
        active = torch.as_tensor(np.asarray(step.active, dtype=bool), device=self.device)[:, None]
        self._hidden = torch.where(active, new, self._hidden)

    @torch.no_grad()
    def belief(self) -> dict[str, np.ndarray]:
        """Per env: ``mean``/``var`` ``[N, L]`` of the most likely component, ``class_probs`` ``[N, K]``."""
        post = self._posterior()
        mean, logvar = post.best_component()
        return {"mean": mean.cpu().numpy(), "var": logvar.exp().cpu().numpy(),
                "class_probs": post.probs.cpu().numpy()}
