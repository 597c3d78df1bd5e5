"""The one PPO of the harness (used by VariBAD and RL2): GAE, clipped surrogate, clipped value loss.

* :class:`PPOConfig`: PPO hyperparameters; defaults are lmzintgraf/varibad's HalfCheetahVel values
  (``config/mujoco/args_cheetah_vel_varibad.py`` at 57e1795, see ``shared/reference/methods.md`` §2.2).
* :func:`gae`: generalized advantage estimation over ``[N, L]`` sequences with proper time-limit handling:
  a *terminated* step does not bootstrap, a *truncated* step (time limit, or the end of the collected data)
  bootstraps from the value of the state it reached; ``end`` cuts the recursion.
* :class:`PPO`: the update. Data come in *units* ``[U, L]``: a unit is a whole trial for recurrent policies
  (the network is re-run over the sequence in every epoch) or one step (``L = 1``) for feed-forward
  policies. Minibatches split the units. Loss = clipped surrogate + ``value_coef`` x value loss (Huber or
  squared error, optionally clipped around the old value as in baselines/varibad) - ``entropy_coef`` x
  entropy; gradients are clipped to ``max_grad_norm``; Adam with ``eps=adam_eps``.

This module knows nothing about networks: :meth:`PPO.update` takes a callback that evaluates the current
policy on a set of units (see :data:`Evaluate`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Literal, NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


@dataclass(frozen=True, kw_only=True)
class PPOConfig:
    """PPO hyperparameters (defaults: lmzintgraf/varibad ``args_cheetah_vel_varibad.py``, methods.md §2.2)."""

    lr: float = 7e-4
    """Adam learning rate of the policy (varibad ``lr_policy`` = 7e-4)."""
    adam_eps: float = 1e-8
    """Adam epsilon (varibad ``policy_eps`` = 1e-8 for PPO)."""
    anneal_lr: bool = False
    """Decay the learning rate linearly to 0 over the run's budget (varibad ``policy_anneal_lr``; on for
    ant-goal and humanoid-dir)."""
    gamma: float = 0.97
    """Discount (varibad ``policy_gamma`` = 0.97; 0.99 for humanoid-dir)."""
    gae_lambda: float = 0.9
    """GAE lambda (varibad ``policy_tau`` = 0.9)."""
    clip: float = 0.1
    """PPO ratio clip, also the value clip (varibad ``ppo_clip_param`` = 0.1)."""
    epochs: int = 2
    """Passes over the data per update (varibad ``ppo_num_epochs`` = 2 for cheetah-vel)."""
    num_minibatch: int = 8
    """Minibatches per epoch (varibad ``ppo_num_minibatch`` = 8 for cheetah-vel at 57e1795)."""
    value_coef: float = 0.5
    """Weight of the value loss (varibad ``policy_value_loss_coef`` = 0.5)."""
    entropy_coef: float = 0.01
    """Weight of the entropy bonus (varibad ``policy_entropy_coef`` = 0.01)."""
    max_grad_norm: float = 0.5
    """Gradient-norm clip of the PPO step (varibad ``policy_max_grad_norm`` = 0.5)."""
    value_loss: Literal["huber", "mse"] = "huber"
    """Value regression loss (varibad ``ppo_use_huberloss`` = True: ``smooth_l1``)."""
    clip_value_loss: bool = True
    """Clip the value prediction around the old one and take the larger loss (varibad
    ``ppo_use_clipped_value_loss`` = True)."""
    normalize_advantage: bool = True
    """Standardize advantages over the whole batch before the epochs (varibad ``algorithms/ppo.py``)."""
    normalize_rewards: bool = True
    """Scale PPO rewards by the running std of the discounted return (varibad ``norm_rew_for_policy``)."""
    init_std: float = 1.0
    """Initial standard deviation of the Gaussian policy; the log-std is learned (varibad
    ``policy_init_std`` = 1.0, ``learn_action_std``)."""


# ---------------------------------------------------------------------------------------------------- GAE


def gae(
    reward: np.ndarray,
    value: np.ndarray,
    next_value: np.ndarray,
    terminated: np.ndarray,
    end: np.ndarray,
    gamma: float,
    lam: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Generalized advantage estimation over ``N`` sequences of ``L`` steps.

    ``delta_t = r_t + gamma * (1 - terminated_t) * next_value_t - value_t`` and
    ``A_t = delta_t + gamma * lam * (1 - end_t) * A_{t+1}``.

    Args:
        reward: ``[N, L]`` rewards.
        value: ``[N, L]`` ``V(s_t)``.
        next_value: ``[N, L]`` ``V(s_{t+1})`` of the state the step reached (used unless ``terminated``;
            at a time-limit truncation this is the value of the final observation: bootstrapping).
        terminated: ``[N, L]`` bool, true terminal transitions (no bootstrap).
        end: ``[N, L]`` bool, the sequence ends after step ``t`` (terminated, truncated, or the last valid
            step before padding): the advantage recursion is cut.
        gamma: discount.
        lam: GAE lambda.

    Returns:
        ``(advantages, returns)``, both ``[N, L]`` float32; ``returns = advantages + value``.
    """
    n, length = reward.shape
    adv = np.zeros((n, length), np.float64)
    last = np.zeros(n, np.float64)
    for t in reversed(range(length)):
        delta = reward[:, t] + gamma * (1.0 - terminated[:, t]) * next_value[:, t] - value[:, t]
        last = delta + gamma * lam * (1.0 - end[:, t]) * last
        adv[:, t] = last
    return adv.astype(np.float32), (adv + value).astype(np.float32)


