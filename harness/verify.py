"""Checks of a run directory's files before trusting them (skipping a finished run, ``harness check``).

:func:`run_problems` reads back every file of a finished run: ``config.yaml`` and ``meta.json`` parse,
the parquet files read, sizes and SHA-256 match the manifest the runner wrote into ``meta.json`` when the
run finished, and ``checkpoint.pt`` is an intact zip (every member's CRC; nothing is unpickled). An empty
list means the run can be skipped. :func:`leftover_temp_files` finds temp files of writes that a kill
interrupted.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from harness import store
from harness.checkpoint import zip_problem

#: Files of a finished run listed in its manifest (``meta.json["files"]``).
MANIFEST_FILES = (store.CONFIG_FILE, store.TRAIN_FILE, store.EVAL_FILE, store.TRACES_FILE,
                  store.CHECKPOINT_FILE)


#: ``config.yaml`` keys derived from the code, not from settings (``sees_task``: the method class's flag),
#: added by later harness versions: a run or checkpoint written before them is the same run.
DERIVED_KEYS = frozenset({"sees_task"})
#: ``config.yaml`` keys added by later harness versions: a run written before them lacks the key, which is
#: then not counted as a difference (``torch_threads``: such runs used the pool's thread count).
ADDED_KEYS = frozenset({"torch_threads"}) | DERIVED_KEYS


def with_derived_keys(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """``old`` with the :data:`DERIVED_KEYS` it lacks taken from ``new`` (an older run's record as this
    harness would write it)."""
    return {**old, **{k: new[k] for k in DERIVED_KEYS if k not in old and k in new}}


def as_current(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """An older run's record as this harness writes it, to compare with ``new`` (the record of the job):
    :func:`with_derived_keys`, and its method config rebuilt through the method's config class, so config
    keys renamed since (kept as aliases, :mod:`harness.config_fields`) read under their current names and
    fields added since take their defaults (the behaviour of the code before them). ``old``'s config is kept
    as it is when the method differs or the config cannot be rebuilt."""
    out = with_derived_keys(old, new)
    config = out.get("config")
    if isinstance(config, dict) and old.get("method") == new.get("method"):
        from harness.config import config_from_dict, config_to_dict
        from harness.registry import get_method

        try:
            rebuilt = config_to_dict(config_from_dict(get_method(str(old["method"])).config_cls, config))
        except (KeyError, TypeError, ValueError):  # unknown method or key, bad value: a real difference
            return out
        out["config"] = json.loads(json.dumps(rebuilt))
    return out


def record_diff(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """Keys whose values differ between two run records (``config.<field>`` for the method config)."""
    keys = sorted(set(old) | set(new))
    diff = [k for k in keys if old.get(k) != new.get(k) and not (k in ADDED_KEYS and k not in old)]
    if "config" in diff:
        oc, nc = old.get("config") or {}, new.get("config") or {}
        if isinstance(oc, dict) and isinstance(nc, dict):
            diff += [f"config.{k}" for k in sorted(set(oc) | set(nc)) if oc.get(k) != nc.get(k)]
    return diff


def manifest(run_dir: Path) -> dict[str, dict[str, object]]:
    """``{name: {"bytes", "sha256"}}`` of the run's result files that exist (written at the end of a run)."""
    return {name: store.file_digest(run_dir / name) for name in MANIFEST_FILES if (run_dir / name).is_file()}


def checkpoint_problems(run_dir: Path, meta: dict[str, object] | None) -> list[str]:
    """What is wrong with a finished run's ``checkpoint.pt`` (changed since the run finished, or a damaged
    zip). A finished run without one is complete (results are shared without their checkpoints): only
    :func:`harness.trained.load_run` needs it."""
    path = run_dir / store.CHECKPOINT_FILE
    if not path.exists():
        return []
    listed = (meta or {}).get(store.MANIFEST_KEY)
    if isinstance(listed, dict) and store.CHECKPOINT_FILE in listed:
        return store.manifest_problems(run_dir, meta, [store.CHECKPOINT_FILE])
    problem = zip_problem(path)  # runs finished before manifests were written
    return [problem] if problem else []


def run_problems(run_dir: Path) -> list[str]:
    """Every problem of a run directory that claims to be finished (empty: every file reads back)."""
    rec = store.inspect_run(run_dir)
    problems = list(rec.problems)
    if rec.status == store.FINISHED:
        problems += checkpoint_problems(run_dir, rec.meta)
    return problems


def leftover_temp_files(run_dir: Path) -> list[Path]:
    """Temp files of :func:`harness.store.atomic_write` left by a process killed mid-write."""
    return sorted(p for p in run_dir.glob(f".*{store.TEMP_SUFFIX}") if p.is_file())
