"""One experiment directory read into tidy frames (through :mod:`harness.store`), plus its run health."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from harness import store
from harness.analysis.scores import UPPER_REFERENCE

#: Built-in methods that see the true task: the fallback for runs whose ``config.yaml`` has no
#: ``sees_task`` (written by earlier harness versions).
TASK_SEEING_NAMES = frozenset({UPPER_REFERENCE})


@dataclass
class Results:
    """An experiment: every run found, and the frames of the usable ones.

    Attributes:
        root: the experiment directory (``results/<experiment>``).
        runs: every run directory found, usable or not (see ``RunRecord.problems``).
        evals: ``eval.parquet`` of usable runs, with ``suite, method, seed`` columns.
        train: ``train.parquet`` of usable runs.
        traces: ``traces.parquet`` of usable runs that wrote one.
        metrics: ``{suite: metric}``.
        strays: folders that look like runs but are not ones the harness wrote (``seed=01``,
            ``seed=abc``, no ``config.yaml``, a config naming another suite, method or seed): never read.
    """

    root: Path
    runs: list[store.RunRecord]
    evals: pd.DataFrame
    train: pd.DataFrame
    traces: pd.DataFrame
    metrics: dict[str, str] = field(default_factory=dict)
    strays: list[store.Stray] = field(default_factory=list)

    @property
    def suites(self) -> list[str]:
        """Suites with at least one run directory (sorted)."""
        return sorted({r.suite for r in self.runs})

    @property
    def task_seeing_methods(self) -> list[str]:
        """Methods (or sweep trials ``<method>@trial-<n>``) that see the true task: reference ceilings,
        never marked best. Read from the runs' ``config.yaml`` (``sees_task``); a method whose runs were
        written before the harness recorded it counts when its name is one of :data:`TASK_SEEING_NAMES`."""
        out = []
        for name in self.methods:
            flags = [bool(r.config["sees_task"]) for r in self.runs
                     if r.method == name and r.config is not None and "sees_task" in r.config]
            if any(flags) if flags else name.split("@", 1)[0] in TASK_SEEING_NAMES:
                out.append(name)
        return out

    @property
    def methods(self) -> list[str]:
        """Methods with at least one run directory (sorted)."""
        return sorted({r.method for r in self.runs})

    @property
    def seeds(self) -> list[int]:
        """Seeds with at least one run directory (sorted)."""
        return sorted({r.seed for r in self.runs})

    @property
    def usable(self) -> list[store.RunRecord]:
        """Finished runs whose files all read back."""
        return [r for r in self.runs if r.ok]

    def health(self) -> pd.DataFrame:
        """One row per run directory: ``suite, method, seed, status, ok, env_steps, wall_seconds, problems,
        error, traceback, path`` (``wall_seconds``: training + evaluation time of finished runs, else NaN)."""
        rows = []
        for r in self.runs:
            meta = r.meta or {}
            rows.append({
                "suite": r.suite, "method": r.method, "seed": r.seed, "status": r.status, "ok": r.ok,
                "env_steps": meta.get("env_steps"),
                "wall_seconds": float((meta.get("timings") or {}).get("wall_seconds", float("nan"))),
                "problems": "; ".join(r.problems),
                "error": meta.get("error") or "", "traceback": meta.get("traceback") or "",
                "path": str(r.path),
            })
        columns = ["suite", "method", "seed", "status", "ok", "env_steps", "wall_seconds", "problems",
                   "error", "traceback", "path"]
        return pd.DataFrame(rows, columns=columns)

    def missing(self) -> list[tuple[str, str, int]]:
        """(suite, method, seed) combinations of the experiment's grid without any run directory.

        The grid is every suite x method x seed seen anywhere in the experiment.
        """
        have = {(r.suite, r.method, r.seed) for r in self.runs}
        return [(s, m, k) for s in self.suites for m in self.methods for k in self.seeds
                if (s, m, k) not in have]

    def configs(self) -> dict[tuple[str, str], dict[str, Any]]:
        """``{(suite, method): config.yaml}`` of the lowest seed that has a readable config."""
        out: dict[tuple[str, str], dict[str, Any]] = {}
        for r in sorted(self.runs, key=lambda r: r.seed):
            if r.config is not None and (r.suite, r.method) not in out:
                out[(r.suite, r.method)] = r.config
        return out

    def versions(self) -> pd.DataFrame:
        """Distinct (versions, git commit, host) combinations and how many runs used each (runs with a
        readable ``meta.json``)."""
        rows = []
        for r in self.runs:
            if r.meta is None:
                continue
            meta = r.meta
            vers = meta.get("versions") or {}
            rows.append({**{f"{k}": v for k, v in vers.items()}, "git_commit": meta.get("git_commit"),
                         "host": meta.get("host")})
        if not rows:
            return pd.DataFrame()
        df = pd.DataFrame(rows).astype(str)
        return df.value_counts(dropna=False).rename("runs").reset_index()


def load_results(root: Path | str) -> Results:
    """Scan ``root`` (``<suite>/<method>/seed=<k>`` directories) and load the usable runs' frames.

    Raises:
        FileNotFoundError: ``root`` is not a directory.
    """
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"results directory {root} does not exist")
    runs, strays = store.scan_tree(root)
    ok = [r for r in runs if r.ok]
    evals = store.load_frames(ok, store.EVAL_FILE)
    metrics: dict[str, str] = {}
    for r in runs:
        if r.config and "metric" in r.config:
            metrics.setdefault(r.suite, str(r.config["metric"]))
    if not evals.empty:
        for suite, metric in evals.groupby("suite")["metric"].first().items():
            metrics[str(suite)] = str(metric)
    return Results(
        root=root, runs=runs, evals=evals, train=store.load_frames(ok, store.TRAIN_FILE),
        traces=store.load_frames(ok, store.TRACES_FILE), metrics=metrics, strays=strays,
    )
