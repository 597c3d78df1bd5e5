"""Result files respect the umask (not mkstemp's 0600) and renames are made durable (directory fsync)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from harness import store
from harness.runner import Job, run_job


@pytest.fixture()
def umask():
    """Set the process umask for one test (restored afterwards)."""
    old = os.umask(0o022)
    yield lambda mask: os.umask(mask)
    os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_files_get_the_mode_a_plain_open_would_give(tmp_path: Path, umask) -> None:
    umask(0o022)
    store.write_json(tmp_path / "a.json", {"a": 1})
    assert mode(tmp_path / "a.json") == 0o644
    umask(0o007)
    store.write_text(tmp_path / "b.txt", "b")
    assert mode(tmp_path / "b.txt") == 0o660
    assert store.current_umask() == 0o007


def test_every_file_of_a_run_respects_the_umask(tmp_path: Path, umask) -> None:
    umask(0o022)
    job = Job(suite="point-goal", method="random", seed=0, out=str(tmp_path), profile="smoke", device="cpu")
    assert run_job(job).status == store.FINISHED
    files = [p for p in job.run_dir.rglob("*") if p.is_file()]
    assert {p.name for p in files} >= {store.CONFIG_FILE, store.META_FILE, store.EVAL_FILE,
                                       store.TRAIN_FILE, store.CHECKPOINT_FILE}
    assert {p.name: mode(p) for p in files} == {p.name: 0o644 for p in files}


def test_the_directory_is_fsynced_after_the_rename(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    synced: list[tuple[bool, int]] = []
    real = os.fsync

    def spy(fd: int) -> None:
        st = os.fstat(fd)
        synced.append((stat.S_ISDIR(st.st_mode), st.st_ino))
        real(fd)

    monkeypatch.setattr(os, "fsync", spy)
    store.write_json(tmp_path / "x.json", {"x": 1})
    assert synced[0][0] is False  # the file's data first
    assert synced[-1] == (True, tmp_path.stat().st_ino)  # then the directory holding the new entry
