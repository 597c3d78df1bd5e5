"""The bare training loop: ``train_step`` until the budget is spent.

:mod:`harness.runner` wraps this with evaluation cadence, checkpoints, logging and resuming; tests and
notebooks can call :func:`fit` directly to train a method on a suite in-process.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from harness.collector import Collector
from harness.context import RunContext

if TYPE_CHECKING:
    from harness.method import Method
    from harness.suite import Suite, Task


def check_finite(stats: dict[str, float]) -> None:
    """Raise ``FloatingPointError`` naming the first non-finite training statistic."""
    for key, value in stats.items():
        if not np.isfinite(value):
            raise FloatingPointError(f"training produced a non-finite value: {key} = {value}")


def fit(
    method: Method,
    suite: Suite,
    train_tasks: list[Task],
    ctx: RunContext,
    on_iteration: Callable[[int, dict[str, float], Collector], Any] | None = None,
    restore: Callable[[Collector], int] | None = None,
) -> Collector:
    """Set up ``method`` and call ``train_step`` until the run's budget (``ctx.budget`` environment steps,
    charged by the collector) is spent.

    Seeds torch from ``ctx.seed`` first (CPU runs are then reproducible). ``on_iteration(i, stats,
    collector)`` is called after every training step. ``restore(collector)``, called after ``setup`` and
    before the first step, may load a checkpoint into the method, the collector and the torch RNG and
    returns the iteration to continue from (the runner resumes through it). Returns the (closed) collector.
    """
    torch.manual_seed(ctx.seed)
    method.setup(suite, train_tasks, ctx)
    collector = Collector(suite, train_tasks, ctx.seed, ctx.budget, task_obs=method.sees_task,
                          privileged_task=method.privileged_task(method.config))
    try:
        i = restore(collector) if restore is not None else 0
        while not collector.exhausted:
            before = collector.steps_used
            stats = method.train_step(collector)
            check_finite(stats)
            if collector.steps_used == before and not collector.exhausted:
                raise RuntimeError(
                    f"{method.name}.train_step collected no experience; the loop cannot advance"
                )
            if on_iteration is not None:
                on_iteration(i, stats, collector)
            i += 1
    finally:
        collector.close()
    return collector
