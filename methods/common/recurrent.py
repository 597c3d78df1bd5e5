"""Recurrent building blocks shared by VariBAD's encoder and RL2's policy.

* :class:`TransitionEmbedding`: one ReLU linear layer per input (state, action, reward), concatenated, as
  in lmzintgraf/varibad ``models/encoder.py`` (``FeatureExtractor`` per input). A width of 0 feeds that
  input raw (varibad humanoid: no input embeddings).
* :class:`EmbeddedGRU`: embeddings (+ optional raw extra features such as a done flag) -> single-layer GRU
  with orthogonal weights and zero biases (varibad ``RNNEncoder``). ``sequence`` runs whole ``[B, L]``
  sequences (optionally with truncated backpropagation every ``tbptt`` steps), ``step`` one step
  ``[B]`` for online acting; both give the same numbers.
"""

from __future__ import annotations

import torch
from torch import nn


class TransitionEmbedding(nn.Module):
    """Per-input ReLU embeddings of (state, action, reward), concatenated.

    Args:
        obs_dim, act_dim: input sizes.
        state_embed, action_embed, reward_embed: embedding widths (0: pass that input through unchanged).
    """

    def __init__(self, obs_dim: int, act_dim: int, state_embed: int, action_embed: int, reward_embed: int):
        super().__init__()

        def embed(in_dim: int, width: int) -> nn.Module:
            return nn.Sequential(nn.Linear(in_dim, width), nn.ReLU()) if width > 0 else nn.Identity()

        self.state = embed(obs_dim, state_embed)
        self.action = embed(act_dim, action_embed)
        self.reward = embed(1, reward_embed)
        self.out_dim = (state_embed or obs_dim) + (action_embed or act_dim) + (reward_embed or 1)

    def forward(self, state: torch.Tensor, action: torch.Tensor, reward: torch.Tensor) -> torch.Tensor:
        """``state [..., obs_dim]``, ``action [..., act_dim]``, ``reward [...]`` -> ``[..., out_dim]``."""
        return torch.cat([self.state(state), self.action(action), self.reward(reward.unsqueeze(-1))], dim=-1)


def init_gru_(gru: nn.GRU) -> nn.GRU:
    """Orthogonal weights and zero biases (varibad ``RNNEncoder``); returns ``gru``."""
    for name, param in gru.named_parameters():
        if "bias" in name:
            nn.init.zeros_(param)
        elif "weight" in name:
            nn.init.orthogonal_(param)
    return gru


class EmbeddedGRU(nn.Module):
    """Transition embeddings (+ ``extra_dim`` raw features) -> GRU of width ``hidden``.

    Args:
        obs_dim, act_dim: sizes of the state and action inputs.
        hidden: GRU hidden size.
        state_embed, action_embed, reward_embed: embedding widths (see :class:`TransitionEmbedding`).
        extra_dim: raw features appended after the embeddings (e.g. RL2's done flag).
    """

    def __init__(
        self, obs_dim: int, act_dim: int, hidden: int, state_embed: int, action_embed: int, reward_embed: int,
        extra_dim: int = 0,
    ) -> None:
        super().__init__()
        self.embed = TransitionEmbedding(obs_dim, act_dim, state_embed, action_embed, reward_embed)
        self.hidden = hidden
        self.gru = init_gru_(nn.GRU(self.embed.out_dim + extra_dim, hidden, batch_first=True))

    def inputs(
        self, state: torch.Tensor, action: torch.Tensor, reward: torch.Tensor, extra: torch.Tensor | None
    ) -> torch.Tensor:
        x = self.embed(state, action, reward)
        return x if extra is None else torch.cat([x, extra], dim=-1)

    def sequence(
        self,
        state: torch.Tensor,
        action: torch.Tensor,
        reward: torch.Tensor,
        extra: torch.Tensor | None = None,
        h0: torch.Tensor | None = None,
        tbptt: int | None = None,
    ) -> torch.Tensor:
        """GRU outputs ``[B, L, hidden]`` for sequences ``state [B, L, obs]``, ``action [B, L, act]``,
        ``reward [B, L]``, ``extra [B, L, extra_dim]``, from ``h0 [B, hidden]`` (zeros if None).

        ``tbptt``: detach the hidden state every ``tbptt`` steps (truncated backpropagation through time).
        """
        x = self.inputs(state, action, reward, extra)
        h = None if h0 is None else h0.unsqueeze(0).contiguous()
        if tbptt is None or tbptt >= x.shape[1]:
            return self.gru(x, h)[0]
        outs = []
        for start in range(0, x.shape[1], tbptt):
            out, h = self.gru(x[:, start:start + tbptt], h)
            outs.append(out)
            h = h.detach()
        return torch.cat(outs, dim=1)

    def step(
        self, h: torch.Tensor, state: torch.Tensor, action: torch.Tensor, reward: torch.Tensor,
        extra: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """One step: ``h [B, hidden]`` and inputs ``[B, ...]`` -> next hidden state ``[B, hidden]``."""
        x = self.inputs(state, action, reward, extra)
        # one fused cell call on the GRU's own weights: same numbers as ``sequence``, much faster than nn.GRU
        w_ih, w_hh, b_ih, b_hh = self.gru.all_weights[0]
        return torch.gru_cell(x, h, w_ih, w_hh, b_ih, b_hh)
