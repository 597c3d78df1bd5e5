"""The results store: the one source for every table, plot and report.

Layout (one directory per run)::

    <root>/<suite>/<method>/seed=<k>/
        config.yaml      method, suite, seed, profile, budget, budget_mode, eval settings, task counts,
                         torch_threads and ``config`` (every field of the method's config)
        meta.json        status (running | finished | failed | pruned), versions, git commit, host,
                         timings, env_steps (updated at every checkpoint), config_hash, error +
                         traceback, and once finished ``files``: size and SHA-256 of every result file
        train.parquet    one row per training iteration: iteration, env_steps, wall_time (s since the
                         run started), collect_seconds, update_seconds, + the method's stats (a stat
                         named like one of these columns is stored as ``method_<name>``)
        eval.parquet     one row per evaluation episode: eval_index, env_steps, task_id, task (JSON),
                         episode (0-based within the trial), return, success, length, metric
        traces.parquet   final evaluation, one row per step: task_id, episode, t, reward, true_task,
                         base_id, belief_<key> (float32 lists; written for non-stationary suites and
                         belief agents)
        checkpoint.pt    resume state (method, collector, torch RNG, rows so far, resolved config and its
                         hash; see :mod:`harness.checkpoint`)

Every file is written atomically (a temp file in the same directory, then ``os.replace``, then an fsync of
the directory), with the mode a plain ``open`` gives under the umask, so a reader sees either the old or
the new file, never a half-written one. Readers (:func:`scan_tree`, :func:`scan_results`,
:func:`load_frames`) read only canonical run folders (``seed=<k>`` whose ``config.yaml`` names the same
suite, method and seed; the others are :class:`Stray`), tolerate missing and partial runs and say what is
wrong in ``RunRecord.problems`` (files that do not read back or differ from the manifest).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import platform
import re
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
#: Suffix of the temp files of :func:`atomic_write` (left behind only by a process killed mid-write).
TEMP_SUFFIX = ".tmp"
#: ``meta.json`` key of the finished run's file manifest (``{name: {"bytes", "sha256"}}``).
MANIFEST_KEY = "files"
#: Run-directory names the harness writes: ``seed=<k>`` with ``k`` a non-negative integer below 2**32.
SEED_DIR = re.compile(r"seed=(0|[1-9][0-9]*)")
SEED_LIMIT = 2**32
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


def current_umask() -> int:
    """The process umask, read without changing it where the OS tells (Linux ``/proc``), else 0o022-safe
    probing through ``os.umask`` (set and restored at once)."""
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def fsync_dir(path: Path | str) -> None:
    """Flush a directory entry (a rename into it) to disk; a no-op where directories cannot be opened."""
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def atomic_write(path: Path | str, write: Callable[[io.BufferedWriter], Any]) -> None:
    """Write ``path`` atomically: ``write(fileobj)`` into a temp file of the same directory, then rename.

    The file gets the mode a plain ``open`` would give it (``0o666`` less the umask, not ``mkstemp``'s
    ``0o600``), and the directory is fsynced after the rename so the new entry survives a crash.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TEMP_SUFFIX, dir=path.parent)
    try:
        with contextlib.suppress(OSError, AttributeError):  # os.fchmod is missing on Windows
            os.fchmod(fd, 0o666 & ~current_umask())
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    fsync_dir(path.parent)


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


