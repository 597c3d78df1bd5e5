"""The results store: the one source for every table, plot and report.

Layout (one directory per run)::

    <root>/<suite>/<method>/seed=<k>/
        config.yaml      method, suite, seed, profile, budget, budget_mode, eval settings, task counts,
                         and ``config`` (every field of the method's config)
        meta.json        status (running | finished | failed | pruned), versions, git commit, host,
                         timings, env_steps, error + traceback
        train.parquet    one row per training iteration: iteration, env_steps, wall_time (s since the
                         run started), collect_seconds, update_seconds, + the method's stats (a stat
                         named like one of these columns is stored as ``method_<name>``)
        eval.parquet     one row per evaluation episode: eval_index, env_steps, task_id, task (JSON),
                         episode (0-based within the trial), return, success, length, metric
        traces.parquet   final evaluation, one row per step: task_id, episode, t, reward, true_task,
                         base_id, belief_<key> (written for non-stationary suites and belief agents)
        checkpoint.pt    resume state (method, collector, torch RNG, rows so far)

Every file is written atomically (a temp file in the same directory, then ``os.replace``), so a reader
sees either the old or the new file, never a half-written one. Readers (:func:`scan_results`,
:func:`load_frames`) tolerate missing and partial runs and say what is wrong in ``RunRecord.problems``.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import platform
import socket
import subprocess
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

CONFIG_FILE = "config.yaml"
META_FILE = "meta.json"
TRAIN_FILE = "train.parquet"
EVAL_FILE = "eval.parquet"
TRACES_FILE = "traces.parquet"
CHECKPOINT_FILE = "checkpoint.pt"

#: Run statuses written to ``meta.json``.
RUNNING, FINISHED, FAILED, PRUNED = "running", "finished", "failed", "pruned"
#: Status reported by :func:`scan_results` for a directory without a readable ``meta.json``.
INCOMPLETE = "incomplete"

#: Columns of ``eval.parquet`` in order.
EVAL_COLUMNS = (
    "eval_index", "env_steps", "task_id", "task", "episode", "return", "success", "length", "metric",
)
#: Columns of ``train.parquet`` written by the runner (method stats follow).
TRAIN_COLUMNS = ("iteration", "env_steps", "wall_time", "collect_seconds", "update_seconds")
#: Columns that measure time, hence differ between identical runs.
TIMING_COLUMNS = ("wall_time", "collect_seconds", "update_seconds")


def run_dir(root: Path | str, suite: str, method: str, seed: int) -> Path:
    """``<root>/<suite>/<method>/seed=<seed>``."""
    return Path(root) / suite / method / f"seed={seed}"


# ------------------------------------------------------------------------------------------ atomic writes


def atomic_write(path: Path | str, write: Callable[[io.BufferedWriter], Any]) -> None:
    """Write ``path`` atomically: ``write(fileobj)`` into a temp file of the same directory, then rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def write_text(path: Path | str, text: str) -> None:
    """Atomically write UTF-8 text."""
    atomic_write(path, lambda f: f.write(text.encode("utf-8")))


def write_json(path: Path | str, data: Any) -> None:
    """Atomically write JSON (indented, keys in insertion order)."""
    write_text(path, json.dumps(data, indent=2, default=str) + "\n")


def write_yaml(path: Path | str, data: Any) -> None:
    """Atomically write YAML (keys in insertion order)."""
    write_text(path, yaml.safe_dump(data, sort_keys=False))


def write_parquet(path: Path | str, frame: pd.DataFrame) -> None:
    """Atomically write a whole frame as parquet (pyarrow, no index)."""
    atomic_write(path, lambda f: frame.to_parquet(f, index=False, engine="pyarrow"))


def write_torch(path: Path | str, obj: Any) -> None:
    """Atomically ``torch.save`` ``obj``."""
    import torch

    atomic_write(path, lambda f: torch.save(obj, f))


# ------------------------------------------------------------------------------------------ provenance


