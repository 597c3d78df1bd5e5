"""Small helpers shared by test modules (import as ``from tests.helpers import ...``)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch

from harness.collector import Collector
from harness.method import Method
from harness.registry import get_suite


def suite_marks(suite_name: str) -> list[pytest.MarkDecorator]:
    """``metaworld`` / ``mujoco`` marks of a registered suite (none for toy suites)."""
    group = get_suite(suite_name).group
    if group.startswith("metaworld"):
        return [pytest.mark.metaworld]
    return [] if group == "toy" else [pytest.mark.mujoco]


def second_train_step(make_method: Callable[[int], Method], resume: bool) -> dict[str, float]:
    """Stats of the second ``train_step`` on point-goal (4 training tasks, task seed 1).

    ``make_method(seed)`` builds a set-up method. With ``resume`` the state after the first step is loaded
    into a fresh method built with another seed, so equal stats with and without ``resume`` show that
    ``state_dict`` carries everything the next step depends on.
    """
    suite = get_suite("point-goal")
    method = make_method(1)
    collector = Collector(suite, suite.train_tasks(1, 4), 1, 10_000)
    method.train_step(collector)
    if resume:
        state = method.state_dict()
        method = make_method(7)
        method.load_state_dict(state)
    torch.manual_seed(3)
    return method.train_step(collector)
