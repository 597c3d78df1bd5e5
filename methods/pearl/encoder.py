"""PEARL's permutation-invariant context encoder: one MLP per transition, combined by a product of Gaussians.

Each context transition ``c_n = (s, a, r)`` (or ``(s, a, r, s')`` with ``use_next_obs``) is mapped on its
own to a Gaussian factor ``Psi(z | c_n) = N(mu_n, sigma_n^2)`` (mean, and variance through softplus); the
posterior is their product ``q(z | c_1..N) ∝ prod_n Psi(z | c_n)``: precisions add,

    1 / sigma^2 = sum_n 1 / sigma_n^2,      mu = sigma^2 * sum_n mu_n / sigma_n^2,

with every ``sigma_n^2`` clamped at ``>= 1e-7`` first (oyster ``rlkit/torch/sac/agent.py``
``_product_of_gaussians``). The result does not depend on the order of the transitions. Without the
information bottleneck (``use_information_bottleneck=False`` in oyster) the encoder outputs ``latent_dim``
numbers per transition and z is their mean (deterministic).

Shapes: context features ``[..., N, input_dim]`` with an optional mask ``[..., N]`` (1.0 on real transitions,
used for padded batches of unequal context lengths) give a posterior ``[..., latent_dim]``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from methods.common.nets import mlp

#: Lower clamp of each factor's variance before the precisions are added (oyster: 1e-7).
MIN_VARIANCE = 1e-7


class Gaussian(NamedTuple):
    """A diagonal Gaussian: ``mean`` and ``var`` (variance), each ``[..., latent_dim]``."""

    mean: torch.Tensor
    var: torch.Tensor

    def rsample(self, generator: torch.Generator | None = None) -> torch.Tensor:
        """A reparameterised sample ``mean + sqrt(var) * eps`` (``[..., latent_dim]``)."""
        eps = torch.randn(self.mean.shape, generator=generator, device=self.mean.device,
                          dtype=self.mean.dtype)
        return self.mean + self.var.sqrt() * eps


def context_features(
    obs: torch.Tensor, action: torch.Tensor, reward: torch.Tensor, next_obs: torch.Tensor | None
) -> torch.Tensor:
    """Per-transition encoder input ``[s, a, r]`` or ``[s, a, r, s']`` (when ``next_obs`` is given).

    Args:
        obs: ``[..., obs_dim]``; action ``[..., act_dim]``; reward ``[...]``; next_obs ``[..., obs_dim]``.

    Returns:
        ``[..., obs_dim + act_dim + 1 (+ obs_dim)]``.
    """
    parts = [obs, action, reward.unsqueeze(-1)]
    if next_obs is not None:
        parts.append(next_obs)
    return torch.cat(parts, dim=-1)


def standard_normal(shape: Sequence[int], device: torch.device | str = "cpu") -> Gaussian:
    """The prior ``N(0, I)`` with batch shape ``shape[:-1]`` (``shape[-1]`` = latent size)."""
    return Gaussian(torch.zeros(*shape, device=device), torch.ones(*shape, device=device))


def product_of_gaussians(mean: torch.Tensor, var: torch.Tensor, mask: torch.Tensor | None = None) -> Gaussian:
    """Normalised product of the Gaussian factors along the context axis (``-2``).

    Args:
        mean: ``[..., N, L]`` factor means.
        var: ``[..., N, L]`` factor variances (clamped at :data:`MIN_VARIANCE`).
        mask: ``[..., N]``, 1.0 on factors to include (None: all). A batch row without any factor gets the
            prior ``N(0, I)`` (oyster never infers from an empty context).

    Returns:
        The product ``[..., L]``.
    """
    precision = 1.0 / var.clamp_min(MIN_VARIANCE)
    if mask is not None:
        precision = precision * mask.unsqueeze(-1)
    total = precision.sum(dim=-2)
    weighted = (precision * mean).sum(dim=-2)
    empty = total <= 0
    total = torch.where(empty, torch.ones_like(total), total)
    out_var = 1.0 / total
    return Gaussian(torch.where(empty, torch.zeros_like(weighted), out_var * weighted), out_var)


def masked_mean(values: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Mean of ``values [..., N, L]`` over the context axis (masked by ``mask [..., N]``; empty -> 0)."""
    if mask is None:
        return values.mean(dim=-2)
    w = mask.unsqueeze(-1)
    return (values * w).sum(dim=-2) / w.sum(dim=-2).clamp_min(1.0)


def kl_to_standard_normal(q: Gaussian) -> torch.Tensor:
    """``KL(q || N(0, I))`` per batch row, summed over latent dimensions: ``[...]``."""
    return 0.5 * (q.var + q.mean.square() - 1.0 - q.var.log()).sum(dim=-1)


class ContextEncoder(nn.Module):
    """Per-transition MLP (oyster ``MlpEncoder``: ReLU hidden layers, linear output) and the posterior.

    Args:
        input_dim: features per transition (see :func:`context_features`).
        latent_dim: size of z.
        hidden: hidden widths (oyster: 3 x 200).
        information_bottleneck: Gaussian factors and a product of Gaussians (True, PEARL); False: a
            deterministic z, the mean of the per-transition outputs.
    """

    def __init__(
        self, input_dim: int, latent_dim: int, hidden: Sequence[int] = (200, 200, 200),
        information_bottleneck: bool = True,
    ) -> None:
        super().__init__()
        self.input_dim, self.latent_dim = input_dim, latent_dim
        self.information_bottleneck = information_bottleneck
        self.net = mlp(input_dim, hidden, 2 * latent_dim if information_bottleneck else latent_dim)

    def factors(self, features: torch.Tensor) -> Gaussian:
        """Per-transition factors ``[..., N, L]`` (without the bottleneck: ``var`` is zero)."""
        out = self.net(features)
        if not self.information_bottleneck:
            return Gaussian(out, torch.zeros_like(out))
        mean, raw = out.split(self.latent_dim, dim=-1)
        return Gaussian(mean, F.softplus(raw))

    def sample(self, q: Gaussian, generator: torch.Generator | None = None) -> torch.Tensor:
        """z from the posterior: a reparameterised sample (the mean without the bottleneck)."""
        return q.rsample(generator) if self.information_bottleneck else q.mean

    def forward(self, features: torch.Tensor, mask: torch.Tensor | None = None) -> Gaussian:
        """Posterior ``q(z | c)`` ``[..., L]`` from context features ``[..., N, input_dim]``."""
        f = self.factors(features)
        if not self.information_bottleneck:
            return Gaussian(masked_mean(f.mean, mask), f.var[..., 0, :])
        return product_of_gaussians(f.mean, f.var, mask)