def versions() -> dict[str, str | None]:
    """Versions of Python and the libraries results depend on (None where not installed)."""
    from importlib import metadata

    import harness

    out: dict[str, str | None] = {"python": platform.python_version(), "harness": harness.__version__}
    for dist in ("torch", "numpy", "gymnasium", "mujoco", "metaworld"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = None
    return out


def git_commit(path: Path | str | None = None) -> str | None:
    """Commit of the harness checkout (``+dirty`` when it has local changes); None outside a git tree."""
    where = Path(path) if path is not None else Path(__file__).resolve().parent
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=where, capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=where, capture_output=True, text=True, timeout=10, check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return f"{commit}+dirty" if dirty else commit or None


def host() -> str:
    """This machine's host name."""
    return socket.gethostname()


# ---------------------------------------------------------------------------------------------- readers


@dataclass
class RunRecord:
    """One run directory as found by :func:`scan_results`.

    Attributes:
        path: the run directory.
        experiment: the results root it was found under (its name).
        suite: suite name (from the path).
        method: method name (from the path).
        seed: seed (from the ``seed=<k>`` directory name).
        status: ``meta.json`` status (running | finished | failed | pruned), or ``incomplete`` when
            ``meta.json`` is missing or unreadable. ``running`` also means "killed before finishing".
        config: parsed ``config.yaml`` (None when missing or unreadable).
        meta: parsed ``meta.json`` (None when missing or unreadable).
        problems: human-readable problems: missing or corrupt files.
    """

    path: Path
    experiment: str
    suite: str
    method: str
    seed: int
    status: str
    config: dict[str, Any] | None = None
    meta: dict[str, Any] | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Finished and every expected file readable."""
        return self.status == FINISHED and not self.problems

    def frame(self, name: str = EVAL_FILE) -> pd.DataFrame | None:
        """Read one of the run's parquet files (None when missing or corrupt)."""
        return read_parquet(self.path / name)


def read_json(path: Path) -> dict[str, Any] | None:
    """Parsed JSON object at ``path``, or None when missing or unreadable."""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def read_yaml_file(path: Path) -> dict[str, Any] | None:
    """Parsed YAML mapping at ``path``, or None when missing or unreadable."""
    try:
        data = yaml.safe_load(Path(path).read_text())
    except (OSError, yaml.YAMLError):
        return None
    return data if isinstance(data, dict) else None


def read_parquet(path: Path) -> pd.DataFrame | None:
    """The parquet frame at ``path``, or None when missing or corrupt."""
    try:
        return pd.read_parquet(path)
    except Exception:  # pyarrow raises many types for corrupt files
        return None


def inspect_run(path: Path, experiment: str = "") -> RunRecord:
    """Read one run directory ``<suite>/<method>/seed=<k>`` and list its problems."""
    path = Path(path)
    try:
        seed = int(path.name.split("=", 1)[1])
    except (IndexError, ValueError):
        seed = -1
    rec = RunRecord(path, experiment, path.parent.parent.name, path.parent.name, seed, INCOMPLETE)
    rec.meta = read_json(path / META_FILE)
    rec.config = read_yaml_file(path / CONFIG_FILE)
    if rec.meta is None:
        rec.problems.append(f"{META_FILE} missing or unreadable")
    else:
        rec.status = str(rec.meta.get("status", INCOMPLETE))
    if rec.config is None:
        rec.problems.append(f"{CONFIG_FILE} missing or unreadable")
    expected = [TRAIN_FILE, EVAL_FILE] if rec.status == FINISHED else []
    for name in (TRAIN_FILE, EVAL_FILE, TRACES_FILE):
        p = path / name
        if p.exists():
            if read_parquet(p) is None:
                rec.problems.append(f"{name} corrupt")
        elif name in expected:
            rec.problems.append(f"{name} missing")
    if rec.status == RUNNING:
        rec.problems.append("run did not finish (status running: in progress or killed)")
    elif rec.status == FAILED:
        err = (rec.meta or {}).get("error") or "unknown error"
        rec.problems.append(f"run failed: {err}")
    return rec


def scan_results(root: Path | str) -> list[RunRecord]:
    """Every run directory under ``root`` (``<suite>/<method>/seed=<k>``), sorted by suite, method, seed.

    Missing, partial, failed and corrupt runs are returned too: check ``status`` and ``problems``
    (or ``ok``) before using a run.
    """
    root = Path(root)
    out = [
        inspect_run(p, root.name)
        for p in root.glob("*/*/seed=*")
        if p.is_dir()
    ]
    return sorted(out, key=lambda r: (r.suite, r.method, r.seed))


def load_frames(
    records: Iterable[RunRecord], name: str = EVAL_FILE, only_ok: bool = True
) -> pd.DataFrame:
    """Concatenate one parquet file of many runs, with ``suite``, ``method``, ``seed`` columns added.

    Args:
        records: runs from :func:`scan_results`.
        name: ``eval.parquet``, ``train.parquet`` or ``traces.parquet``.
        only_ok: skip runs that are not finished or have problems.

    Returns:
        The tidy frame (empty when no run has the file).
    """
    frames = []
    for rec in records:
        if only_ok and not rec.ok:
            continue
        df = rec.frame(name)
        if df is None:
            continue
        df = df.assign(suite=rec.suite, method=rec.method, seed=rec.seed)
        frames.append(df)
    if not frames:
        return pd.DataFrame()
    return pd.concat(frames, ignore_index=True)
