"""``--executor ray`` on a local Ray cluster: same results as the local executor; a killed worker's job is
retried and completes (resuming from its checkpoint)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from harness.executors import LocalExecutor
from harness.runner import Job
from harness.store import EVAL_FILE, TIMING_COLUMNS, scan_results

ray = pytest.importorskip("ray")
PLUGIN = str(Path(__file__).parents[1] / "fixtures" / "sweep_plugin.py")


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[None]:
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        yield
    finally:
        ray.shutdown()


def jobs(out: Path, method: str = "sac-mt", sets: tuple[str, ...] = ()) -> list[Job]:
    return [Job(suite="point-goal", method=method, seed=k, out=str(out), profile="smoke", device="cpu",
                plugins=(PLUGIN,), sets=sets, eval_every=20) for k in (0, 1)]


def frame(run_dir: str) -> pd.DataFrame:
    return pd.read_parquet(Path(run_dir) / EVAL_FILE)


def test_ray_matches_local_executor(tmp_path: Path, ray_cluster: None) -> None:
    from harness.executors_ray import RayExecutor

    local = LocalExecutor(workers=1).run(jobs(tmp_path / "local"))
    events: list[object] = []
    remote = RayExecutor(workers=2).run(jobs(tmp_path / "ray"), events.append)
    assert [r.status for r in remote] == ["finished", "finished"]
    for a, b in zip(local, remote, strict=True):
        pd.testing.assert_frame_equal(frame(a.run_dir), frame(b.run_dir))
    train = [pd.read_parquet(Path(r.run_dir) / "train.parquet").drop(columns=list(TIMING_COLUMNS))
             for r in (local[0], remote[0])]
    pd.testing.assert_frame_equal(*train)
    assert any(getattr(e, "kind", "") == "end" for e in events), "progress events stream back from Ray"


def test_killed_worker_is_retried_and_completes(tmp_path: Path, ray_cluster: None) -> None:
    from harness.executors_ray import RayExecutor

    marker = tmp_path / "crashed"
    job = jobs(tmp_path / "out", method="constant-mover", sets=(f"crash_marker={marker}",))[0]
    res = RayExecutor(workers=2).run([job])
    assert marker.exists(), "the first attempt died"
    assert res[0].status == "finished"
    assert [r.status for r in scan_results(tmp_path / "out")] == ["finished"]
    # the retry resumed from the checkpoint: evaluations are not duplicated
    ev = frame(res[0].run_dir)
    assert ev.groupby(["eval_index", "task_id", "episode"]).size().max() == 1
    assert sorted(ev.eval_index.unique()) == list(range(ev.eval_index.max() + 1))


def test_cli_run_and_sweep_on_ray(tmp_path: Path, ray_cluster: None) -> None:
    from harness import sweeps
    from harness.cli import main
    from harness.executors_ray import run_sweep_on_ray
    from tests.sweeps.test_sweeps import spec

    out = tmp_path / "cli"
    assert main(["run", "--suite", "point-goal", "--method", "constant-mover", "--seeds", "0,1",
                 "--profile", "smoke", "--out", str(out), "--executor", "ray", "--plugin", PLUGIN]) == 0
    assert [r.status for r in scan_results(out)] == ["finished", "finished"]
    s = spec(tmp_path, pruner="none", seeds=(0,))
    study = run_sweep_on_ray(s, trials=2, workers=2)
    assert len(study.trials) == 2 and study.best_value == sweeps.load_study(s).best_value