def cpu() -> dict[str, str | int | None]:
    """The processor results were computed on: ``model`` (``/proc/cpuinfo``'s model name, else
    ``platform.processor()``), ``torch_capability`` (the vector instruction set PyTorch's CPU kernels
    dispatch to, e.g. ``AVX512``) and ``cores``. Same seed gives the same numbers on the same kind of
    processor; on another one the matrix kernels may round differently (README, "Reference results")."""
    model = platform.processor() or None
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            names = (line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
            model = next(names, model)
    except OSError:
        pass
    try:
        import torch

        capability: str | None = torch.backends.cpu.get_cpu_capability()
    except (ImportError, AttributeError):
        capability = None
    return {"model": model, "torch_capability": capability, "cores": os.cpu_count()}


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


def file_digest(path: Path | str) -> dict[str, Any]:
    """``{"bytes": size, "sha256": hex}`` of a file (read in 1 MiB chunks)."""
    h = hashlib.sha256()
    size = 0
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
            size += len(chunk)
    return {"bytes": size, "sha256": h.hexdigest()}


def manifest_problems(path: Path, meta: dict[str, Any] | None, names: Iterable[str]) -> list[str]:
    """Files of ``names`` listed in ``meta.json``'s manifest that are missing or differ from it."""
    listed = (meta or {}).get(MANIFEST_KEY)
    if not isinstance(listed, dict):
        return []
    problems = []
    for name in names:
        want = listed.get(name)
        if not isinstance(want, dict):
            continue
        p = path / name
        if not p.is_file():
            problems.append(f"{name} missing")
            continue
        try:
            got = file_digest(p)
        except OSError as err:
            problems.append(f"{name} unreadable ({err.strerror or err})")
            continue
        if got != {"bytes": want.get("bytes"), "sha256": want.get("sha256")}:
            problems.append(f"{name} changed since the run finished (size or checksum differs)")
    return problems


def stray_reason(path: Path, config: dict[str, Any] | None) -> str | None:
    """Why ``<suite>/<method>/<name>`` is not a run folder written by the harness (None when it is one).

    A canonical run folder is named ``seed=<k>`` (``k`` written without sign or leading zeros, below
    2**32) and its ``config.yaml`` names the same suite, method (or ``<method>@<label>`` folder of a
    sweep trial) and seed.
    """
    match = SEED_DIR.fullmatch(path.name)
    if match is None:
        return "folder name is not seed=<non-negative integer> as the harness writes it"
    seed = int(match.group(1))
    if seed >= SEED_LIMIT:
        return f"seed {seed} is out of range (0 <= seed < 2**32)"
    if config is None:
        return f"no readable {CONFIG_FILE} (not a run written by the harness)"
    folder_method, suite = path.parent.name, path.parent.parent.name
    method = config.get("method")
    cfg_seed = config.get("seed")
    if isinstance(cfg_seed, bool) or cfg_seed != seed:
        return f"{CONFIG_FILE} is for seed {cfg_seed!r}, not {seed}"
    if config.get("suite") != suite:
        return f"{CONFIG_FILE} is for suite {config.get('suite')!r}, not {suite!r}"
    if not isinstance(method, str) or not (folder_method == method or folder_method.startswith(f"{method}@")):
        return f"{CONFIG_FILE} is for method {method!r}, not {folder_method!r}"
    return None


def inspect_run(path: Path, experiment: str = "") -> RunRecord:
    """Read one run directory ``<suite>/<method>/seed=<k>`` and list its problems.

    Every parquet file is read back; a finished run's files are also checked against the manifest in
    its ``meta.json`` (sizes and SHA-256), so truncated, garbled or swapped files are named.
    """
    path = Path(path)
    match = SEED_DIR.fullmatch(path.name)
    seed = int(match.group(1)) if match else -1
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
    if rec.status == FINISHED:
        flagged = {problem.split()[0] for problem in rec.problems}
        names = [n for n in (CONFIG_FILE, TRAIN_FILE, EVAL_FILE, TRACES_FILE) if n not in flagged]
        rec.problems += manifest_problems(path, rec.meta, names)
    if rec.status == RUNNING:
        rec.problems.append("run did not finish (status running: in progress or killed)")
    elif rec.status == FAILED:
        err = (rec.meta or {}).get("error") or "unknown error"
        rec.problems.append(f"run failed: {err}")
    return rec


@dataclass(frozen=True)
class Stray:
    """A folder under a results tree that looks like a run but is not one the harness wrote.

    Attributes:
        path: the folder.
        reason: why it is not read as a run (see :func:`stray_reason`).
    """

    path: Path
    reason: str


def scan_tree(root: Path | str) -> tuple[list[RunRecord], list[Stray]]:
    """The canonical run folders under ``root`` (sorted by suite, method, seed) and the stray ones.

    Candidates are the folders ``<suite>/<method>/seed*``; those failing :func:`stray_reason` (a name like
    ``seed=01`` or ``seed=abc``, no readable ``config.yaml``, a config naming another suite, method or
    seed) are strays: never averaged in, listed so the user can remove or fix them.
    """
    root = Path(root)
    runs: list[RunRecord] = []
    strays: list[Stray] = []
    for p in sorted(root.glob("*/*/seed*")):
        if not p.is_dir():
            continue
        reason = stray_reason(p, read_yaml_file(p / CONFIG_FILE))
        if reason is None:
            runs.append(inspect_run(p, root.name))
        else:
            strays.append(Stray(p, reason))
    return sorted(runs, key=lambda r: (r.suite, r.method, r.seed)), strays


def scan_results(root: Path | str) -> list[RunRecord]:
    """Every canonical run directory under ``root`` (see :func:`scan_tree`), sorted by suite, method, seed.

    Missing, partial, failed and corrupt runs are returned too: check ``status`` and ``problems``
    (or ``ok``) before using a run. Stray folders are left out (:func:`scan_tree` lists them).
    """
    return scan_tree(root)[0]


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
