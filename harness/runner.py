"""The runner: one (suite, method, seed) job from its resolved config to results, with evaluation,
checkpoints, resume.

Jobs are described and resolved in :mod:`harness.jobs`. :func:`run_job` takes a :class:`Job` (resolving
it) or a :class:`ResolvedJob` (the CLI resolves every job first), then trains through
:class:`harness.training.TrainingSession` (the training loop is :func:`harness.loop.fit`). After every
training iteration whose env-step count crosses the next multiple of ``eval_every`` (and after the last
one) the session

1. evaluates on the suite's test tasks with :func:`harness.evaluation.evaluate` (not charged to the budget;
   under a forked torch RNG seeded from ``(seed, eval_index)``, so evaluating never changes training),
2. rewrites ``eval.parquet`` and ``train.parquet`` (plus ``traces.parquet`` at the final evaluation),
3. saves ``checkpoint.pt`` (a :class:`harness.checkpoint.RunCheckpoint`: method, collector incl. budget,
   torch RNG, rows so far, ``eval_index``, the resolved config and its hash; loaded with
   ``weights_only=True``) and updates ``meta.json`` with the env steps reached.

A killed run resumes from its last checkpoint and ends with the same rows as an uninterrupted run (timing
columns aside); resuming under another config is refused (the differing keys are named), and a damaged
checkpoint is set aside with a warning (the run starts over). A finished run is skipped unless ``force``,
but only when its files read back (:mod:`harness.verify`); a damaged one is rebuilt from its final
checkpoint or trained again. A job that raises (or reports NaN/inf stats) is recorded as failed with its
traceback in ``meta.json``; :func:`run_job` itself never raises for that. Torch runs every job on
``torch_threads`` threads (recorded in ``config.yaml``), so results do not depend on the executor's pool.
"""

from __future__ import annotations

import contextlib
import math
import shutil
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness import store
from harness.analysis.scores import trial_scores
from harness.checkpoint import CheckpointError, read_record
from harness.config import ConfigError
from harness.context import pinned_torch_threads, resolve_device
from harness.jobs import (
    DEFAULT_TORCH_THREADS,
    PUBLISHED,
    EventSink,
    Job,
    JobPruned,
    JobResult,
    ResolvedJob,
    plain_job,
    resolve_job,
)
from harness.progress import ProgressEvent
from harness.registry import load_plugins  # re-exported: scripts and older callers import it from here
from harness.runlock import LOCK_FILE, RunLocked, run_lock
from harness.training import (
    RESULT_FILES,
    TrainingSession,
    clear_results,
    restore_finished,
)
from harness.verify import as_current, manifest, record_diff, run_problems

__all__ = [
    "DEFAULT_TORCH_THREADS",
    "PUBLISHED",
    "EventSink",
    "Job",
    "JobPruned",
    "JobResult",
    "ResolvedJob",
    "existing_state",
    "load_plugins",
    "resolve_job",
    "run_job",
]


def _has_results(rd: Path) -> bool:
    return any((rd / name).exists() for name in (store.META_FILE, *RESULT_FILES))


def existing_state(resolved: ResolvedJob) -> str:
    """What is already on disk for the job.

    Returns:
        ``new`` (nothing there, or ``force``), ``finished`` (every file reads back: skip), ``repair``
        (finished but damaged: rebuild or retrain), ``resume`` (killed, failed or pruned: continue from
        the checkpoint), or ``restart`` (files of a run whose config is unknown: start over).

    Raises:
        ConfigError: the run directory holds a run with another resolved config (read from its
            ``config.yaml``, else from its checkpoint), naming the differing keys; ``force`` skips this.
    """
    job = resolved.job
    rd = job.run_dir
    if job.force or not rd.exists():
        return "new"
    new = resolved.plain_record
    old = store.read_yaml_file(rd / store.CONFIG_FILE)
    if old is None:
        if not (rd / store.CHECKPOINT_FILE).exists():
            return "restart" if _has_results(rd) else "new"
        try:
            old = read_record(rd / store.CHECKPOINT_FILE).record
        except CheckpointError:
            return "restart"
    diff = record_diff(as_current(old, new), new)
    if diff:
        source = store.CONFIG_FILE if (rd / store.CONFIG_FILE).exists() else store.CHECKPOINT_FILE
        raise ConfigError(
            f"{rd} holds a run with a different configuration ({', '.join(diff)}) according to its {source}; "
            "use --force to overwrite it or another --out"
        )
    meta = store.read_json(rd / store.META_FILE) or {}
    if meta.get("status") == store.FINISHED:
        return "repair" if run_problems(rd) else "finished"
    return "resume"


