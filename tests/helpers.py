"""Small helpers shared by test modules (import as ``from tests.helpers import ...``)."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest
import torch

from harness.collector import Collector
from harness.method import Method
from harness.registry import get_suite

#: The repository root (scripts live in ``ROOT / "scripts"``).
ROOT = Path(__file__).resolve().parents[1]


def load_script(name: str) -> ModuleType:
    """The script ``scripts/<name>.py`` imported as module ``name`` (registered in ``sys.modules``, so the
    dataclasses it defines resolve their module)."""
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


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
