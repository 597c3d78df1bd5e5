"""MoSS's policy module: SAC on the hyper-state (state, belief), with state and belief embedding layers.

The SAC block is :class:`methods.common.sac.SAC` (twin Q, fixed temperature as in the paper, or learned
with ``learn_alpha``), built from the config's SAC fields and updated by its shared step. With
``policy_dim_preprocess`` the actor and the critics each get their own embedding of the state
(Linear+ReLU to ``state_embed_dim``) and of the belief (Linear+ReLU to ``latent_embed_dim``), as in the
paper's table; the embeddings are trained with the loss of the network they feed. Beliefs come in detached:
this module never sees the encoder. With a privileged critic (``task_dim > 0``, ``critic_input: task``) the
critics read ``[state, task]`` in place of ``[state, belief]``; the actor is unchanged.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from methods.common.sac import SAC, SacBatch, SacHooks, Upstream
from methods.common.sac_graph import GraphedStep, graph_supported, step_adam
from methods.moss.config import MossConfig


class HyperStateEmbedding(nn.Module):
    """``[state, belief]`` -> features: separate Linear+ReLU embeddings, or plain concatenation.

    Args:
        obs_dim: state size.
        belief_dim: belief feature size.
        state_embed_dim, latent_embed_dim: embedding widths (ignored when ``embed`` is False).
        embed: use the embedding layers (the paper's ``policy_dim_preprocess``).
    """

    def __init__(
        self, obs_dim: int, belief_dim: int, state_embed_dim: int, latent_embed_dim: int, embed: bool
    ) -> None:
        super().__init__()
        self.embed = embed
        if embed:
            self.state = nn.Sequential(nn.Linear(obs_dim, state_embed_dim), nn.ReLU())
            self.belief = nn.Sequential(nn.Linear(belief_dim, latent_embed_dim), nn.ReLU())
            self.out_dim = state_embed_dim + latent_embed_dim
        else:
            self.out_dim = obs_dim + belief_dim

    def forward(self, obs: torch.Tensor, belief: torch.Tensor) -> torch.Tensor:
        """Features ``[..., out_dim]`` of ``obs [..., obs_dim]`` and ``belief [..., belief_dim]``."""
        if self.embed:
            return torch.cat([self.state(obs), self.belief(belief)], dim=-1)
        return torch.cat([obs, belief], dim=-1)


class BeliefSAC:
    """SAC conditioned on (state, belief); see the module docstring.

    Args:
        obs_dim, act_dim: environment dimensions (``obs_dim``: the state alone).
        belief_dim: size of the belief features.
        config: MoSS config (SAC sizes, rates, temperature, clipping, embeddings).
        device: torch device.
        task_dim: 0: the critics read the belief. Else the critics read the task (a privileged critic):
            the ``obs`` and ``next_obs`` given to :meth:`update` carry the task in ``task_dim`` columns
            after the state (``[B, obs_dim + task_dim]``) and the critics read ``[state, task]``;
            :meth:`act` takes the state alone (extra columns are ignored).
    """

    def __init__(self, obs_dim: int, act_dim: int, belief_dim: int, config: MossConfig, device: torch.device,
                 task_dim: int = 0):
        self.config = config
        self.state_dim, self.task_dim = obs_dim, task_dim
        sizes = (config.state_embed_dim, config.latent_embed_dim, config.policy_dim_preprocess)
        self.actor_embed = HyperStateEmbedding(obs_dim, belief_dim, *sizes).to(device)
        self.critic_embed = HyperStateEmbedding(obs_dim, task_dim or belief_dim, *sizes).to(device)
        self.sac = SAC(self.actor_embed.out_dim, act_dim, config.sac_config(), device,
                       critic_obs_dim=self.critic_embed.out_dim)
        graphed = graph_supported(self.sac)
        self.actor_embed_opt = self._adam(self.actor_embed, config.actor_lr, graphed)
        self.critic_embed_opt = self._adam(self.critic_embed, config.critic_lr, graphed)
        self._graphed = self._graph()

    @staticmethod
    def _adam(module: nn.Module, lr: float, graphed: bool) -> torch.optim.Adam | None:
        params = list(module.parameters())
        return step_adam(params, lr, graphed) if params else None

    def _graph(self) -> GraphedStep | None:
        """:meth:`update` replayed from a CUDA graph (:mod:`methods.common.sac_graph`) where supported."""
        if not graph_supported(self.sac):
            return None
        opts = [o for o in (self.actor_embed_opt, self.critic_embed_opt) if o is not None]
        return GraphedStep(self._update, self.sac, opts)

    def _upstream(self, module: nn.Module, opt: torch.optim.Adam | None) -> Upstream | None:
        """The embedding as an upstream module of a SAC loss (clipped like the networks it feeds)."""
        return None if opt is None else Upstream(opt, list(module.parameters()), self.config.max_grad_norm)

    def update(
        self,
        obs: torch.Tensor,
        belief: torch.Tensor,
        action: torch.Tensor,
        reward: torch.Tensor,
        next_obs: torch.Tensor,
        next_belief: torch.Tensor,
        terminated: torch.Tensor,
    ) -> dict[str, torch.Tensor]:
        """One SAC step (critics, actor, temperature if learned, targets) on a batch ``[B, ...]``: the shared
        :meth:`methods.common.sac.SAC.step` with each embedding trained by the loss of the network it feeds.

        With a privileged critic ``obs`` and ``next_obs`` are ``[B, obs_dim + task_dim]`` (state, then the
        task; ``next_obs`` with the task of ``obs``: bootstrapping within the transition's task).

        Returns detached diagnostics (losses, mean Q, entropy, temperature). On CUDA the step is replayed
        from a CUDA graph (``config.cuda_graph``).
        """
        if self._graphed is not None:
            return self._graphed(obs, belief, action, reward, next_obs, next_belief, terminated)
        return self._update(obs, belief, action, reward, next_obs, next_belief, terminated)

    def _update(
        self,
        obs: torch.Tensor,
        belief: torch.Tensor,
        action: torch.Tensor,
        reward: torch.Tensor,
        next_obs: torch.Tensor,
        next_belief: torch.Tensor,
        terminated: torch.Tensor,
    ) -> dict[str, torch.Tensor]:
        """The eager :meth:`update`."""
        belief, next_belief = belief.detach(), next_belief.detach()
        (state, cond), (next_state, next_cond) = self._split(obs, belief), self._split(next_obs, next_belief)
        with torch.no_grad():
            next_critic = self.critic_embed(next_state, next_cond)
            next_actor = self.actor_embed(next_state, next_belief)

        def critic_features() -> torch.Tensor:  # for the actor loss: the critic embedding after its step
            with torch.no_grad():
                return self.critic_embed(state, cond)

        batch = SacBatch(obs=self.critic_embed(state, cond), action=action, reward=reward,
                         next_obs=next_critic, done=terminated, next_obs_actor=next_actor,
                         actor_obs=self.actor_embed(state, belief))
        return self.sac.step(batch, SacHooks(
            critic_upstream=self._upstream(self.critic_embed, self.critic_embed_opt),
            actor_upstream=self._upstream(self.actor_embed, self.actor_embed_opt),
            actor_critic_obs=critic_features,
        ))

    def _split(self, obs: torch.Tensor, belief: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(state, what the critics read besides it)``: ``(obs, belief)``, or with a privileged critic
        the state and task columns of ``obs``."""
        if not self.task_dim:
            return obs, belief
        return obs[..., : self.state_dim], obs[..., self.state_dim :]

    @torch.no_grad()
    def act(self, obs: torch.Tensor, belief: torch.Tensor, deterministic: bool) -> torch.Tensor:
        """Actions ``[N, act_dim]`` in (-1, 1) for states ``obs [N, obs_dim]`` (extra columns ignored)."""
        return self.sac.actor(self.actor_embed(obs[..., : self.state_dim], belief), deterministic)[0]

    def parameters(self) -> list[nn.Parameter]:
        """Every trainable parameter of the policy module (actor, critics, embeddings)."""
        return [*self.actor_embed.parameters(), *self.critic_embed.parameters(), *self.sac.actor.parameters(),
                *self.sac.critic.parameters()]

    def state_dict(self) -> dict[str, Any]:
        return {
            "sac": self.sac.state_dict(), "actor_embed": self.actor_embed.state_dict(),
            "critic_embed": self.critic_embed.state_dict(),
            "actor_embed_opt": None if self.actor_embed_opt is None else self.actor_embed_opt.state_dict(),
            "critic_embed_opt": None if self.critic_embed_opt is None else self.critic_embed_opt.state_dict(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.sac.load_state_dict(state["sac"])
        self.actor_embed.load_state_dict(state["actor_embed"])
        self.critic_embed.load_state_dict(state["critic_embed"])
        if self.actor_embed_opt is not None:
            self.actor_embed_opt.load_state_dict(state["actor_embed_opt"])
        if self.critic_embed_opt is not None:
            self.critic_embed_opt.load_state_dict(state["critic_embed_opt"])
        self._graphed = self._graph()  # the optimizers' state tensors were replaced: capture anew
