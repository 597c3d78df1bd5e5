"""VariBAD's VAE: recurrent encoder q(m | tau_{:t}), reward/state decoders, ELBO over whole trials.

Follows lmzintgraf/varibad ``models/encoder.py``, ``models/decoder.py`` and ``vae.py``:

* :class:`Encoder`: embeddings of (a_t, r_t, s_{t+1}) -> GRU -> linear mean and log-variance heads. The
  prior (t = 0, nothing observed) is the heads applied to a zero hidden state; the encoder never sees s_0.
* :class:`RewardDecoder`: ``r_t`` from a latent *sample*, embedded ``s_{t+1}``, ``s_t`` and ``a_t``.
  :class:`StateDecoder`: ``s_{t+1}`` from a latent sample, embedded ``s_t`` and ``a_t``.
* :func:`elbo_loss`: for ELBO terms t (posteriors after t transitions, t = 0..len, subsampled) decode
  transitions of the **whole** trajectory (past and future, subsampled); squared errors are summed over
  decodes and ELBO terms and averaged over trajectories. KL(q_t || q_{t-1}) with ``q_{-1} = N(0, I)``,
  summed over every t = 0..len, averaged over trajectories.
* :class:`TrajectoryBuffer`: the most recent whole trials for VAE training.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from methods.common.nets import mlp
from methods.common.recurrent import EmbeddedGRU
from methods.common.trials import TrialBatch
from methods.varibad.config import VaribadConfig


class Encoder(nn.Module):
    """GRU encoder of trajectories into a diagonal Gaussian posterior over the latent task."""

    def __init__(self, obs_dim: int, act_dim: int, cfg: VaribadConfig) -> None:
        super().__init__()
        self.rnn = EmbeddedGRU(obs_dim, act_dim, cfg.gru_hidden, cfg.state_embed, cfg.action_embed,
                               cfg.reward_embed)
        self.mean = nn.Linear(cfg.gru_hidden, cfg.latent_dim)
        self.logvar = nn.Linear(cfg.gru_hidden, cfg.latent_dim)
        self.tbptt = cfg.tbptt

    def prior(self, n: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(hidden [n, H], mean [n, d], logvar [n, d])`` before any transition."""
        h = torch.zeros(n, self.rnn.hidden, device=device)
        return h, self.mean(h), self.logvar(h)

    def sequence(
        self, action: torch.Tensor, reward: torch.Tensor, next_obs: torch.Tensor, truncate: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Posteriors after 0..L transitions: ``mean, logvar [B, L + 1, d]`` (index 0 = the prior).

        Args:
            action: ``[B, L, act]``; reward: ``[B, L]``; next_obs: ``[B, L, obs]``.
            truncate: detach the hidden state every ``tbptt`` steps (VAE training).
        """
        out = self.rnn.sequence(next_obs, action, reward, tbptt=self.tbptt if truncate else None)
        h0 = torch.zeros_like(out[:, :1])
        out = torch.cat([h0, out], dim=1)
        return self.mean(out), self.logvar(out)

    def step(
        self, h: torch.Tensor, action: torch.Tensor, reward: torch.Tensor, next_obs: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """One transition: ``(hidden, mean, logvar)`` after it (all ``[N, ...]``)."""
        h = self.rnn.step(h, next_obs, action, reward)
        return h, self.mean(h), self.logvar(h)


def _embed(in_dim: int, width: int) -> tuple[nn.Module, int]:
    if width <= 0:
        return nn.Identity(), in_dim
    return nn.Sequential(nn.Linear(in_dim, width), nn.ReLU()), width


class RewardDecoder(nn.Module):
    """``r_t`` from ``(z, s_{t+1}, s_t, a_t)``; one state embedding shared by s_t and s_{t+1}."""

    def __init__(self, obs_dim: int, act_dim: int, cfg: VaribadConfig) -> None:
        super().__init__()
        self.state, s_dim = _embed(obs_dim, cfg.state_embed)
        self.action, a_dim = _embed(act_dim, cfg.action_embed)
        self.net = mlp(cfg.latent_dim + 2 * s_dim + a_dim, cfg.reward_decoder_layers, 1)

    def forward(self, z: torch.Tensor, obs: torch.Tensor, action: torch.Tensor, next_obs: torch.Tensor
                ) -> torch.Tensor:
        """Inputs ``[..., dim]`` -> predicted reward ``[...]``."""
        x = torch.cat([z, self.state(next_obs), self.state(obs), self.action(action)], dim=-1)
        return self.net(x).squeeze(-1)


class StateDecoder(nn.Module):
    """``s_{t+1}`` from ``(z, s_t, a_t)`` (deterministic prediction, squared error)."""

    def __init__(self, obs_dim: int, act_dim: int, cfg: VaribadConfig) -> None:
        super().__init__()
        self.state, s_dim = _embed(obs_dim, cfg.state_embed)
        self.action, a_dim = _embed(act_dim, cfg.action_embed)
        self.net = mlp(cfg.latent_dim + s_dim + a_dim, cfg.state_decoder_layers, obs_dim)

    def forward(self, z: torch.Tensor, obs: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        """Inputs ``[..., dim]`` -> predicted next observation ``[..., obs_dim]``."""
        return self.net(torch.cat([z, self.state(obs), self.action(action)], dim=-1))


def gaussian_kl(mean: torch.Tensor, logvar: torch.Tensor, prior_mean: torch.Tensor, prior_logvar: torch.Tensor
                ) -> torch.Tensor:
    """KL(N(mean, e^logvar) || N(prior_mean, e^prior_logvar)) of diagonal Gaussians, summed over dim -1."""
    var, prior_var = logvar.exp(), prior_logvar.exp()
    kl = prior_logvar - logvar + (var + (mean - prior_mean).pow(2)) / prior_var - 1.0
    return 0.5 * kl.sum(-1)


def consecutive_kl(mean: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """``[B, T, d]`` posteriors -> ``[B, T]``: KL(q_t || q_{t-1}), with ``q_{-1} = N(0, I)`` (varibad)."""
    prev_mean = torch.cat([torch.zeros_like(mean[:, :1]), mean[:, :-1]], dim=1)
    prev_logvar = torch.cat([torch.zeros_like(logvar[:, :1]), logvar[:, :-1]], dim=1)
    return gaussian_kl(mean, logvar, prev_mean, prev_logvar)


def subsample(
    valid: torch.Tensor, k: int | None, rng: np.random.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """Pick up to ``k`` valid positions per row of ``valid [B, M]`` uniformly without replacement.

    Returns:
        ``(index [B, K], chosen_valid [B, K])`` with ``K = min(k, M)`` (all positions when ``k`` is None).
    """
    b, m = valid.shape
    if k is None or k >= m:
        return torch.arange(m, device=valid.device).expand(b, m), valid
    scores = torch.as_tensor(rng.random((b, m)), device=valid.device)
    scores = torch.where(valid, scores, scores + 2.0)  # invalid positions sort last
    index = scores.argsort(dim=1)[:, :k]
    return index, valid.gather(1, index)


def _gather(x: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """``x [B, M, ...]`` at ``index [B, K]`` -> ``[B, K, ...]``."""
    rows = torch.arange(x.shape[0], device=x.device)[:, None]
    return x[rows, index]


def elbo_loss(
    encoder: Encoder,
    reward_decoder: RewardDecoder | None,
    state_decoder: StateDecoder | None,
    batch: TrialBatch,
    cfg: VaribadConfig,
    rng: np.random.Generator,
) -> dict[str, torch.Tensor]:
    """Negative ELBO of ``batch`` (``[B, L]`` trajectories); see the module docstring for the reductions.

    Returns:
        ``loss`` (to minimize) and its parts ``rew_loss``, ``state_loss``, ``kl`` (scalars).
    """
    mask = batch.mask
    b, length = mask.shape
    mean, logvar = encoder.sequence(batch.action, batch.reward, batch.next_obs, truncate=True)
    lengths = torch.as_tensor(batch.lengths, device=mask.device)
    elbo_valid = torch.arange(length + 1, device=mask.device)[None, :] <= lengths[:, None]  # [B, L+1]
    e_idx, e_valid = subsample(elbo_valid, cfg.vae_subsample_elbos, rng)
    d_idx, d_valid = subsample(mask, cfg.vae_subsample_decodes, rng)
    e_mean, e_logvar = _gather(mean, e_idx), _gather(logvar, e_idx)
    z = e_mean + torch.randn_like(e_mean) * (0.5 * e_logvar).exp()  # [B, E, d], one sample per ELBO term
    n_e, n_d = e_idx.shape[1], d_idx.shape[1]
    weight = (e_valid[:, :, None] & d_valid[:, None, :]).float()  # [B, E, D]

    def dec(x: torch.Tensor) -> torch.Tensor:  # [B, L, ...] -> [B, E, D, ...]
        g = _gather(x, d_idx).unsqueeze(1)
        return g.expand(b, n_e, *g.shape[2:])

    z_dec = z.unsqueeze(2).expand(b, n_e, n_d, z.shape[-1])
    obs, action, next_obs = dec(batch.obs[:, :length]), dec(batch.action), dec(batch.next_obs)
    zero = torch.zeros((), device=mask.device)
    rew_loss, state_loss = zero, zero
    if reward_decoder is not None:
        err = (reward_decoder(z_dec, obs, action, next_obs) - dec(batch.reward)).pow(2)
        rew_loss = (err * weight).sum(dim=(1, 2)).mean()
    if state_decoder is not None:
        err = (state_decoder(z_dec, obs, action) - next_obs).pow(2).mean(-1)
        state_loss = (err * weight).sum(dim=(1, 2)).mean()
    kl = (consecutive_kl(mean, logvar) * elbo_valid.float()).sum(dim=1).mean()
    loss = cfg.rew_loss_coeff * rew_loss + cfg.state_loss_coeff * state_loss + cfg.kl_weight * kl
    return {"loss": loss, "rew_loss": rew_loss, "state_loss": state_loss, "kl": kl}


class TrajectoryBuffer:
    """The ``capacity`` most recent trials (compact, unpadded numpy arrays) for VAE training."""

    KEYS = ("obs", "action", "reward", "next_obs")

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.trajs: list[dict[str, np.ndarray]] = []
        self._next = 0

    def __len__(self) -> int:
        return len(self.trajs)

    @property
    def num_steps(self) -> int:
        """Env steps held."""
        return sum(len(t["reward"]) for t in self.trajs)

    def add(self, batch: TrialBatch) -> None:
        """Store every non-empty trial of ``batch``."""
        arrays = {k: getattr(batch, k).cpu().numpy() for k in self.KEYS}
        for i, n in enumerate(batch.lengths.tolist()):
            if n == 0:
                continue
            traj = {k: arrays[k][i, :n].copy() for k in self.KEYS}
            if len(self.trajs) < self.capacity:
                self.trajs.append(traj)
            else:
                self.trajs[self._next] = traj
            self._next = (self._next + 1) % self.capacity

    def sample(self, n: int, rng: np.random.Generator, device: torch.device) -> TrialBatch:
        """``n`` trials drawn uniformly (without replacement when possible), padded into a batch."""
        idx = rng.choice(len(self.trajs), size=n, replace=n > len(self.trajs))
        trajs = [self.trajs[i] for i in idx]
        lengths = np.array([len(t["reward"]) for t in trajs], np.int64)
        length = int(lengths.max())

        def pad(key: str, extra: int = 0) -> torch.Tensor:
            first = trajs[0][key]
            out = np.zeros((n, length + extra, *first.shape[1:]), np.float32)
            for i, t in enumerate(trajs):
                out[i, : len(t[key])] = t[key]
            return torch.as_tensor(out, device=device)

        mask = torch.as_tensor(np.arange(length)[None, :] < lengths[:, None], device=device)
        zeros = torch.zeros(n, length, dtype=torch.bool, device=device)
        action = pad("action")
        return TrialBatch(obs=pad("obs", 1), action=action, raw_action=action, reward=pad("reward"),
                          next_obs=pad("next_obs"), prev_done=torch.zeros(n, length + 1, device=device),
                          terminated=zeros, done=zeros, mask=mask, lengths=lengths)

    def state_dict(self) -> dict[str, Any]:
        return {"trajs": self.trajs, "next": self._next}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.trajs = list(state["trajs"])
        self._next = int(state["next"])
