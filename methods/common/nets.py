"""Small network builders shared by methods: MLPs, ensembles of MLPs, weight initialisation.

API (stable; extend additively):

* ``mlp(in_dim, hidden, out_dim, activation=nn.ReLU, output_activation=None) -> nn.Sequential``: Linear
  layers of widths ``hidden`` with ``activation`` between them; PyTorch's default Linear init (as SB3 and
  cleanrl use for SAC). ``out_dim=None`` ends with the last hidden layer (plus its activation), handy for
  trunks shared by several heads.
* ``EnsembleLinear(ensemble, in_dim, out_dim)``: ``ensemble`` independent Linear layers evaluated in one
  batched matmul; input ``[E, B, in]`` -> ``[E, B, out]``; ``forward(x, frozen=True)`` detaches the
  parameters (gradients reach the input only).
* ``ensemble_mlp(ensemble, in_dim, hidden, out_dim, activation=nn.ReLU)``: ``E`` independent MLPs in one
  ``nn.Sequential`` of ``EnsembleLinear`` layers (used by :class:`methods.common.sac.TwinQ`: both critics in
  one forward pass).
* ``init_weights_(module, scheme="orthogonal", gain=1.0, bias=0.0)``: re-initialise every Linear /
  EnsembleLinear in ``module`` in place (``orthogonal``, ``xavier_uniform`` or ``default``); returns it.
* ``uniform_init_(linear, bound)``: small uniform init of an output layer (rlkit's ``init_w=3e-3``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

import torch
from torch import nn

InitScheme = Literal["orthogonal", "xavier_uniform", "default"]


def mlp(
    in_dim: int,
    hidden: Sequence[int],
    out_dim: int | None,
    activation: type[nn.Module] = nn.ReLU,
    output_activation: type[nn.Module] | None = None,
) -> nn.Sequential:
    """A multi-layer perceptron ``in_dim -> hidden[0] -> ... -> hidden[-1] -> out_dim``.

    Args:
        in_dim: input features.
        hidden: widths of the hidden layers (may be empty: a single Linear layer).
        out_dim: output features; ``None`` stops after the last hidden layer and its activation.
        activation: activation class inserted after every hidden layer.
        output_activation: optional activation class after the output layer.

    Returns:
        ``nn.Sequential`` mapping ``[..., in_dim]`` to ``[..., out_dim]`` (or ``[..., hidden[-1]]``).
    """
    layers: list[nn.Module] = []
    last = in_dim
    for width in hidden:
        layers += [nn.Linear(last, int(width)), activation()]
        last = int(width)
    if out_dim is not None:
        layers.append(nn.Linear(last, out_dim))
        if output_activation is not None:
            layers.append(output_activation())
    elif not hidden:
        raise ValueError("mlp with out_dim=None needs at least one hidden layer")
    return nn.Sequential(*layers)


class EnsembleLinear(nn.Module):
    """``ensemble`` independent affine maps applied with one ``baddbmm``.

    Input ``[E, B, in_dim]`` (or ``[B, in_dim]``, broadcast to every member) -> output ``[E, B, out_dim]``.
    Each member is initialised like ``nn.Linear`` (uniform in ``+-1/sqrt(in_dim)``).
    """

    def __init__(self, ensemble: int, in_dim: int, out_dim: int) -> None:
        super().__init__()
        self.ensemble, self.in_dim, self.out_dim = ensemble, in_dim, out_dim
        self.weight = nn.Parameter(torch.empty(ensemble, in_dim, out_dim))
        self.bias = nn.Parameter(torch.empty(ensemble, 1, out_dim))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        bound = 1.0 / math.sqrt(self.in_dim)
        nn.init.uniform_(self.weight, -bound, bound)
        nn.init.uniform_(self.bias, -bound, bound)

    def forward(self, x: torch.Tensor, frozen: bool = False) -> torch.Tensor:
        """``[E, B, in]`` or ``[B, in]`` -> ``[E, B, out]``; ``frozen``: parameters detached (gradients reach
        ``x`` only)."""
        if x.dim() == 2:
            x = x.unsqueeze(0).expand(self.ensemble, -1, -1)
        if frozen:
            return torch.baddbmm(self.bias.detach(), x, self.weight.detach())
        return torch.baddbmm(self.bias, x, self.weight)

    def extra_repr(self) -> str:
        return f"ensemble={self.ensemble}, in_dim={self.in_dim}, out_dim={self.out_dim}"


def ensemble_mlp(
    ensemble: int,
    in_dim: int,
    hidden: Sequence[int],
    out_dim: int,
    activation: type[nn.Module] = nn.ReLU,
) -> nn.Sequential:
    """``ensemble`` independent MLPs as one module: ``[B, in]`` or ``[E, B, in]`` -> ``[E, B, out]``."""
    layers: list[nn.Module] = []
    last = in_dim
    for width in hidden:
        layers += [EnsembleLinear(ensemble, last, int(width)), activation()]
        last = int(width)
    layers.append(EnsembleLinear(ensemble, last, out_dim))
    return nn.Sequential(*layers)


def init_weights_(
    module: nn.Module, scheme: InitScheme = "orthogonal", gain: float = 1.0, bias: float = 0.0
) -> nn.Module:
    """Re-initialise every ``nn.Linear`` and :class:`EnsembleLinear` inside ``module`` in place.

    Args:
        module: any module (searched recursively).
        scheme: ``orthogonal`` (PPO/RL2 style), ``xavier_uniform`` or ``default`` (PyTorch's Linear init).
        gain: gain of the orthogonal/xavier init.
        bias: constant bias value (ignored by ``default``).

    Returns:
        ``module`` (for chaining).
    """
    for m in module.modules():
        if isinstance(m, nn.Linear):
            if scheme == "default":
                m.reset_parameters()
                continue
            _init_matrix(m.weight, scheme, gain)
            if m.bias is not None:
                nn.init.constant_(m.bias, bias)
        elif isinstance(m, EnsembleLinear):
            if scheme == "default":
                m.reset_parameters()
                continue
            for e in range(m.ensemble):  # members are stored [in, out]; init as nn.Linear's [out, in]
                tmp = torch.empty(m.out_dim, m.in_dim)
                _init_matrix(tmp, scheme, gain)
                with torch.no_grad():
                    m.weight[e].copy_(tmp.T)
            nn.init.constant_(m.bias, bias)
    return module


def _init_matrix(weight: torch.Tensor, scheme: InitScheme, gain: float) -> None:
    if scheme == "orthogonal":
        nn.init.orthogonal_(weight, gain=gain)
    elif scheme == "xavier_uniform":
        nn.init.xavier_uniform_(weight, gain=gain)
    else:
        raise ValueError(f"unknown init scheme {scheme!r}; valid: orthogonal, xavier_uniform, default")


def uniform_init_(linear: nn.Linear, bound: float = 3e-3) -> nn.Linear:
    """Initialise weight and bias of ``linear`` uniformly in ``[-bound, bound]`` (rlkit output layers)."""
    nn.init.uniform_(linear.weight, -bound, bound)
    if linear.bias is not None:
        nn.init.uniform_(linear.bias, -bound, bound)
    return linear