# --------------------------------------------------------------------------------------------------- PPO


class PPOBatch(NamedTuple):
    """On-policy data of ``U`` units of ``L`` steps (tensors on the learner's device).

    Attributes:
        old_log_prob: ``[U, L]`` log-probability of the taken action under the collecting policy.
        old_value: ``[U, L]`` value predictions of the collecting policy.
        advantage: ``[U, L]`` GAE advantages.
        returns: ``[U, L]`` value targets (``advantage + old_value``).
        mask: ``[U, L]`` float, 1 on valid steps.
    """

    old_log_prob: torch.Tensor
    old_value: torch.Tensor
    advantage: torch.Tensor
    returns: torch.Tensor
    mask: torch.Tensor


#: ``evaluate(unit_indices [B]) -> (log_prob [B, L], entropy [B, L], value [B, L])`` under the current
#: parameters, with gradients.
Evaluate = Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor, torch.Tensor]]


def _masked_mean(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    return (x * mask).sum() / mask.sum().clamp_min(1.0)


class PPO:
    """Clipped-surrogate PPO over units of steps; see the module docstring.

    Args:
        params: the parameters PPO optimizes (policy and value networks, and a recurrent trunk if any).
        cfg: hyperparameters.
    """

    def __init__(self, params: Iterable[nn.Parameter], cfg: PPOConfig) -> None:
        self.cfg = cfg
        self.params = [p for p in params if p.requires_grad]
        self.optimizer = torch.optim.Adam(self.params, lr=cfg.lr, eps=cfg.adam_eps)

    def set_lr_fraction(self, fraction: float) -> None:
        """Set the learning rate to ``fraction * cfg.lr`` (linear annealing)."""
        for group in self.optimizer.param_groups:
            group["lr"] = self.cfg.lr * max(fraction, 0.0)

    def losses(
        self, log_prob: torch.Tensor, entropy: torch.Tensor, value: torch.Tensor, batch: PPOBatch
    ) -> dict[str, torch.Tensor]:
        """Policy, value and entropy terms and the total loss for one minibatch (all ``[B, L]`` inputs)."""
        cfg, mask = self.cfg, batch.mask
        ratio = torch.exp(log_prob - batch.old_log_prob)
        surr1 = ratio * batch.advantage
        surr2 = torch.clamp(ratio, 1.0 - cfg.clip, 1.0 + cfg.clip) * batch.advantage
        policy_loss = -_masked_mean(torch.min(surr1, surr2), mask)
        value_loss = _masked_mean(self._value_loss(value, batch), mask)
        entropy_mean = _masked_mean(entropy, mask)
        total = policy_loss + cfg.value_coef * value_loss - cfg.entropy_coef * entropy_mean
        clip_frac = _masked_mean(((ratio - 1.0).abs() > cfg.clip).float(), mask)
        approx_kl = _masked_mean((ratio - 1.0) - (log_prob - batch.old_log_prob), mask)
        return {"loss": total, "policy_loss": policy_loss, "value_loss": value_loss, "entropy": entropy_mean,
                "clip_fraction": clip_frac, "approx_kl": approx_kl}

    def _value_loss(self, value: torch.Tensor, batch: PPOBatch) -> torch.Tensor:
        """Per-step value loss ``[B, L]`` (Huber or squared error; clipped as in varibad's ``ppo.py``)."""
        cfg = self.cfg

        def err(v: torch.Tensor) -> torch.Tensor:
            if cfg.value_loss == "huber":
                return F.smooth_l1_loss(v, batch.returns, reduction="none")
            return (v - batch.returns).pow(2)

        if not cfg.clip_value_loss:
            return err(value) if cfg.value_loss == "huber" else 0.5 * err(value)
        clipped = batch.old_value + (value - batch.old_value).clamp(-cfg.clip, cfg.clip)
        return 0.5 * torch.max(err(value), err(clipped))

    def update(self, evaluate: Evaluate, batch: PPOBatch, rng: np.random.Generator) -> dict[str, float]:
        """Run ``epochs`` x ``num_minibatch`` gradient steps; return the mean of each loss term.

        Args:
            evaluate: the current policy on a set of units (see :data:`Evaluate`).
            batch: the data (advantages are standardized here when ``normalize_advantage``).
            rng: shuffles the units each epoch (the caller's generator, saved with its state).
        """
        cfg = self.cfg
        if cfg.normalize_advantage:
            valid = batch.advantage[batch.mask > 0]
            std = valid.std() if valid.numel() > 1 else torch.ones((), device=valid.device)
            adv = (batch.advantage - valid.mean()) / (std + 1e-5)
            batch = batch._replace(advantage=adv * batch.mask)
        units = batch.mask.shape[0]
        n_mb = max(1, min(cfg.num_minibatch, units))
        sums: dict[str, float] = {}
        steps = 0
        for _ in range(cfg.epochs):
            order = torch.as_tensor(rng.permutation(units), device=batch.mask.device)
            for idx in torch.tensor_split(order, n_mb):
                mb = PPOBatch(*(x[idx] for x in batch))
                if mb.mask.sum() == 0:
                    continue
                log_prob, entropy, value = evaluate(idx)
                terms = self.losses(log_prob, entropy, value, mb)
                self.optimizer.zero_grad(set_to_none=True)
                terms["loss"].backward()
                grad_norm = nn.utils.clip_grad_norm_(self.params, cfg.max_grad_norm)
                self.optimizer.step()
                for key, val in terms.items():
                    sums[key] = sums.get(key, 0.0) + float(val.detach())
                sums["grad_norm"] = sums.get("grad_norm", 0.0) + float(grad_norm)
                steps += 1
        return {f"ppo_{k}": v / max(steps, 1) for k, v in sums.items()}

    def state_dict(self) -> dict[str, object]:
        return {"optimizer": self.optimizer.state_dict()}

    def load_state_dict(self, state: dict[str, object]) -> None:
        self.optimizer.load_state_dict(state["optimizer"])  # type: ignore[arg-type]
