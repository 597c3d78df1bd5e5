"""The run-directory lock: one trainer per run, stale locks taken over, the heartbeat keeps it fresh."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness import store
from harness.runlock import LOCK_FILE, RunLocked, acquire, release, run_lock
from harness.runner import Job, run_job


def _write_lock(run_dir: Path, pid: int, host: str, age: float = 0.0) -> Path:
    run_dir.mkdir(parents=True, exist_ok=True)
    path = run_dir / LOCK_FILE
    path.write_text(json.dumps({"pid": pid, "host": host, "since": "2026-01-01T00:00:00+0000"}))
    if age:
        then = time.time() - age
        os.utime(path, (then, then))
    return path


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_second_holder_is_refused(tmp_path: Path) -> None:
    path = acquire(tmp_path / "run")
    assert json.loads(path.read_text())["pid"] == os.getpid()
    with pytest.raises(RunLocked, match=f"process {os.getpid()} on {store.host()}"):
        acquire(tmp_path / "run")
    release(path)
    assert not path.exists()
    release(acquire(tmp_path / "run"))


def test_stale_locks_are_taken_over(tmp_path: Path) -> None:
    dead = _write_lock(tmp_path / "dead", _dead_pid(), store.host())
    assert acquire(tmp_path / "dead") == dead and json.loads(dead.read_text())["pid"] == os.getpid()
    old = _write_lock(tmp_path / "old", 1, "another-host", age=1000.0)
    assert acquire(tmp_path / "old", stale_seconds=300.0) == old
    _write_lock(tmp_path / "fresh", 1, "another-host", age=10.0)
    with pytest.raises(RunLocked, match="another-host"):
        acquire(tmp_path / "fresh", stale_seconds=300.0)


def test_release_leaves_other_holders_alone(tmp_path: Path) -> None:
    path = _write_lock(tmp_path / "run", 1, "another-host")
    release(path)
    assert path.exists()


def test_heartbeat_touches_the_lock(tmp_path: Path) -> None:
    with run_lock(tmp_path / "run", heartbeat_seconds=0.05) as path:
        then = time.time() - 1000
        os.utime(path, (then, then))
        deadline = time.time() + 10
        while path.stat().st_mtime < then + 500 and time.time() < deadline:
            time.sleep(0.05)
        assert path.stat().st_mtime > then + 500
    assert not path.exists()


def test_run_job_leaves_a_locked_run_alone(tmp_path: Path) -> None:
    job = Job(suite="point-goal", method="random", seed=0, out=str(tmp_path), profile="smoke")
    lock = _write_lock(job.run_dir, os.getppid(), store.host())  # a live process on this host
    result = run_job(job)
    assert result.status == store.FAILED and "being trained by" in (result.error or "")
    assert sorted(p.name for p in job.run_dir.iterdir()) == [LOCK_FILE]  # nothing written
    lock.unlink()
    assert run_job(job).status == store.FINISHED
    assert not (job.run_dir / LOCK_FILE).exists()
    forced = run_job(Job(suite="point-goal", method="random", seed=0, out=str(tmp_path), profile="smoke",
                         force=True))
    assert forced.status == store.FINISHED and not (job.run_dir / LOCK_FILE).exists()


def test_concurrent_processes_train_a_run_once(tmp_path: Path) -> None:
    """Two ``harness run`` on the same results directory: one trains, the other reports the lock."""
    cmd = [sys.executable, "-m", "harness", "run", "--suite", "point-goal", "--method", "sac-mt",
           "--profile", "smoke", "--budget", "3000", "--out", str(tmp_path)]
    first = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lock = tmp_path / "point-goal" / "sac-mt" / "seed=0" / LOCK_FILE
    deadline = time.time() + 120
    while not lock.exists() and first.poll() is None and time.time() < deadline:
        time.sleep(0.01)
    assert lock.exists(), "the first run never took the lock"
    os.kill(first.pid, signal.SIGSTOP)  # hold the first run mid-training while the second one starts
    try:
        second = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    finally:
        os.kill(first.pid, signal.SIGCONT)
    out_first, _ = first.communicate(timeout=300)
    assert first.returncode == 0, out_first
    assert second.returncode == 1 and "being trained by process" in second.stdout + second.stderr
    meta = store.read_json(tmp_path / "point-goal" / "sac-mt" / "seed=0" / store.META_FILE)
    assert meta is not None and meta["status"] == store.FINISHED and meta["sessions"] == 1
    assert not lock.exists()


def test_a_live_holder_on_this_host_keeps_its_lock_however_long_it_is_silent(tmp_path: Path) -> None:
    """A trainer stopped (SIGSTOP) for longer than the silence limit still holds its run: the silence rule
    is for holders on other hosts, whose pid cannot be checked."""
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        os.kill(sleeper.pid, signal.SIGSTOP)
        _write_lock(tmp_path / "run", sleeper.pid, store.host(), age=10_000.0)
        with pytest.raises(RunLocked, match=f"process {sleeper.pid}"):
            acquire(tmp_path / "run", stale_seconds=300.0)
    finally:
        sleeper.kill()
        sleeper.wait()
    assert acquire(tmp_path / "run", stale_seconds=300.0) == tmp_path / "run" / LOCK_FILE  # now it is dead


def test_a_recycled_pid_does_not_keep_a_dead_holders_lock(tmp_path: Path) -> None:
    path = _write_lock(tmp_path / "run", os.getpid(), store.host())  # our pid, but "started" by another
    data = json.loads(path.read_text())
    path.write_text(json.dumps({**data, "started": "1"}))
    assert acquire(tmp_path / "run") == path
    assert json.loads(path.read_text())["started"] not in (None, "1")
