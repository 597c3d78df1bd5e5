"""Running normalizers: observation mean/std and return-based reward scaling (VecNormalize semantics).

* :class:`RunningMeanStd`: running mean and variance of a feature vector, merged batch-wise with Chan's
  parallel formula (as ``baselines.common.running_mean_std``); ``normalize(x)`` is ``(x - mean) / sqrt(var +
  eps)`` clipped to ``+-clip``.
* :func:`scale_rewards`: divide rewards by the running standard deviation of the discounted return, as
  ``VecNormalize(ret=True)`` does for PPO in baselines, pytorch-a2c-ppo-acktr and lmzintgraf/varibad
  (``norm_rew_for_policy``). The discounted return restarts at the start of every trial.

Both are plain numpy, hold no RNG and round-trip through ``state_dict`` (for resuming).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch


class RunningMeanStd:
    """Running mean/variance of ``[..., *shape]`` samples.

    Args:
        shape: feature shape (``()`` for scalars).
        epsilon: initial pseudo-count (keeps the first update from dividing by zero).
    """

    def __init__(self, shape: tuple[int, ...] = (), epsilon: float = 1e-4) -> None:
        self.mean = np.zeros(shape, np.float64)
        self.var = np.ones(shape, np.float64)
        self.count = float(epsilon)

    def update(self, x: np.ndarray) -> None:
        """Merge a batch ``[B, *shape]`` of samples (no-op for an empty batch)."""
        x = np.asarray(x, np.float64).reshape(-1, *self.mean.shape)
        if x.shape[0] == 0:
            return
        b_mean, b_var, b_count = x.mean(axis=0), x.var(axis=0), x.shape[0]
        delta = b_mean - self.mean
        total = self.count + b_count
        self.mean = self.mean + delta * b_count / total
        m2 = self.var * self.count + b_var * b_count + delta**2 * self.count * b_count / total
        self.var = m2 / total
        self.count = total

    def normalize(self, x: torch.Tensor, clip: float = 10.0, eps: float = 1e-8) -> torch.Tensor:
        """``(x - mean) / sqrt(var + eps)`` clipped to ``[-clip, clip]``; ``x`` is ``[..., *shape]``."""
        mean = torch.as_tensor(self.mean, dtype=x.dtype, device=x.device)
        std = torch.as_tensor(np.sqrt(self.var + eps), dtype=x.dtype, device=x.device)
        return ((x - mean) / std).clamp(-clip, clip)

    def state_dict(self) -> dict[str, Any]:
        return {"mean": self.mean.copy(), "var": self.var.copy(), "count": self.count}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.mean = np.array(state["mean"], np.float64)
        self.var = np.array(state["var"], np.float64)
        self.count = float(state["count"])


def scale_rewards(
    reward: np.ndarray,
    mask: np.ndarray,
    gamma: float,
    rms: RunningMeanStd,
    clip: float = 10.0,
    eps: float = 1e-8,
) -> np.ndarray:
    """Scale rewards by the running std of the discounted return (VecNormalize ``ret=True``).

    Args:
        reward: ``[N, L]`` raw rewards of ``N`` trials (compacted, padding after the valid steps).
        mask: ``[N, L]`` bool, valid steps.
        gamma: discount of the running return.
        rms: scalar :class:`RunningMeanStd` of returns; updated in place with every valid running return.
        clip: scaled rewards are clipped to ``[-clip, clip]``.

    Returns:
        ``[N, L]`` float32 scaled rewards (0 on padding).
    """
    ret = np.zeros(reward.shape[0], np.float64)
    returns = np.zeros(reward.shape, np.float64)
    for t in range(reward.shape[1]):
        ret = ret * gamma + reward[:, t]
        returns[:, t] = ret
    rms.update(returns[mask])
    scaled = np.clip(reward / np.sqrt(rms.var + eps), -clip, clip)
    return np.where(mask, scaled, 0.0).astype(np.float32)