# ------------------------------------------------------------------------------------------------ running


def _meta(
    r: ResolvedJob | None, job: Job, status: str, started: float, commit: str | None = None, **extra: Any
) -> dict[str, Any]:
    """``meta.json``; ``commit``: the checkout's commit when this call of :func:`run_job` started (the code
    it runs; None: read now)."""
    meta: dict[str, Any] = {
        "status": status,
        "key": job.key,
        "versions": store.versions(),
        "git_commit": store.git_commit() if commit is None else commit,
        "host": store.host(),
        "cpu": store.cpu(),
        "device": str(resolve_device(job.device)),
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(started)),
        "budget": r.budget if r is not None else None,
    }
    meta.update(extra)
    return meta


def _read_final(job: Job) -> tuple[int, float, float]:
    """Env steps and the latest evaluation's scores of a run on disk (:func:`trial_scores`)."""
    frame = store.read_parquet(job.run_dir / store.EVAL_FILE)
    meta = store.read_json(job.run_dir / store.META_FILE) or {}
    if frame is None or frame.empty:
        return int(meta.get("env_steps", 0)), math.nan, math.nan
    zero, k = trial_scores(frame)
    return int(meta.get("env_steps", frame["env_steps"].max())), zero, k


def _failure(err: BaseException) -> dict[str, str]:
    return {"error": f"{type(err).__name__}: {err}", "traceback": traceback.format_exc()}


def run_job(job: Job | ResolvedJob, on_event: EventSink | None = None) -> JobResult:
    """Run (or resume, repair, or skip) ``job``; never raises for a failing method: the result says
    ``failed``.

    A finished run is skipped only when its files read back (:func:`harness.verify.run_problems`); a
    damaged one is rebuilt from its final checkpoint, or trained again when that checkpoint is unusable
    (``JobResult.warning`` says which). Torch runs the job on ``ResolvedJob.torch_threads`` threads,
    whatever the executor, so results do not depend on ``--workers``.

    Args:
        job: the job, or the job already resolved by :func:`harness.jobs.resolve_job` (not resolved again).
        on_event: receives :class:`ProgressEvent` s (start, progress, eval, end). Raising
            :class:`JobPruned` from it stops the run with status ``pruned``.
    """
    resolved = job if isinstance(job, ResolvedJob) else None
    job = plain_job(job)
    started = time.time()
    t0 = time.perf_counter()
    base = {"key": job.key, "suite": job.suite, "method": job.method, "seed": job.seed,
            "run_dir": str(job.run_dir)}

    def end(status: str, **kw: Any) -> JobResult:
        result = JobResult(status=status, seconds=time.perf_counter() - t0, **base, **kw)  # type: ignore[arg-type]
        if on_event is not None:
            on_event(ProgressEvent(
                kind="end", key=job.key, env_steps=result.env_steps, budget=result.budget,
                zero_shot=result.zero_shot, k_shot=result.k_shot, metric=result.metric, status=status,
                message=result.error or result.warning,
            ))
        return result

    try:
        r = resolved if resolved is not None else resolve_job(job)
        state = existing_state(r)
    except Exception as err:  # bad input of a job is reported, not raised
        return end(store.FAILED, **_failure(err))
    common = {"budget": r.budget, "metric": r.suite.metric, "eval_episodes": r.eval_episodes}
    if state == "finished":
        steps, zero, k = _read_final(job)
        return end("skipped", env_steps=steps, zero_shot=zero, k_shot=k, **common)
    try:
        with run_lock(job.run_dir), pinned_torch_threads(r.torch_threads):
            return _run_locked(_Call(job, r, on_event, started, t0, end, common))
    except RunLocked as err:  # another process trains this run: leave its files alone
        return end(store.FAILED, error=str(err), **common)
    except OSError as err:  # the run directory cannot be created or written
        return end(store.FAILED, **_failure(err), **common)


@dataclass
class _Call:
    """One call of :func:`run_job` once resolved: what its steps share."""

    job: Job
    r: ResolvedJob
    on_event: EventSink | None
    started: float
    t0: float
    end: Callable[..., JobResult]
    common: dict[str, Any]
    sessions: int = 1
    warning: str = ""
    #: The checkout's commit when the call started: a commit made while the run trains is not the code it
    #: runs, so every ``meta.json`` write of the call records this one.
    commit: str | None = field(default_factory=lambda: store.git_commit())

    @property
    def meta_path(self) -> Path:
        return self.job.run_dir / store.META_FILE

    def write_meta(self, status: str, **extra: Any) -> None:
        meta = _meta(self.r, self.job, status, self.started, self.commit, sessions=self.sessions,
                     config_hash=self.r.config_hash, **extra)
        store.write_json(self.meta_path, meta)


