"""Runner tests: resume after a kill, skip/force, failures, NaN stats, reproducibility, pruning."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from harness import store
from harness.config import ConfigError
from harness.executors import LocalExecutor
from harness.runner import Job, JobPruned, existing_state, resolve_job, run_job
from tests.runner.runner_scripted import PLUGIN  # importing it registers the scripted methods

HERE = Path(__file__).resolve().parent
FRAMES = (store.TRAIN_FILE, store.EVAL_FILE, store.TRACES_FILE)


def linear_job(out: Path, **kw) -> Job:
    base = dict(suite="point-goal", method="scripted-linear", seed=0, out=str(out), profile="smoke",
                budget=400, eval_every=100, device="cpu", plugins=(PLUGIN,))
    base.update(kw)
    return Job(**base)


def frames(run_dir: Path) -> dict[str, pd.DataFrame]:
    out = {}
    for name in FRAMES:
        df = pd.read_parquet(run_dir / name)
        out[name] = df.drop(columns=[c for c in store.TIMING_COLUMNS if c in df.columns])
    return out


def assert_same_frames(a: Path, b: Path) -> None:
    fa, fb = frames(a), frames(b)
    for name in FRAMES:
        pd.testing.assert_frame_equal(fa[name], fb[name], obj=name)


def test_killed_worker_resumes_to_identical_rows(tmp_path):
    """A worker killed mid-run (os._exit) is reported failed, the other job finishes; re-running resumes
    from the last checkpoint and ends with exactly the rows of an uninterrupted run."""
    reference = run_job(linear_job(tmp_path / "ref"))
    assert reference.status == "finished"
    jobs = [linear_job(tmp_path / "kill"), linear_job(tmp_path / "kill", method="scripted-probe")]
    env = {"RUNNER_TEST_CRASH_AFTER": "5"}
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)  # inherited by the spawned workers
    try:
        results = LocalExecutor(workers=2).run(jobs)
    finally:
        for k, v in old.items():
            os.environ.pop(k) if v is None else os.environ.__setitem__(k, v)
    assert [r.status for r in results] == ["failed", "finished"]
    assert "worker process died" in results[0].error
    killed = jobs[0].run_dir
    assert json.loads((killed / store.META_FILE).read_text())["status"] == store.RUNNING
    assert (killed / store.CHECKPOINT_FILE).exists()
    assert existing_state(resolve_job(jobs[0])) == "resume"
    before = pd.read_parquet(killed / store.EVAL_FILE)
    assert 0 < before["env_steps"].max() < 400  # it was killed after a checkpoint, before the end
    events = []
    resumed = run_job(jobs[0], events.append)
    assert resumed.status == "finished" and resumed.env_steps == 400
    assert "resuming at" in events[0].message
    assert json.loads((killed / store.META_FILE).read_text())["sessions"] == 2
    assert_same_frames(reference_dir := jobs[0].run_dir, linear_job(tmp_path / "ref").run_dir)
    assert len(pd.read_parquet(reference_dir / store.TRAIN_FILE)) == 7


def test_interrupted_in_process_run_resumes_identically(tmp_path):
    class Interrupt(BaseException):
        pass

    seen = {"evals": 0}

    def stop_after_two_evals(event):
        if event.kind == "eval":
            seen["evals"] += 1
            if seen["evals"] == 2:
                raise Interrupt  # like a kill: not caught by the runner, status stays "running"

    job = linear_job(tmp_path / "a", budget=500, eval_every=150)
    with pytest.raises(Interrupt):
        run_job(job, stop_after_two_evals)
    assert run_job(job).status == "finished"
    assert run_job(linear_job(tmp_path / "b", budget=500, eval_every=150)).status == "finished"
    assert_same_frames(job.run_dir, linear_job(tmp_path / "b").run_dir)


def test_same_seed_same_results_different_seed_differs(tmp_path):
    a = run_job(linear_job(tmp_path / "a", budget=120, eval_every=60))
    b = run_job(linear_job(tmp_path / "b", budget=120, eval_every=60))
    c = run_job(linear_job(tmp_path / "c", budget=120, eval_every=60, seed=1))
    assert a.status == b.status == c.status == "finished"
    ea = pd.read_parquet(linear_job(tmp_path / "a").run_dir / store.EVAL_FILE)
    eb = pd.read_parquet(linear_job(tmp_path / "b").run_dir / store.EVAL_FILE)
    ec = pd.read_parquet(linear_job(tmp_path / "c", seed=1).run_dir / store.EVAL_FILE)
    pd.testing.assert_frame_equal(ea, eb)
    assert not ea["return"].equals(ec["return"])
    assert list(ea.columns) == list(store.EVAL_COLUMNS)
    assert ea["task"].map(lambda s: json.loads(s)["kind"]).eq("PointTask").all()


def test_finished_run_is_skipped_unless_forced(tmp_path):
    job = linear_job(tmp_path, budget=60)
    assert run_job(job).status == "finished"
    eval_file = job.run_dir / store.EVAL_FILE
    mtime = eval_file.stat().st_mtime_ns
    skipped = run_job(job)
    assert skipped.status == "skipped" and skipped.env_steps == 60
    assert skipped.zero_shot == pytest.approx(run_job(job).zero_shot)
    assert eval_file.stat().st_mtime_ns == mtime
    forced = run_job(Job(**{**job.__dict__, "force": True}))
    assert forced.status == "finished" and eval_file.stat().st_mtime_ns != mtime


def test_run_dir_with_other_config_is_refused(tmp_path):
    assert run_job(linear_job(tmp_path, budget=60)).status == "finished"
    with pytest.raises(ConfigError, match=r"different configuration \(config, config.lr\)"):
        existing_state(resolve_job(linear_job(tmp_path, budget=60, sets=("lr=0.1",))))
    other = run_job(linear_job(tmp_path, budget=60, sets=("lr=0.1",)))
    assert other.status == "failed" and "--force" in other.error


@pytest.mark.parametrize(("sets", "message", "steps"), [
    (("raise_at=1",), "RuntimeError: scripted failure", 60),  # raises before collecting
    (("nan_at=1",), "FloatingPointError: training produced a non-finite value: loss = nan", 120),
])
def test_failing_job_is_recorded_with_traceback(tmp_path, sets, message, steps):
    jobs = [linear_job(tmp_path, budget=300, sets=sets), linear_job(tmp_path, budget=300, seed=1)]
    results = LocalExecutor(workers=1).run(jobs)
    assert [r.status for r in results] == ["failed", "finished"]
    assert results[0].error == message
    meta = json.loads((jobs[0].run_dir / store.META_FILE).read_text())
    assert meta["status"] == "failed" and meta["error"] == message
    assert "Traceback" in meta["traceback"] and "harness/loop.py" in meta["traceback"]
    assert meta["env_steps"] == steps  # iterations of 60 steps charged before the failure
    records = {r.seed: r for r in store.scan_results(tmp_path)}
    assert records[0].status == "failed" and not records[0].ok and records[1].ok


def test_pruned_from_event_sink(tmp_path):
    def prune(event):
        if event.kind == "eval":
            raise JobPruned("pruned at first evaluation")

    result = run_job(linear_job(tmp_path), prune)
    assert result.status == "pruned" and result.env_steps == 120
    assert json.loads((linear_job(tmp_path).run_dir / store.META_FILE).read_text())["status"] == "pruned"


def test_traces_for_belief_agents_and_meta_provenance(tmp_path):
    job = linear_job(tmp_path, suite="point-goal-nonstat", budget=200, eval_every=200, eval_episodes=2)
    assert run_job(job).status == "finished"
    traces = pd.read_parquet(job.run_dir / store.TRACES_FILE)
    assert {"task_id", "episode", "t", "reward", "true_task", "base_id", "belief_mean_reward"} <= set(traces)
    assert len(traces) == 2 * 2 * 100  # 2 test tasks x 2 episodes x horizon 100
    assert traces["belief_mean_reward"].iloc[0].dtype == np.float32  # half the bytes of float64 lists
    meta = json.loads((job.run_dir / store.META_FILE).read_text())
    assert meta["status"] == "finished" and meta["env_steps"] == 200
    libs = {"python", "torch", "numpy", "gymnasium", "mujoco", "metaworld", "harness"}
    assert set(meta["versions"]) >= libs
    assert {"git_commit", "host", "timings"} <= set(meta)
    # the processor: same seed, same numbers holds on the same kind of CPU (README, "Reference results")
    assert set(meta["cpu"]) == {"model", "torch_capability", "cores"} and meta["cpu"]["cores"] >= 1
    train = pd.read_parquet(job.run_dir / store.TRAIN_FILE)
    assert list(train.columns[:5]) == list(store.TRAIN_COLUMNS)
    assert (train[["collect_seconds", "update_seconds"]] >= 0).all().all()


def test_meta_records_the_commit_the_run_started_with(tmp_path, monkeypatch):
    """A commit made while a run trains is not the code it runs: every ``meta.json`` write of one
    ``run_job`` call records the checkout's commit at the call's start."""
    commits = iter(f"commit-{i}" for i in range(10_000))
    monkeypatch.setattr(store, "git_commit", lambda path=None: next(commits))
    job = linear_job(tmp_path, budget=120, eval_every=60)
    assert run_job(job).status == "finished"
    meta = json.loads((job.run_dir / store.META_FILE).read_text())
    assert meta["git_commit"] == "commit-0"
