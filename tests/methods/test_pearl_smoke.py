"""Smoke tests: PEARL end to end through the runner on every registered suite (``smoke`` profile): the run
finishes and records its belief (mean, variance and z) in the traces. Toy suites and walker-rand-params
(s' in the context) run the full 3-episode trial (prior, prior, posterior); the other MuJoCo and
Meta-World suites evaluate one episode to keep CI cheap."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from harness import store
from harness.registry import get_suite, list_suites
from harness.runner import Job, run_job
from tests.helpers import suite_marks

SUITES = [pytest.param(s.name, marks=suite_marks(s.name)) for s in list_suites()]
FULL_TRIAL = {"walker-rand-params"}


@pytest.mark.parametrize("suite", SUITES)
def test_pearl_smoke_every_suite(tmp_path: Path, suite: str) -> None:
    episodes = 3 if get_suite(suite).group == "toy" or suite in FULL_TRIAL else 1
    job = Job(suite=suite, method="pearl", seed=0, out=str(tmp_path), profile="smoke", device="cpu",
              eval_episodes=episodes)
    result = run_job(job)
    assert result.status == "finished", result.traceback
    assert np.isfinite(result.zero_shot)
    evals = pd.read_parquet(job.run_dir / store.EVAL_FILE)
    assert sorted(evals["episode"].unique()) == list(range(episodes))
    train = pd.read_parquet(job.run_dir / store.TRAIN_FILE)
    assert (train["collected_steps"] > 0).all() and "critic_loss" in train.columns
    traces = pd.read_parquet(job.run_dir / store.TRACES_FILE)
    assert {"belief_mean", "belief_var", "belief_z"} <= set(traces.columns)
