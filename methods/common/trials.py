"""Trials as compact sequences for recurrent on-policy learners (VariBAD, RL2).

A *trial* is the ``k`` consecutive episodes an env runs on one task (one BAMDP episode in VariBAD's terms).
:class:`TrialBatch` turns a collector :class:`~harness.rollout.Rollout` ``[N, k * horizon]`` (episodes in
fixed slots, padding after early terminations) into compact sequences ``[N, L]``: the valid steps of each
trial in order, padding only at the end. Recurrent networks run over these sequences exactly as the agent
stepped through them online.

:class:`ActionRecorder` keeps the *unclipped* actions an agent sampled (the rollout stores the actions
clipped to [-1, 1]; PPO's likelihood ratio needs the sampled ones).
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

import numpy as np
import torch

from harness.rollout import Rollout


@dataclass
class TrialBatch:
    """``N`` trials as compact sequences of ``L`` steps (torch tensors on one device).

    Attributes:
        obs: ``[N, L + 1, obs_dim]`` observation at each step; index ``lengths[n]`` holds the observation
            reached by the last valid step (input of the bootstrap value); zeros after.
        action: ``[N, L, act_dim]`` executed (clipped) actions.
        raw_action: ``[N, L, act_dim]`` actions as sampled by the policy (for log-probabilities).
        reward: ``[N, L]`` raw rewards.
        next_obs: ``[N, L, obs_dim]`` observation after each step (the final one of an episode at its end).
        prev_done: ``[N, L + 1]`` float, 1 where the previous step ended an episode (0 at ``t = 0``).
        terminated: ``[N, L]`` bool, true terminations.
        done: ``[N, L]`` bool, episode ends (terminated or truncated).
        mask: ``[N, L]`` bool, valid steps.
        lengths: ``[N]`` int64 (numpy), valid steps per trial.
        context: ``[N, L + 1, C]`` method-computed per-step features (VariBAD beliefs), or None.
    """

    obs: torch.Tensor
    action: torch.Tensor
    raw_action: torch.Tensor
    reward: torch.Tensor
    next_obs: torch.Tensor
    prev_done: torch.Tensor
    terminated: torch.Tensor
    done: torch.Tensor
    mask: torch.Tensor
    lengths: np.ndarray
    context: torch.Tensor | None = None

    @classmethod
    def from_rollout(cls, ro: Rollout, raw_action: np.ndarray | None, device: torch.device) -> TrialBatch:
        """Compact ``ro`` (``[N, T]`` slots) into trials; ``raw_action [N, T, act_dim]`` (None: clipped)."""
        active = ro.active
        lengths = active.sum(axis=1).astype(np.int64)
        length = max(int(lengths.max()), 1)
        order = np.argsort(~active, axis=1, kind="stable")[:, :length]  # valid slots first, in time order
        rows = np.arange(active.shape[0])[:, None]
        mask = np.arange(length)[None, :] < lengths[:, None]

        def take(x: np.ndarray) -> np.ndarray:
            out = x[rows, order]
            return np.where(mask.reshape(mask.shape + (1,) * (out.ndim - 2)), out, 0)

        n = active.shape[0]
        obs = np.zeros((n, length + 1, ro.obs.shape[-1]), np.float32)
        obs[:, :length] = take(ro.obs)
        next_obs = take(ro.next_obs)
        has = lengths > 0
        obs[np.flatnonzero(has), lengths[has]] = next_obs[np.flatnonzero(has), lengths[has] - 1]
        done = take(ro.terminated | ro.truncated).astype(bool)
        prev_done = np.zeros((n, length + 1), np.float32)
        prev_done[:, 1:] = done
        raw = take(ro.action if raw_action is None else raw_action)

        def t(x: np.ndarray, dtype: torch.dtype = torch.float32) -> torch.Tensor:
            return torch.as_tensor(np.ascontiguousarray(x), dtype=dtype, device=device)

        return cls(
            obs=t(obs), action=t(take(ro.action)), raw_action=t(raw), reward=t(take(ro.reward)),
            next_obs=t(next_obs), prev_done=t(prev_done), terminated=t(take(ro.terminated), torch.bool),
            done=t(done, torch.bool), mask=t(mask, torch.bool), lengths=lengths,
        )

    @property
    def is_last(self) -> torch.Tensor:
        """``[N, L]`` bool, the last valid step of each trial."""
        idx = torch.arange(self.mask.shape[1], device=self.mask.device)
        last = torch.as_tensor(self.lengths - 1, device=self.mask.device)
        return idx[None, :] == last[:, None]

    def index(self, rows: torch.Tensor) -> TrialBatch:
        """The trials ``rows`` (a ``[B]`` index tensor) as a new batch."""
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        for name, value in out.items():
            if isinstance(value, torch.Tensor):
                out[name] = value[rows]
        out["lengths"] = self.lengths[rows.cpu().numpy()]
        return TrialBatch(**out)

    def steps(self) -> TrialBatch:
        """Every valid step as its own trial of length 1 (for feed-forward policies: step minibatches).

        Per-step tensors become ``[U, 1, ...]`` and the ``L + 1`` tensors ``[U, 2, ...]`` (the step and the
        next slot), ``U`` = number of valid steps, in row-major order of ``mask``.
        """
        n_idx, t_idx = torch.nonzero(self.mask, as_tuple=True)
        plus = torch.stack([t_idx, t_idx + 1], dim=1)
        out: dict[str, object] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if not isinstance(value, torch.Tensor):
                continue
            if value.shape[1] == self.mask.shape[1] + 1:
                out[f.name] = value[n_idx[:, None], plus]
            else:
                out[f.name] = value[n_idx, t_idx].unsqueeze(1)
        return replace(self, **out, lengths=np.ones(len(n_idx), np.int64))  # type: ignore[arg-type]


class ActionRecorder:
    """Stores the actions an agent sampled, at the rollout slot of each ``act`` call.

    The harness calls ``reset(task_boundary=True)`` before the first episode of a trial and
    ``reset(False)`` between episodes; ``act`` is called once per step slot (``episode * horizon + t``).
    """

    def __init__(self, num_envs: int, act_dim: int, horizon: int) -> None:
        self.num_envs, self.act_dim, self.horizon = num_envs, act_dim, horizon
        self._episodes: list[np.ndarray] = []
        self._t = 0

    def reset(self, task_boundary: bool) -> None:
        if task_boundary:
            self._episodes = []
        self._episodes.append(np.zeros((self.num_envs, self.horizon, self.act_dim), np.float32))
        self._t = 0

    def record(self, action: np.ndarray) -> None:
        """Store ``action [N, act_dim]`` at the current slot."""
        self._episodes[-1][:, self._t] = action
        self._t += 1

    def actions(self, num_slots: int) -> np.ndarray:
        """``[N, num_slots, act_dim]`` recorded actions (zeros where nothing was recorded)."""
        out = np.zeros((self.num_envs, num_slots, self.act_dim), np.float32)
        if self._episodes:
            rec = np.concatenate(self._episodes, axis=1)[:, :num_slots]
            out[:, : rec.shape[1]] = rec
        return out
