"""One trainer per run directory: a lock file, so two ``harness run`` on the same ``--out`` never both train.

``<run dir>/.lock`` is created exclusively (``O_CREAT | O_EXCL``, atomic on local and NFS v3+ file systems)
and holds ``{"pid", "host", "since", "started"}`` (``started``: the holder's start time as the kernel
reports it, so a recycled pid is told apart). While the run trains, a daemon thread touches it every
``HEARTBEAT_SECONDS``. Another process that finds the lock leaves the run alone, unless the lock is stale:

* holder on this host: stale exactly when that process is gone (its pid is dead or now belongs to a
  process started at another time). A live holder keeps its lock however long it is silent (stopped with
  SIGSTOP, suspended laptop, swapped out);
* holder on another host (its pid cannot be checked): stale when the lock has not been touched for
  ``STALE_SECONDS`` (a holder killed on another machine, e.g. a preempted cluster node).

A stale lock is taken over and the run resumes from its checkpoint.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from harness import store

LOCK_FILE = ".lock"
#: Seconds between two touches of a held lock.
HEARTBEAT_SECONDS = 30.0
#: A lock not touched for this long is stale (its holder is gone).
STALE_SECONDS = 300.0


class RunLocked(RuntimeError):
    """The run directory is being trained by another live process."""


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def _start_time(pid: int) -> str | None:
    """Start time of process ``pid`` (clock ticks since boot, ``/proc/<pid>/stat`` field 22), or None
    where ``/proc`` is not available."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rfind(")") + 2:].split()  # the command name may contain spaces and parentheses
    return fields[19] if len(fields) > 19 else None


def _holder(path: Path) -> dict[str, object]:
    try:
        data = json.loads(path.read_text())
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def _is_stale(path: Path, stale_seconds: float) -> bool:
    try:
        age = time.time() - path.stat().st_mtime
    except FileNotFoundError:
        return True
    holder = _holder(path)
    pid = holder.get("pid")
    if holder.get("host") == store.host() and isinstance(pid, int) and not isinstance(pid, bool):
        if not _pid_alive(pid):
            return True
        started = holder.get("started")
        return started is not None and _start_time(pid) not in (None, started)  # pid recycled
    return age > stale_seconds


def _try_create(path: Path) -> bool:
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w") as f:
        json.dump({"pid": os.getpid(), "host": store.host(),
                   "since": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "started": _start_time(os.getpid())}, f)
    return True


def acquire(run_dir: Path, stale_seconds: float = STALE_SECONDS) -> Path:
    """Take the lock of ``run_dir`` (created if missing); returns the lock path.

    Raises:
        RunLocked: a live process holds it (the message names its pid, host and start time).
    """
    run_dir.mkdir(parents=True, exist_ok=True)
    path = run_dir / LOCK_FILE
    for _ in range(3):  # a stale lock removed by a competitor between our checks: try again
        if _try_create(path):
            return path
        if not _is_stale(path, stale_seconds):
            h = _holder(path)
            raise RunLocked(
                f"{run_dir} is being trained by process {h.get('pid', '?')} on {h.get('host', '?')} "
                f"(since {h.get('since', '?')}); wait for it, or delete {path} if that process is gone"
            )
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
    raise RunLocked(f"could not take the lock {path} (other processes keep taking it)")


def live_holder(run_dir: Path, stale_seconds: float = STALE_SECONDS) -> str | None:
    """Who holds ``run_dir``'s lock (``"process <pid> on <host>"``), or None when it is free or stale."""
    path = run_dir / LOCK_FILE
    if not path.exists() or _is_stale(path, stale_seconds):
        return None
    h = _holder(path)
    return f"process {h.get('pid', '?')} on {h.get('host', '?')}"


def release(path: Path) -> None:
    """Remove the lock if this process still holds it."""
    h = _holder(path)
    if h.get("pid") == os.getpid() and h.get("host") == store.host():
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


@contextlib.contextmanager
def run_lock(
    run_dir: Path, stale_seconds: float = STALE_SECONDS, heartbeat_seconds: float = HEARTBEAT_SECONDS
) -> Iterator[Path]:
    """Hold the lock of ``run_dir`` for the ``with`` block, touching it every ``heartbeat_seconds``."""
    path = acquire(run_dir, stale_seconds)
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(heartbeat_seconds):
            with contextlib.suppress(OSError):
                os.utime(path)

    thread = threading.Thread(target=beat, name=f"run-lock {run_dir}", daemon=True)
    thread.start()
    try:
        yield path
    finally:
        stop.set()
        thread.join()
        release(path)
