"""Config values are range-checked when parsed, by field-name conventions shared by every method config."""

from __future__ import annotations

import math

import pytest

from harness.config import ConfigError, check_overrides, method_config
from harness.config_ranges import range_error
from harness.profiles import PROFILES
from harness.registry import get_method, get_suite, list_methods
from methods.baselines import SacMtConfig


@pytest.mark.parametrize("suite", ["point-goal", "point-goal-nonstat", "cheetah-vel"])
def test_every_shipped_config_is_in_range(suite: str) -> None:
    for name in list_methods():
        for profile in PROFILES:
            method_config(get_method(name), get_suite(suite), profile)  # raises when out of range


@pytest.mark.parametrize(("key", "value", "message"), [
    ("gamma", 5, "valid range: 0 < x <= 1; got 5.0"),
    ("gamma", 0, "valid range: 0 < x <= 1; got 0.0"),
    ("actor_lr", -1, "valid range: > 0 and finite; got -1.0"),
    ("critic_lr", math.nan, "expected a finite number, got nan"),
    ("batch_size", 0, "valid range: an integer 1 .. 1000000 (memory); got 0"),
    ("batch_size", 10**100, "got 1e+100"),
    ("buffer_size", -1, "valid range: an integer 1 .. 100000000 (memory); got -1"),
    ("hidden", [], "expected a non-empty list of layer widths"),
    ("hidden", [64, 0], "layer widths must each be an integer 1 .. 65536"),
    ("tasks_per_step", 0, "valid range: an integer 1 .. 2147483647; got 0"),
    ("tau", 1.5, "valid range: 0 < x <= 1"),
    ("alpha", -0.1, "valid range: >= 0 and finite"),
    ("utd", 0, "valid range: > 0 and finite"),
])
def test_out_of_range_values_name_field_value_and_range(key: str, value: object, message: str) -> None:
    with pytest.raises(ConfigError, match=r"--set: SacMtConfig\." + key) as err:
        check_overrides(SacMtConfig, {key: value}, "--set")
    assert message in str(err.value)


def test_values_that_stay_valid() -> None:
    ok = {"gamma": 1.0, "actor_lr": 1e-5, "batch_size": 1, "hidden": [1], "log_std_min": -20.0,
          "target_entropy": -3.0, "max_grad_norm": None, "learning_starts": 0, "reward_scale": -1.0}
    assert check_overrides(SacMtConfig, ok, "--set")["hidden"] == (1,)
    assert range_error("state_embed", int, 0) is None  # an embedding of size 0 means none
    assert range_error("mode", str, "x") is None


def test_shares_and_stretch_lengths_are_checked() -> None:
    from methods.moss.config import MossConfig

    assert range_error("behaviour_swap_share", float, 1.5) == "valid range: 0 <= x <= 1; got 1.5"
    assert range_error("behaviour_swap_share", float, 0.0) is None
    with pytest.raises(ConfigError, match=r"MossConfig\.behaviour_swap_steps.*an integer 1 \.\."):
        check_overrides(MossConfig, {"behaviour_swap_steps": 0}, "--set")
