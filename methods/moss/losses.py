"""Loss pieces of MoSS's task-inference module: Gaussian/categorical/mixture KLs, InfoNCE, reconstruction.

Notation (MoSS paper, "VAE with Gaussian Mixture Latent Space", eq. 1 and appendix eq. 4-5): the posterior
over the class ``y`` (``K`` classes) and the latent ``z`` (``L`` dims) factorises as ``q(y | c) q(z | y, c)``
with ``q(z | y=k, c) = N(mean_k, diag(exp(logvar_k)))``. The prior has the same form; in the recurrent
(time step-wise) ELBO it is the previous step's posterior. All functions are batched over leading dims.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from methods.moss.encoder import Posterior


def gaussian_kl(
    mean_q: torch.Tensor, logvar_q: torch.Tensor, mean_p: torch.Tensor, logvar_p: torch.Tensor
) -> torch.Tensor:
    """``KL(N(mean_q, exp(logvar_q)) || N(mean_p, exp(logvar_p)))`` of diagonal Gaussians.

    Args:
        mean_q, logvar_q, mean_p, logvar_p: ``[..., L]`` (broadcastable).

    Returns:
        ``[...]`` the KL in nats, summed over the last dimension.
    """
    var_ratio = torch.exp(logvar_q - logvar_p)
    diff_term = (mean_q - mean_p) ** 2 * torch.exp(-logvar_p)
    return 0.5 * (var_ratio + diff_term - 1.0 - (logvar_q - logvar_p)).sum(dim=-1)


def categorical_kl(logits_q: torch.Tensor, logits_p: torch.Tensor) -> torch.Tensor:
    """``KL(Cat(softmax(logits_q)) || Cat(softmax(logits_p)))``; ``[..., K]`` -> ``[...]`` nats."""
    log_q = F.log_softmax(logits_q, dim=-1)
    log_p = F.log_softmax(logits_p, dim=-1)
    return (log_q.exp() * (log_q - log_p)).sum(dim=-1)


def mixture_kl(q: Posterior, p: Posterior) -> tuple[torch.Tensor, torch.Tensor]:
    """The two KL terms of the GMVAE ELBO between posterior ``q`` and prior ``p``.

    ``KL(q(y, z) || p(y, z)) = sum_k q(y=k) KL(q(z | y=k) || p(z | y=k)) + KL(q(y) || p(y))``; the paper
    weights the first (component-wise) term by alpha and the second (categorical) by beta.

    Args:
        q: posterior with ``mean``/``logvar`` ``[..., K, L]`` and ``logits`` ``[..., K]``.
        p: prior of the same shape (broadcastable).

    Returns:
        ``(component_kl, categorical_kl)``, each ``[...]`` in nats.
    """
    per_component = gaussian_kl(q.mean, q.logvar, p.mean, p.logvar)  # [..., K]
    component = (q.probs * per_component).sum(dim=-1)
    return component, categorical_kl(q.logits, p.logits)


def standard_prior_like(q: Posterior) -> Posterior:
    """The global prior ``N(0, I)`` per component with a uniform categorical, shaped like ``q``."""
    return Posterior(torch.zeros_like(q.mean), torch.zeros_like(q.logvar), torch.zeros_like(q.logits))


def info_nce(
    query: torch.Tensor, keys: torch.Tensor, groups: torch.Tensor, temperature: float = 1.0
) -> torch.Tensor:
    """InfoNCE with (negative squared) Euclidean similarity, as in the MoSS paper (eq. 2).

    Query ``i``'s positive key is ``keys[i]``; its negatives are the keys of every row ``j`` with
    ``groups[j] != groups[i]`` (embeddings of *other* tasks). Keys of other rows of the same group are
    neither positives nor negatives (masked out). The loss is the cross-entropy of the ``(1 + negatives)``-way
    softmax over similarities ``-||q_i - k_j||^2 / temperature`` with the positive as label, averaged over
    queries that have at least one negative.

    Args:
        query: ``[B, L]`` query embeddings.
        keys: ``[B, L]`` positive keys (row-aligned with ``query``).
        groups: ``[B]`` integer task identities (from the buffer, never the ground-truth task record).
        temperature: softmax temperature (> 0).

    Returns:
        Scalar loss (0 when no query has a negative).
    """
    sim = -torch.cdist(query, keys).pow(2) / temperature  # [B, B]
    same = groups[:, None] == groups[None, :]
    eye = torch.eye(len(groups), dtype=torch.bool, device=query.device)
    sim = sim.masked_fill(same & ~eye, float("-inf"))
    has_negative = (~same).any(dim=1)
    if not bool(has_negative.any()):
        return query.sum() * 0.0
    target = torch.arange(len(groups), device=query.device)
    losses = F.cross_entropy(sim, target, reduction="none")
    return losses[has_negative].mean()


def mixture_reconstruction(errors: torch.Tensor, probs: torch.Tensor) -> torch.Tensor:
    """Expected reconstruction error under ``q(y)``: ``sum_k q(y=k) * errors[..., k]``.

    Args:
        errors: ``[..., K]`` reconstruction error of the decoder fed with a sample of component ``k``.
        probs: ``[..., K]`` class probabilities ``q(y | c)``.

    Returns:
        ``[...]`` the expected error (the negative log-likelihood term of the ELBO, up to constants).
    """
    return (probs * errors).sum(dim=-1)
