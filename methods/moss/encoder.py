"""MoSS's task-inference networks: a recurrent Gaussian-mixture VAE encoder and its transition decoder.

Encoder (MoSS paper, "Task Inference Module"; network shapes follow lknak/tigr
``task_inference/true_gmm_inference.py`` where the paper is silent): every transition ``(s, a, r, s')`` is
normalised with buffer statistics, embedded by a Linear+ReLU layer and fed to a GRU. From the GRU hidden
state ``h_t`` a head (ReLU, Linear, ReLU, Linear) outputs, for each of ``K`` classes, the mean and
log-variance of a Gaussian component ``q(z | y=k, c_t)`` and the logit of the categorical ``q(y | c_t)``.
``h_0 = 0`` (no context) gives the belief before the first step. The decoder is not used at test time.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn

from methods.common.nets import mlp

#: Log-variance bounds of the Gaussian components (numerical safety; not from the paper).
LOGVAR_MIN, LOGVAR_MAX = -10.0, 4.0


class Posterior(NamedTuple):
    """Gaussian-mixture belief ``q(y | c) q(z | y, c)``.

    Attributes:
        mean: ``[..., K, L]`` component means.
        logvar: ``[..., K, L]`` component log-variances.
        logits: ``[..., K]`` unnormalised class log-probabilities.
    """

    mean: torch.Tensor
    logvar: torch.Tensor
    logits: torch.Tensor

    @property
    def probs(self) -> torch.Tensor:
        """``[..., K]`` class probabilities."""
        return torch.softmax(self.logits, dim=-1)

    def best_component(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and log-variance ``[..., L]`` of the most likely component (the paper's test-time choice)."""
        lead, latent = self.mean.shape[:-2], self.mean.shape[-1]
        idx = self.logits.argmax(dim=-1, keepdim=True)[..., None].expand(*lead, 1, latent)
        return self.mean.gather(-2, idx).squeeze(-2), self.logvar.gather(-2, idx).squeeze(-2)

    def mixture_mean(self) -> torch.Tensor:
        """``[..., L]`` mean of the mixture ``sum_k q(y=k) mean_k`` (the embedding used by InfoNCE)."""
        return (self.probs[..., None] * self.mean).sum(dim=-2)

    def sample_components(self) -> torch.Tensor:
        """``[..., K, L]`` one reparameterised sample ``z_k ~ q(z | y=k)`` per component."""
        return self.mean + torch.randn_like(self.mean) * torch.exp(0.5 * self.logvar)



def feature_dim(obs_dim: int, act_dim: int) -> int:
    """Width of :func:`transition_features`: ``2 * obs_dim + act_dim + 1`` (s, a, r, s')."""
    return 2 * obs_dim + act_dim + 1


def transition_features(
    obs: torch.Tensor, action: torch.Tensor, reward: torch.Tensor, next_obs: torch.Tensor
) -> torch.Tensor:
    """Concatenate a transition into the encoder's raw input ``[..., 2 * obs_dim + act_dim + 1]``.

    Args:
        obs, next_obs: ``[..., obs_dim]``; action: ``[..., act_dim]``; reward: ``[...]``.
    """
    return torch.cat([obs, action, reward.unsqueeze(-1), next_obs], dim=-1)


