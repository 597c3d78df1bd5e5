"""The PEARL agent: a policy conditioned on a latent z drawn from the prior or from a posterior.

The same class serves training collection and evaluation:

* **Evaluation** (``accumulate=True``, what :meth:`Pearl.agent` returns; oyster ``collect_paths``): a trial
  starts from the prior ``N(0, I)``. Every observed transition (the terminal one included) is appended to the
  trial's own context. Before each episode z is redrawn: from the prior while fewer than ``num_exp_traj_eval``
  episodes are done, then from the posterior ``q(z | c)`` inferred from **all** the context gathered in this
  trial so far (on-policy exploration in the test task only; never replay data, unlike garage's
  ``adapt_policy``, garage#1374). With ``num_exp_traj_eval = 2`` and 3 episodes, episodes 0 and 1 act with
  prior samples and episode 2 with a posterior sample (the paper's headline number).
* **Training collection** (``accumulate=False``; oyster ``collect_data``): the method sets the belief with
  :meth:`PearlAgent.set_belief` (the prior, or a posterior inferred from encoder-buffer context); z is
  redrawn from that belief before every episode (oyster ``resample_z_rate = 1``).

z is drawn with the agent's own ``torch.Generator`` so evaluating never touches the training RNG streams.
"""

from __future__ import annotations

import numpy as np
import torch

from harness.agent import Agent, StepBatch
from methods.common.sac import TanhGaussianActor
from methods.pearl.encoder import ContextEncoder, Gaussian, context_features, standard_normal


class PearlAgent(Agent):
    """Batched PEARL agent for ``num_envs`` envs; see the module docstring.

    Args:
        encoder: the context encoder (shared with the method; used without gradients).
        actor: the policy on ``[obs, z]`` (shared with the method).
        num_envs: N.
        use_next_obs: context transitions include s'.
        num_exp_traj_eval: prior episodes before the posterior takes over (evaluation mode).
        accumulate: evaluation mode (collect the trial's context and infer from it); False: training
            collection, the belief is set from outside.
        generator: source of the z samples (on ``device``).
        device: torch device of the networks.
    """

    def __init__(
        self,
        encoder: ContextEncoder,
        actor: TanhGaussianActor,
        num_envs: int,
        use_next_obs: bool,
        num_exp_traj_eval: int,
        accumulate: bool,
        generator: torch.Generator,
        device: torch.device,
    ) -> None:
        self.encoder, self.actor = encoder, actor
        self.num_envs, self.use_next_obs = num_envs, use_next_obs
        self.num_exp_traj_eval, self.accumulate = num_exp_traj_eval, accumulate
        self.generator, self.device = generator, device
        self.latent_dim = encoder.latent_dim
        self.episodes_done = 0
        self.posterior_active = False
        self._context: list[torch.Tensor] = []  # per step: [N, input_dim]
        self._mask: list[torch.Tensor] = []  # per step: [N] float, 1.0 where the env stepped
        self.belief_dist = standard_normal((num_envs, self.latent_dim), device)
        self.z = self._draw()

    # ------------------------------------------------------------------------------------------ belief

    def _draw(self) -> torch.Tensor:
        if not self.encoder.information_bottleneck:  # deterministic z (the prior's is 0, as in oyster)
            return self.belief_dist.mean.clone()
        return self.belief_dist.rsample(self.generator)

    def set_belief(self, belief: Gaussian, posterior: bool = True) -> None:
        """Act from ``belief`` (``[N, L]`` each) from now on and draw a fresh z from it."""
        self.belief_dist = Gaussian(belief.mean.detach().to(self.device), belief.var.detach().to(self.device))
        self.posterior_active = posterior
        self.z = self._draw()

    def clear_belief(self) -> None:
        """Back to the prior ``N(0, I)`` (and a fresh z from it)."""
        self.set_belief(standard_normal((self.num_envs, self.latent_dim), self.device), posterior=False)

    def context(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The trial's context so far: features ``[N, T, input_dim]`` and mask ``[N, T]``."""
        if not self._context:
            return (torch.zeros(self.num_envs, 0, self.encoder.input_dim, device=self.device),
                    torch.zeros(self.num_envs, 0, device=self.device))
        return torch.stack(self._context, dim=1), torch.stack(self._mask, dim=1)

    @torch.no_grad()
    def infer_posterior(self) -> None:
        """Posterior from all of the trial's context so far; act with a sample of it."""
        feats, mask = self.context()
        self.set_belief(self.encoder(feats, mask), posterior=True)

    # -------------------------------------------------------------------------------------- protocol

    def reset(self, task_boundary: bool) -> None:
        if not self.accumulate:
            if task_boundary:
                self.episodes_done = 0
            else:
                self.episodes_done += 1
            self.z = self._draw()
            return
        if task_boundary:
            self.episodes_done = 0
            self._context, self._mask = [], []
            self.clear_belief()
            return
        self.episodes_done += 1
        if self.episodes_done >= self.num_exp_traj_eval:
            self.infer_posterior()
        else:
            self.z = self._draw()

    @torch.no_grad()
    def act(self, obs: np.ndarray, deterministic: bool) -> np.ndarray:
        x = torch.as_tensor(np.asarray(obs, dtype=np.float32), device=self.device)
        action, _ = self.actor(torch.cat([x, self.z], dim=-1), deterministic)
        return action.cpu().numpy()

    def observe(self, step: StepBatch) -> None:
        if not self.accumulate:
            return
        t = self._tensor
        feats = context_features(t(step.obs), t(step.action), t(step.reward),
                                 t(step.next_obs) if self.use_next_obs else None)
        self._context.append(feats)
        self._mask.append(t(np.asarray(step.active, dtype=np.float32)))

    def belief(self) -> dict[str, np.ndarray]:
        """Per env: ``mean`` / ``var`` ``[N, L]`` of the distribution z is drawn from and ``z`` ``[N, L]``."""
        return {"mean": self.belief_dist.mean.cpu().numpy(), "var": self.belief_dist.var.cpu().numpy(),
                "z": self.z.cpu().numpy()}

    def _tensor(self, x: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(np.asarray(x, dtype=np.float32), device=self.device)
