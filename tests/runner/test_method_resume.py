"""Every registered method resumes an interrupted run to the rows of an uninterrupted one (through the
runner and its checkpoints): nothing a method's training depends on may live outside its ``state_dict``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from harness import store
from harness.registry import get_method, list_methods
from harness.runner import Job, run_job

#: Ablations that differ from ``moss`` only in config values (same class, same state): ``moss`` covers them.
CONFIG_ONLY_ABLATIONS = frozenset({"moss-no-gmm", "moss-no-contrastive", "moss-ps"})


class Interrupt(BaseException):
    """Like a kill: not caught by the runner, the run's status stays ``running``."""


def _rows(run_dir: Path, name: str) -> pd.DataFrame:
    df = pd.read_parquet(run_dir / name)
    return df.drop(columns=[c for c in df.columns if c in store.TIMING_COLUMNS or c.endswith("_seconds")])


def assert_resumes_to_identical_rows(make_job: Callable[[Path], Job], tmp_path: Path) -> Job:
    """Run ``make_job(tmp_path / "a")``, interrupted after its second evaluation, then resume it; run
    ``make_job(tmp_path / "b")`` uninterrupted; assert the two have the same train and eval rows (timing
    columns aside). Returns the resumed job."""
    evals: list[Any] = []

    def stop_after_two_evals(event: Any) -> None:
        if event.kind == "eval":
            evals.append(event)
            if len(evals) == 2:
                raise Interrupt

    job = make_job(tmp_path / "a")
    with pytest.raises(Interrupt):
        run_job(job, stop_after_two_evals)
    assert run_job(job).status == "finished"
    uninterrupted = make_job(tmp_path / "b")
    assert run_job(uninterrupted).status == "finished"
    for name in (store.EVAL_FILE, store.TRAIN_FILE):
        pd.testing.assert_frame_equal(_rows(job.run_dir, name), _rows(uninterrupted.run_dir, name),
                                      obj=f"{job.method} {name}")
    return job


#: The harness's own methods (not the ones test modules register, whatever the collection order).
BUILTIN = [m for m in list_methods()
           if get_method(m).__module__.startswith("methods.") and m not in CONFIG_ONLY_ABLATIONS]


@pytest.mark.parametrize("method", BUILTIN)
def test_interrupted_run_resumes_to_identical_rows(tmp_path: Path, method: str) -> None:
    def make_job(out: Path) -> Job:
        return Job(suite="point-goal-nonstat", method=method, seed=0, out=str(out), profile="smoke",
                   budget=2400, eval_every=800, device="cpu")

    assert_resumes_to_identical_rows(make_job, tmp_path)