class GMVAEEncoder(nn.Module):
    """Transition embedding + GRU + Gaussian-mixture head; see the module docstring.

    Args:
        obs_dim, act_dim: environment dimensions (the input has ``2 * obs_dim + act_dim + 1`` features).
        num_classes: ``K``, number of Gaussian components (1 = a plain Gaussian VAE).
        latent_dim: ``L``, dimension of each component.
        embed_dim: width of the transition embedding.
        hidden_dim: GRU hidden size (also the head's hidden width).
    """

    def __init__(
        self, obs_dim: int, act_dim: int, num_classes: int, latent_dim: int, embed_dim: int, hidden_dim: int
    ) -> None:
        super().__init__()
        self.obs_dim, self.act_dim = obs_dim, act_dim
        self.input_dim = feature_dim(obs_dim, act_dim)
        self.num_classes, self.latent_dim, self.hidden_dim = num_classes, latent_dim, hidden_dim
        # Normalisation statistics of the raw transition features (set from the replay buffers).
        self.input_mean: torch.Tensor
        self.input_std: torch.Tensor
        self.register_buffer("input_mean", torch.zeros(self.input_dim))
        self.register_buffer("input_std", torch.ones(self.input_dim))
        self.embed = nn.Sequential(nn.Linear(self.input_dim, embed_dim), nn.ReLU())
        self.gru = nn.GRU(embed_dim, hidden_dim, batch_first=True)
        out_dim = num_classes * (2 * latent_dim + 1)
        self.head = nn.Sequential(nn.ReLU(), mlp(hidden_dim, [hidden_dim], out_dim))

    # ------------------------------------------------------------------------------------- normalisation

    def set_normalization(self, mean: torch.Tensor, std: torch.Tensor) -> None:
        """Set the feature statistics ``[input_dim]`` used to normalise raw transitions."""
        self.input_mean.copy_(mean)
        self.input_std.copy_(std.clamp_min(1e-6))

    def normalize(self, features: torch.Tensor) -> torch.Tensor:
        """Standardise raw transition features ``[..., input_dim]``."""
        return (features - self.input_mean) / self.input_std

    # -------------------------------------------------------------------------------------------- forward

    def initial_hidden(self, n: int) -> torch.Tensor:
        """``[n, hidden_dim]`` hidden state with no context (zeros)."""
        return torch.zeros(n, self.hidden_dim, device=self.input_mean.device)

    def rollout(self, features: torch.Tensor, h0: torch.Tensor | None = None) -> torch.Tensor:
        """Run the GRU over a batch of sequences in one call.

        Args:
            features: ``[B, T, input_dim]`` raw transition features.
            h0: ``[B, hidden_dim]`` initial hidden state (default zeros).

        Returns:
            ``[B, T + 1, hidden_dim]``: ``h0`` followed by the hidden state after each transition, so index
            ``t`` is the belief state given the first ``t`` transitions.
        """
        b = features.shape[0]
        h0 = self.initial_hidden(b) if h0 is None else h0
        out, _ = self.gru(self.embed(self.normalize(features)), h0.unsqueeze(0).contiguous())
        return torch.cat([h0.unsqueeze(1), out], dim=1)

    def step(self, features: torch.Tensor, hidden: torch.Tensor) -> torch.Tensor:
        """One online update: ``[N, input_dim]`` raw features, ``[N, hidden_dim]`` -> new hidden."""
        return self.rollout(features.unsqueeze(1), hidden)[:, -1]

    def posterior(self, hidden: torch.Tensor) -> Posterior:
        """Belief from hidden states ``[..., hidden_dim]``: a ``Posterior`` ``[..., K, L]`` / ``[..., K]``."""
        out = self.head(hidden).reshape(*hidden.shape[:-1], self.num_classes, 2 * self.latent_dim + 1)
        mean = out[..., : self.latent_dim]
        logvar = out[..., self.latent_dim : 2 * self.latent_dim].clamp(LOGVAR_MIN, LOGVAR_MAX)
        return Posterior(mean, logvar, out[..., -1])


class TransitionDecoder(nn.Module):
    """State and reward decoders ``p(s' | s, a, z)``, ``p(r | s, a, z)`` (MSE regression, paper eq. 6).

    Inputs and targets are in the encoder's normalised units. Two independent MLPs as in the paper
    ("two independent regression networks"); widths from the config.
    """

    def __init__(self, obs_dim: int, act_dim: int, latent_dim: int, hidden: tuple[int, ...]) -> None:
        super().__init__()
        in_dim = obs_dim + act_dim + latent_dim
        self.state_net = mlp(in_dim, hidden, obs_dim)
        self.reward_net = mlp(in_dim, hidden, 1)

    def forward(
        self, obs: torch.Tensor, action: torch.Tensor, z: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Predict ``(next_obs [..., obs_dim], reward [...])`` from ``obs``, ``action`` and ``z``."""
        x = torch.cat([obs, action, z], dim=-1)
        return self.state_net(x), self.reward_net(x).squeeze(-1)
