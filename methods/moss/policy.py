"""MoSS's policy module: SAC on the hyper-state (state, belief), with state and belief embedding layers.

The SAC block is :class:`methods.common.sac.SAC` (twin Q, fixed temperature as in the paper, or learned
with ``sac_learn_alpha``). With
``policy_dim_preprocess`` the actor and the critics each get their own embedding of the state
(Linear+ReLU to ``state_embed_dim``) and of the belief (Linear+ReLU to ``latent_embed_dim``), as in the
paper's table; the embeddings are trained with the loss of the network they feed. Beliefs come in detached:
this module never sees the encoder.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from methods.common.sac import SAC, SACConfig
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
        obs_dim, act_dim: environment dimensions.
        belief_dim: size of the belief features.
        config: MoSS config (SAC sizes, rates, temperature, clipping, embeddings).
        device: torch device.
    """

    def __init__(self, obs_dim: int, act_dim: int, belief_dim: int, config: MossConfig, device: torch.device):
        self.config = config
        emb = (obs_dim, belief_dim, config.state_embed_dim, config.latent_embed_dim,
               config.policy_dim_preprocess)
        self.actor_embed = HyperStateEmbedding(*emb).to(device)
        self.critic_embed = HyperStateEmbedding(*emb).to(device)
        sac_cfg = SACConfig(
            hidden=(config.sac_layer_size,) * config.sac_layers, actor_lr=config.policy_lr,
            critic_lr=config.policy_lr, gamma=config.gamma, tau=config.tau,
            batch_size=config.batch_size_policy,
            learn_alpha=config.sac_learn_alpha, alpha=config.sac_alpha, init_alpha=config.sac_alpha,
            reward_scale=config.reward_scale,
            max_grad_norm=config.max_grad_norm_policy,
        )
        self.sac = SAC(self.actor_embed.out_dim, act_dim, sac_cfg, device)
        self.actor_embed_opt = self._adam(self.actor_embed)
        self.critic_embed_opt = self._adam(self.critic_embed)

    def _adam(self, module: nn.Module) -> torch.optim.Adam | None:
        params = list(module.parameters())
        return torch.optim.Adam(params, lr=self.config.policy_lr) if params else None

    def _step_embedding(self, module: nn.Module, opt: torch.optim.Adam | None) -> None:
        if opt is None:
            return
        if self.config.max_grad_norm_policy is not None:
            nn.utils.clip_grad_norm_(module.parameters(), self.config.max_grad_norm_policy)
        opt.step()

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
        """One SAC step (critics, actor, temperature if learned, targets) on a batch ``[B, ...]``.

        Returns detached diagnostics (losses, mean Q, entropy, temperature).
        """
        belief, next_belief = belief.detach(), next_belief.detach()
        with torch.no_grad():
            next_critic = self.critic_embed(next_obs, next_belief)
            next_actor = self.actor_embed(next_obs, next_belief)
        c_loss, c_info = self.sac.critic_loss(self.critic_embed(obs, belief), action, reward, next_critic,
                                              terminated, next_obs_actor=next_actor)
        if self.critic_embed_opt is not None:
            self.critic_embed_opt.zero_grad(set_to_none=True)
        self.sac.critic_step(c_loss)
        self._step_embedding(self.critic_embed, self.critic_embed_opt)
        with torch.no_grad():
            critic_feats = self.critic_embed(obs, belief)
        a_loss, a_info = self.sac.actor_loss(self.actor_embed(obs, belief), critic_obs=critic_feats)
        if self.actor_embed_opt is not None:
            self.actor_embed_opt.zero_grad(set_to_none=True)
        self.sac.actor_step(a_loss)
        self._step_embedding(self.actor_embed, self.actor_embed_opt)
        self.sac.alpha_step(self.sac.alpha_loss(a_info["log_prob"]))  # no-op with the fixed temperature
        self.sac.num_updates += 1
        self.sac.soft_update_targets()
        return {"critic_loss": c_loss.detach(), "actor_loss": a_loss.detach(), "q": c_info["q"],
                "entropy": a_info["entropy"], "alpha": self.sac.alpha}

    @torch.no_grad()
    def act(self, obs: torch.Tensor, belief: torch.Tensor, deterministic: bool) -> torch.Tensor:
        """Actions ``[N, act_dim]`` in (-1, 1)."""
        return self.sac.actor(self.actor_embed(obs, belief), deterministic)[0]

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
