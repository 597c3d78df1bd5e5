"""Smoke tests: MoSS end to end through the runner on every registered suite (``smoke`` profile), and every
ablation on a toy suite; the belief traces and timing stats land in the results files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from harness import store
from harness.registry import get_method, get_suite, list_suites
from harness.runner import Job, run_job
from tests.helpers import suite_marks

ABLATIONS = ["moss-no-gmm", "moss-no-contrastive", "moss-traj", "moss-ps"]
TIMING = ["collect_seconds", "encoder_seconds", "policy_seconds"]  # collect_seconds: from the runner


SUITES = [pytest.param(s.name, marks=suite_marks(s.name)) for s in list_suites()]


def _run(tmp_path: Path, suite: str, method: str) -> Path:
    job = Job(suite=suite, method=method, seed=0, out=str(tmp_path), profile="smoke", device="cpu")
    result = run_job(job)
    assert result.status == "finished", result.traceback
    assert np.isfinite(result.zero_shot)
    return job.run_dir


@pytest.mark.parametrize("suite", SUITES)
def test_moss_smoke_every_suite(tmp_path: Path, suite: str) -> None:
    run_dir = _run(tmp_path, suite, "moss")
    train = pd.read_parquet(run_dir / store.TRAIN_FILE)
    assert set(TIMING) <= set(train.columns)
    assert (train["encoder_seconds"] > 0).all() and (train["policy_seconds"] > 0).all()


@pytest.mark.parametrize("method", ABLATIONS)
def test_ablation_smoke(tmp_path: Path, method: str) -> None:
    run_dir = _run(tmp_path, "point-multi-task", method)
    traces = pd.read_parquet(run_dir / store.TRACES_FILE)
    cfg = get_method(method).config_cls()
    assert {"belief_mean", "belief_var", "belief_class_probs"} <= set(traces.columns)
    k = len(traces["belief_class_probs"].iloc[0])
    assert k == (2 if cfg.use_gmm else 1)  # point-multi-task: num_classes 2 (hparams.yaml)


def test_published_budget() -> None:
    moss = get_method("moss")
    assert moss.published_budget(get_suite("cheetah-vel")) == 100 * 200 + 501 * 30 * 200
    assert moss.published_budget(get_suite("point-goal")) is None
    assert get_method("moss-traj").eval_episodes == 3 and moss.eval_episodes == 1
