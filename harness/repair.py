"""Check a whole results tree and repair what re-running can fix (``harness check RESULTS [--repair]``).

:func:`check_tree` lists every problem: damaged finished runs (a file that does not read back or differs
from the manifest in ``meta.json``), runs that did not finish (killed, failed, pruned, in progress), stray
folders, and temp files left by interrupted writes. :func:`repair_tree` re-runs the damaged and killed
runs through :func:`harness.runner.run_job` with the job rebuilt from the run's own record (its
``config.yaml``, else the record inside its checkpoint), so a damaged finished run is rebuilt from its
final checkpoint or trained again, and a killed run resumes; it removes leftover temp files. Failed and
pruned runs, runs in progress and stray folders are left as they are (they are listed).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness import store
from harness.checkpoint import CheckpointError, read_record
from harness.jobs import PUBLISHED, Job, JobResult
from harness.runlock import live_holder
from harness.runner import run_job
from harness.verify import leftover_temp_files, run_problems

#: Kinds of a problem (what ``--repair`` does about it).
DAMAGED, UNFINISHED, LEFT_AS_IS, TEMP, STRAY = "damaged", "unfinished", "left", "temp", "stray"


@dataclass(frozen=True)
class Problem:
    """One problem of a results tree.

    Attributes:
        path: the run (or stray) folder, or the leftover temp file.
        kind: ``damaged`` / ``unfinished`` (re-running fixes it), ``temp`` (removed), ``left`` (failed,
            pruned or in progress: not touched) or ``stray`` (not a run: not touched).
        text: what is wrong.
        record: the run's record (``config.yaml`` content) when it can be re-run.
    """

    path: Path
    kind: str
    text: str
    record: dict[str, Any] | None = None

    @property
    def repairable(self) -> bool:
        return self.kind in (DAMAGED, UNFINISHED, TEMP)


@dataclass
class TreeReport:
    """Everything :func:`check_tree` found."""

    root: Path
    runs: int = 0
    problems: list[Problem] = field(default_factory=list)


def _record_from_checkpoint(path: Path) -> dict[str, Any] | None:
    try:
        record = read_record(path / store.CHECKPOINT_FILE).record
    except CheckpointError:
        return None
    return record if store.stray_reason(path, record) is None else None


def _run_problem(rec: store.RunRecord) -> Problem | None:
    holder = live_holder(rec.path)
    if holder is not None:
        return Problem(rec.path, LEFT_AS_IS, f"in progress ({holder})")
    if rec.status == store.FINISHED:
        problems = run_problems(rec.path)
        return Problem(rec.path, DAMAGED, "; ".join(problems), rec.config) if problems else None
    if rec.status in (store.RUNNING, store.INCOMPLETE):
        return Problem(rec.path, UNFINISHED, "did not finish (killed)", rec.config)
    return Problem(rec.path, LEFT_AS_IS, "; ".join(rec.problems) or rec.status)


def check_tree(root: Path | str) -> TreeReport:
    """Every problem under the results directory ``root`` (nothing is changed)."""
    root = Path(root)
    runs, strays = store.scan_tree(root)
    report = TreeReport(root, runs=len(runs))
    for rec in runs:
        problem = _run_problem(rec)
        if problem is not None:
            report.problems.append(problem)
    for stray in strays:
        record = _record_from_checkpoint(stray.path) if stray.path.is_dir() else None
        if record is not None:  # config.yaml lost, the checkpoint says which run this is
            report.runs += 1
            report.problems.append(Problem(stray.path, DAMAGED, f"{store.CONFIG_FILE} missing", record))
        else:
            report.problems.append(Problem(stray.path, STRAY, f"stray folder: {stray.reason}"))
    for folder in [r.path for r in runs] + [s.path for s in strays if s.path.is_dir()]:
        for tmp in leftover_temp_files(folder):
            report.problems.append(Problem(tmp, TEMP, "temp file of an interrupted write"))
    return report


def job_from_record(root: Path, run_dir: Path, record: dict[str, Any], **kw: Any) -> Job:
    """The job that wrote ``run_dir`` (a ``<suite>/<method or label>/seed=<k>`` folder of ``root``),
    rebuilt from its record so that it resolves to the same config (``kw``: ``device``, ``plugins``)."""
    mode = record.get("budget_mode")
    budget: int | str | None = None if mode == "profile" else PUBLISHED if mode == PUBLISHED else \
        int(record["budget"])
    method = str(record["method"])
    return Job(
        suite=str(record["suite"]), method=method, seed=int(record["seed"]), out=str(root),
        profile=str(record.get("profile", "quick")), budget=budget,
        overrides=dict(record.get("config") or {}),
        eval_episodes=int(record["eval_episodes"]), eval_every=int(record["eval_every"]),
        task_seed=int(record.get("task_seed", 0)), threads=record.get("torch_threads"),
        label=run_dir.parent.name if run_dir.parent.name != method else None, **kw,
    )


def repair_tree(
    report: TreeReport, on_result: Callable[[Problem, str], None], **job_kw: Any
) -> list[JobResult]:
    """Fix the repairable problems of ``report``; ``on_result(problem, outcome)`` is told each outcome."""
    results = []
    for problem in report.problems:
        if problem.kind == TEMP:
            problem.path.unlink(missing_ok=True)
            on_result(problem, "removed")
        elif problem.repairable and problem.record is not None:
            result = run_job(job_from_record(report.root, problem.path, problem.record, **job_kw))
            results.append(result)
            outcome = result.status + (f": {result.warning}" if result.warning else "")
            on_result(problem, outcome + (f": {result.error}" if result.error else ""))
    return results
