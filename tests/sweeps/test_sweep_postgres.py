"""A sweep against a real PostgreSQL server on localhost, two worker processes sharing the study."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import optuna
import pytest

from harness import sweeps
from tests.sweeps.test_sweeps import spec


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _as_postgres(cmd: list[str]) -> list[str]:
    # initdb and the server refuse to run as root: run them as the postgres system user then.
    if os.geteuid() == 0:
        return ["su", "postgres", "-s", "/bin/sh", "-c", " ".join(cmd)]
    return cmd


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    bins = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if not bins:
        pytest.skip("PostgreSQL server not installed (scripts/test.sh installs Debian's postgresql)")
    bindir = bins[-1].parent
    root = Path(tempfile.mkdtemp(prefix="harness-pg-", dir="/tmp"))
    data, sock = root / "data", root / "sock"
    sock.mkdir()
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
        shutil.chown(sock, "postgres")
    port = _free_port()
    subprocess.run(_as_postgres([str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "harness"]),
                   check=True, capture_output=True)
    opts = f"'-p {port} -k {sock} -c listen_addresses=127.0.0.1'"
    subprocess.run(_as_postgres([str(bindir / "pg_ctl"), "-D", str(data), "-o", opts, "-w", "-l",
                                 str(root / "log"), "start"]), check=True, capture_output=True)
    try:
        subprocess.run([str(bindir / "psql"), "-h", "127.0.0.1", "-p", str(port), "-U", "harness", "-d",
                        "postgres", "-c", "CREATE DATABASE optuna"], check=True, capture_output=True)
        yield f"postgresql+psycopg2://harness@127.0.0.1:{port}/optuna"
    finally:
        subprocess.run(_as_postgres([str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]),
                       capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


def test_two_workers_share_a_postgres_study(tmp_path: Path, postgres_url: str) -> None:
    s = spec(tmp_path, storage=postgres_url, pruner="none", seeds=(0,))
    study = sweeps.run_sweep(s, trials=4, workers=2)
    assert len(study.trials) == 4
    assert all(t.state == optuna.trial.TrialState.COMPLETE for t in study.trials)
    pids = {t.user_attrs["worker_pid"] for t in study.trials}
    assert len(pids) == 2, "both worker processes ran trials of the shared study"
    # the study lives in the server: a fresh handle sees every trial, and resuming adds to it
    assert len(optuna.load_study(study_name="s", storage=postgres_url).trials) == 4
    assert len(sweeps.run_sweep(s, trials=1).trials) == 5
