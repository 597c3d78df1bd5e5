"""Every registered method resumes an interrupted run to the rows of an uninterrupted one (through the
runner and its checkpoints): nothing a method's training depends on may live outside its ``state_dict``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from harness import store
from harness.registry import list_methods
from harness.runner import Job, run_job


class Interrupt(BaseException):
    """Like a kill: not caught by the runner, the run's status stays ``running``."""


def _job(out: Path, method: str) -> Job:
    return Job(suite="point-goal-nonstat", method=method, seed=0, out=str(out), profile="smoke", budget=2400,
               eval_every=800, device="cpu")


def _rows(run_dir: Path, name: str) -> pd.DataFrame:
    df = pd.read_parquet(run_dir / name)
    return df.drop(columns=[c for c in df.columns if c in store.TIMING_COLUMNS or c.endswith("_seconds")])


#: Ablations that differ from ``moss`` only in config values (same class, same state): ``moss`` covers them.
CONFIG_ONLY_ABLATIONS = frozenset({"moss-no-gmm", "moss-no-contrastive", "moss-ps"})


@pytest.mark.parametrize("method", [m for m in list_methods() if m not in CONFIG_ONLY_ABLATIONS])
def test_interrupted_run_resumes_to_identical_rows(tmp_path: Path, method: str) -> None:
    evals: list[Any] = []

    def stop_after_two_evals(event: Any) -> None:
        if event.kind == "eval":
            evals.append(event)
            if len(evals) == 2:
                raise Interrupt

    job = _job(tmp_path / "a", method)
    with pytest.raises(Interrupt):
        run_job(job, stop_after_two_evals)
    assert run_job(job).status == "finished"
    uninterrupted = _job(tmp_path / "b", method)
    assert run_job(uninterrupted).status == "finished"
    for name in (store.EVAL_FILE, store.TRAIN_FILE):
        pd.testing.assert_frame_equal(_rows(job.run_dir, name), _rows(uninterrupted.run_dir, name),
                                      obj=f"{method} {name}")
