"""Oyster's state-value network for the ``sac_variant = "v_net"`` option (the older SAC of the PEARL code).

In oyster (``rlkit/torch/sac/sac.py``) the critics' Bellman target is ``reward_scale * r + gamma * (1 - d) *
V_target(s', z)`` with a Polyak-averaged copy of a state-value network V, and V regresses onto
``min_i Q_i(s, a~pi, z) - log pi(a|s, z)`` (entropy weight 1, i.e. ``alpha = 1``). The modern SAC block
replaces V by target critics; this module provides V and its target so the method can run either way.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from methods.common.nets import mlp
from methods.common.sac_graph import step_adam


class StateValue(nn.Module):
    """``V(features) -> [...]`` with a Polyak-averaged target copy and its own Adam optimizer.

    Args:
        in_dim: feature size (state and z).
        hidden: hidden widths (oyster: 3 x 300).
        lr: Adam learning rate (oyster ``vf_lr`` = 3e-4).
        device: where the networks live.
        graphed: V is trained inside a CUDA graph (:func:`methods.common.sac_graph.step_adam`).
    """

    def __init__(self, in_dim: int, hidden: Sequence[int], lr: float, device: torch.device,
                 graphed: bool = False) -> None:
        super().__init__()
        self.net = mlp(in_dim, hidden, 1).to(device)
        self.target = copy.deepcopy(self.net).requires_grad_(False)
        self.opt = step_adam(self.net.parameters(), lr, graphed)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.net(features).squeeze(-1)

    @torch.no_grad()
    def target_value(self, features: torch.Tensor) -> torch.Tensor:
        """``V_target(features)`` ``[...]`` (no gradient)."""
        return self.target(features).squeeze(-1)

    def step(self, features: torch.Tensor, v_target: torch.Tensor) -> torch.Tensor:
        """One MSE step of V towards ``v_target`` (detached); returns the detached loss."""
        loss = (self(features) - v_target.detach()).square().mean()
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        return loss.detach()

    @torch.no_grad()
    def soft_update(self, tau: float) -> None:
        """``target <- target + tau (V - target)``."""
        for t, p in zip(self.target.parameters(), self.net.parameters(), strict=True):
            t.lerp_(p, tau)

    def full_state(self) -> dict[str, Any]:
        """Network, target and optimizer state."""
        return {"net": self.net.state_dict(), "target": self.target.state_dict(),
                "opt": self.opt.state_dict()}

    def load_full_state(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`full_state` returned."""
        self.net.load_state_dict(state["net"])
        self.target.load_state_dict(state["target"])
        self.opt.load_state_dict(state["opt"])