def _clear_forced(run_dir: Path) -> None:
    for child in run_dir.iterdir():
        if child.name == LOCK_FILE:
            continue
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child)
        else:
            child.unlink()


def _repair(c: _Call) -> JobResult | None:
    """A damaged finished run: rebuild its files from the final checkpoint (a result), or clear it for a
    clean restart (None, with ``c.warning`` set)."""
    rd = c.job.run_dir
    problems = run_problems(rd)
    why = restore_finished(c.r, rd)
    if not why:
        old = store.read_json(c.meta_path) or {}
        old[store.MANIFEST_KEY] = manifest(rd)
        old["repaired"] = f"{'; '.join(problems)} (rebuilt from {store.CHECKPOINT_FILE})"
        store.write_json(c.meta_path, old)
        steps, zero, k = _read_final(c.job)
        return c.end(store.FINISHED, env_steps=steps, zero_shot=zero, k_shot=k,
                     warning=f"repaired: {'; '.join(problems)} (rebuilt from {store.CHECKPOINT_FILE})",
                     **c.common)
    c.warning = f"damaged finished run ({'; '.join(problems)}); {why}: training it again from scratch"
    clear_results(rd)
    return None


def _run_locked(c: _Call) -> JobResult:
    """The body of :func:`run_job` once the run directory's lock is held."""
    job, r = c.job, c.r
    try:  # again: another process may have finished (or replaced) the run before we took the lock
        state = existing_state(r)
        if state == "finished":
            steps, zero, k = _read_final(job)
            return c.end("skipped", env_steps=steps, zero_shot=zero, k_shot=k, **c.common)
        if state == "repair" and (repaired := _repair(c)) is not None:
            return repaired
    except Exception as err:
        return c.end(store.FAILED, **_failure(err), **c.common)
    if job.force:
        _clear_forced(job.run_dir)
    elif state == "restart":
        c.warning = f"{job.run_dir} holds files of an unknown run (no config): starting it from scratch"
        clear_results(job.run_dir)
    old_meta = (store.read_json(c.meta_path) or {}) if state == "resume" else {}
    with contextlib.suppress(KeyError, TypeError, ValueError):  # a resumed run keeps its first start time
        c.started = time.mktime(time.strptime(old_meta["started_at"], "%Y-%m-%dT%H:%M:%S%z"))
    c.sessions = int(old_meta.get("sessions", 0)) + 1
    return _train(c)


def _train(c: _Call) -> JobResult:
    """Train (or resume) the run, writing ``config.yaml`` and ``meta.json`` as it goes."""
    job, r = c.job, c.r
    run: TrainingSession | None = None
    try:
        run = TrainingSession(r, c.on_event, lambda steps: c.write_meta(
            store.RUNNING, env_steps=steps, updated_at=time.strftime("%Y-%m-%dT%H:%M:%S%z")))
        c.warning = "; ".join(w for w in (c.warning, run.warning) if w)
        store.write_yaml(job.run_dir / store.CONFIG_FILE, r.record())
        c.write_meta(store.RUNNING, env_steps=run.env_steps)
        run.train()
    except JobPruned as err:
        steps = run.env_steps if run is not None else 0
        c.write_meta(store.PRUNED, env_steps=steps, error=str(err))
        return c.end(store.PRUNED, env_steps=steps, zero_shot=run.last_scores[0] if run else math.nan,
                     k_shot=run.last_scores[1] if run else math.nan, error=str(err), **c.common)
    except Exception as err:  # a failing job must not stop the others
        fail = _failure(err)
        steps = run.steps_used() if run is not None else 0
        if run is not None or not isinstance(err, ConfigError):  # a refused checkpoint changes nothing
            if run is None:
                store.write_yaml(job.run_dir / store.CONFIG_FILE, r.record())
            c.write_meta(store.FAILED, env_steps=steps, **fail)
        return c.end(store.FAILED, env_steps=steps, warning=c.warning, **fail, **c.common)
    timings = {
        "wall_seconds": run.wall_time(),
        "session_seconds": time.perf_counter() - c.t0,
        "eval_seconds": run.eval_seconds,
        "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    c.write_meta(store.FINISHED, env_steps=run.env_steps, timings=timings,
                 warnings=[*r.warnings, *([c.warning] if c.warning else [])],
                 **{store.MANIFEST_KEY: manifest(job.run_dir)})
    return c.end(store.FINISHED, env_steps=run.env_steps, zero_shot=run.last_scores[0],
                 k_shot=run.last_scores[1], warning=c.warning, **c.common)
