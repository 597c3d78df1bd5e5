"""Smoke tests: ``rl2`` and ``varibad`` end to end through the runner on every registered suite (``smoke``
profile: 4 episodes of budget, 2 train / 2 test tasks, one evaluation of ``eval_episodes = 2``).

Toy suites run both methods; every other suite runs one of the two, alternating in registry order, so each
method meets every suite family while MuJoCo / Meta-World env steps (most of the cost) are paid once."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from harness import store
from harness.registry import list_suites
from harness.runner import Job, run_job
from tests.helpers import suite_marks

METHODS = ["rl2", "varibad"]


def _cases() -> list:
    cases, k = [], 0
    for s in list_suites():
        if s.group == "toy":
            cases += [pytest.param(s.name, m, id=f"{s.name}-{m}") for m in METHODS]
        else:
            m = METHODS[k % 2]
            k += 1
            cases.append(pytest.param(s.name, m, marks=suite_marks(s.name), id=f"{s.name}-{m}"))
    return cases


@pytest.mark.parametrize(("suite", "method"), _cases())
def test_smoke_every_suite(tmp_path: Path, suite: str, method: str) -> None:
    job = Job(suite=suite, method=method, seed=0, out=str(tmp_path), profile="smoke", device="cpu")
    result = run_job(job)
    assert result.status == "finished", result.traceback
    assert np.isfinite(result.zero_shot) and np.isfinite(result.k_shot)
    evals = pd.read_parquet(job.run_dir / store.EVAL_FILE)
    assert sorted(evals["episode"].unique()) == [0, 1]  # k = 2 episodes per trial
    train = pd.read_parquet(job.run_dir / store.TRAIN_FILE)
    assert {"ppo_loss", "ppo_entropy", "train_return"} <= set(train.columns)
    if method == "varibad":
        traces = pd.read_parquet(job.run_dir / store.TRACES_FILE)
        assert {"belief_mean", "belief_var"} <= set(traces.columns)
