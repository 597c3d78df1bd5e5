"""Executors: run a list of jobs somewhere and stream their progress events back.

An executor implements :class:`Executor` (``run(jobs, on_progress) -> list[JobResult]``, results in job
order). :class:`LocalExecutor` runs jobs in this process (``workers=1``) or in up to ``workers`` spawned
processes, one per job: a job whose process dies (killed, out of memory, ``os._exit``) is reported as
failed, keeps its last checkpoint, and the other jobs go on. Other executors (Ray) register a factory in
:data:`EXECUTORS` under the name ``harness run --executor`` takes.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import queue as queue_mod
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from harness.jobs import EventSink, Job, JobResult, ResolvedJob, dead_worker_result, plain_job
from harness.progress import ProgressEvent
from harness.runner import run_job


class Executor(Protocol):
    """Runs jobs and reports progress; results come back in the order of ``jobs``."""

    def run(self, jobs: Sequence[Job | ResolvedJob], on_progress: EventSink | None = None) -> list[JobResult]:
        """Run every job (a failing job yields a ``failed`` result, it never stops the others); a job
        already resolved in this process is not resolved again when it runs here."""
        ...


def _child(index: int, job: Job, out: Any) -> None:
    """Body of a worker process: run one job (on its own pinned torch threads), send events and the
    result through ``out``."""

    def send(event: ProgressEvent) -> None:
        out.put(("event", index, event))

    result = run_job(job, send)
    out.put(("result", index, result))


class LocalExecutor:
    """Run jobs on this machine: in-process for ``workers=1``, else one spawned process per job.

    Each job runs on the torch threads its config names (``Job.threads``), not on a share of the pool,
    so ``workers`` never changes a result.

    Args:
        workers: jobs running at the same time.
    """

    def __init__(self, workers: int = 1) -> None:
        if workers < 1:
            raise ValueError(f"workers must be >= 1, got {workers}")
        self.workers = workers

    def run(self, jobs: Sequence[Job | ResolvedJob], on_progress: EventSink | None = None) -> list[JobResult]:
        if self.workers == 1:
            return [run_job(job, on_progress) for job in jobs]
        return self._run_processes([plain_job(job) for job in jobs], on_progress)

    def _run_processes(self, jobs: list[Job], on_progress: EventSink | None) -> list[JobResult]:
        ctx = mp.get_context("spawn")
        channel = ctx.Queue()
        results: list[JobResult | None] = [None] * len(jobs)
        pending = list(range(len(jobs)))
        running: dict[int, Any] = {}

        def handle(msg: tuple[str, int, Any]) -> None:
            kind, index, payload = msg
            if kind == "result":
                results[index] = payload
            elif on_progress is not None:
                on_progress(payload)

        def drain(timeout: float | None) -> None:
            try:
                handle(channel.get(timeout=timeout) if timeout else channel.get_nowait())
                while True:
                    handle(channel.get_nowait())
            except queue_mod.Empty:
                pass

        try:
            while pending or running:
                while pending and len(running) < self.workers:
                    index = pending.pop(0)
                    proc = ctx.Process(target=_child, args=(index, jobs[index], channel),
                                       name=f"harness-{jobs[index].key}")
                    proc.start()
                    running[index] = proc
                drain(0.2)
                for index, proc in list(running.items()):
                    if proc.is_alive():
                        continue
                    proc.join()
                    drain(None)
                    if results[index] is None:
                        results[index] = dead_worker_result(jobs[index], proc.exitcode)
                        if on_progress is not None:
                            on_progress(ProgressEvent(kind="end", key=jobs[index].key, status="failed",
                                                      message=results[index].error))  # type: ignore[union-attr]
                    del running[index]
        finally:
            for proc in running.values():  # only on interrupt: stop the workers this call started
                with contextlib.suppress(Exception):
                    proc.terminate()
                    proc.join(5)
            channel.close()
        return [r for r in results if r is not None]


def _ray_executor(workers: int) -> Executor:
    """``--executor ray`` (imported lazily: Ray is an optional extra)."""
    from harness.executors_ray import RayExecutor

    return RayExecutor(workers=workers)


#: ``harness run --executor`` choices: name -> factory called with ``workers=N``.
EXECUTORS: dict[str, Callable[..., Executor]] = {"local": LocalExecutor, "ray": _ray_executor}


def get_executor(name: str, workers: int) -> Executor:
    """Build the executor registered as ``name``."""
    from harness.registry import UnknownNameError, unknown_name_message

    if name not in EXECUTORS:
        raise UnknownNameError(unknown_name_message("executor", name, EXECUTORS))
    return EXECUTORS[name](workers=workers)
