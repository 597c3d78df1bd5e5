"""Optuna search-space pieces shared by methods (``Method.search_space``), sampled in natural spaces.

Learning rates and ``1 - gamma`` are log-uniform; batch sizes are powers of two (``batch_size_pow``), as in
rl-baselines3-zoo's samplers. Each function returns config field -> value for the fields it names.
"""

from __future__ import annotations

from typing import Any


def suggest_lr(trial: Any, name: str = "lr", low: float = 1e-4, high: float = 3e-3) -> float:
    """A log-uniform learning rate."""
    return float(trial.suggest_float(name, low, high, log=True))


def suggest_gamma(trial: Any, low: float = 0.9, high: float = 0.999) -> float:
    """A discount drawn as ``1 - gamma`` on a log scale."""
    return 1.0 - float(trial.suggest_float("one_minus_gamma", 1.0 - high, 1.0 - low, log=True))


def suggest_batch_size(trial: Any, low_pow: int = 6, high_pow: int = 9) -> int:
    """A power-of-two batch size ``2**k``, ``k`` in ``[low_pow, high_pow]``."""
    return int(2 ** trial.suggest_int("batch_size_pow", low_pow, high_pow))


def suggest_hidden(trial: Any, widths: tuple[int, ...] = (64, 128, 256), depth: int = 2) -> tuple[int, ...]:
    """Hidden layer sizes: one width from ``widths`` repeated ``depth`` times."""
    return (int(trial.suggest_categorical("width", list(widths))),) * depth


def suggest_sac(trial: Any) -> dict[str, Any]:
    """Overrides of the shared SAC block's fields (:class:`methods.common.sac.SACConfig`)."""
    lr = suggest_lr(trial)
    return {
        "actor_lr": lr,
        "critic_lr": lr,
        "gamma": suggest_gamma(trial),
        "tau": float(trial.suggest_float("tau", 1e-3, 0.05, log=True)),
        "batch_size": suggest_batch_size(trial),
        "hidden": suggest_hidden(trial),
    }
