"""Every built-in method (except ``random``, which has nothing to tune) defines a search space whose samples
are valid config overrides, in natural spaces, and reproducible under a seeded sampler."""

from __future__ import annotations

import dataclasses

import optuna
import pytest

from harness.config import check_overrides
from harness.registry import get_method, list_methods

NOTHING_TO_TUNE = {"random"}
BUILTIN = [m for m in list_methods() if get_method(m).__module__.startswith("methods.")]


@pytest.mark.parametrize("name", [m for m in BUILTIN if m not in NOTHING_TO_TUNE])
def test_search_space_samples_valid_overrides(name: str) -> None:
    cls = get_method(name)
    samples = []
    for _ in range(2):
        study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=3))
        trials = [study.ask() for _ in range(3)]
        samples.append([cls.search_space(t) for t in trials])
    assert samples[0] == samples[1], "seeded sampler gives the same overrides"
    for overrides in samples[0]:
        assert overrides, "a search space samples at least one field"
        coerced = check_overrides(cls.config_cls, overrides, f"{name} search space")
        config = dataclasses.replace(cls.config_cls(), **coerced)  # builds a valid config
        assert config != cls.config_cls() or len(samples[0]) == 1


def test_methods_without_search_space_say_so() -> None:
    for name in NOTHING_TO_TUNE:
        with pytest.raises(NotImplementedError, match="no search space"):
            get_method(name).search_space(optuna.create_study().ask())
