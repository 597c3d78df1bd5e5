"""``--executor ray``: one Ray task per job on a Ray cluster (optional extra: ``pip install .[ray]``).

Start a cluster with ``ray start --head`` on one machine and ``ray start --address=HEAD:6379`` on the
others, point the results directory (``--out``) at a filesystem every machine shares, and run
``RAY_ADDRESS=auto harness run ... --executor ray``. Without ``RAY_ADDRESS`` a local Ray instance is started.

Each job is a Ray task requesting ``cpus_per_job`` CPUs and ``gpus_per_job`` GPUs (default: 1 CPU, and 1
GPU when the job's device asks for CUDA). A task whose worker dies (machine lost, OOM kill) is retried by
Ray up to ``max_retries`` times; the retry resumes the run from its last checkpoint, since
:func:`harness.runner.run_job` always resumes. Progress events stream back through a Ray queue.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from harness.jobs import Job, JobResult, ResolvedJob, dead_worker_result, plain_job
from harness.runner import run_job

if TYPE_CHECKING:
    from harness.jobs import EventSink
    from harness.sweeps import SweepSpec


def _ray() -> Any:
    try:
        import ray
    except ImportError as err:  # pragma: no cover - depends on the install
        raise ValueError("--executor ray needs Ray: pip install 'metarl-harness[ray]'") from err
    return ray


def init_ray(num_cpus: int | None = None) -> Any:
    """Connect to ``RAY_ADDRESS`` (a running cluster) or start a local Ray instance; returns ``ray``."""
    ray = _ray()
    if not ray.is_initialized():
        address = os.environ.get("RAY_ADDRESS") or None
        kwargs: dict[str, Any] = {"address": address, "log_to_driver": False}
        if address is None and num_cpus is not None:
            kwargs["num_cpus"] = num_cpus
        ray.init(**kwargs)
    return ray


def _run_remote(job: Job, queue: Any) -> JobResult:
    import torch

    torch.set_num_threads(1)

    def sink(event: Any) -> None:
        try:
            queue.put_nowait(event)
        except Exception:  # a full or gone queue must never break the run
            pass

    return run_job(job, on_event=sink)


class RayExecutor:
    """Run jobs as Ray tasks (see the module docstring).

    Args:
        workers: ignored for scheduling (Ray places tasks by resources); kept for the executor interface.
        cpus_per_job: CPUs each job requests.
        gpus_per_job: GPUs each job requests (None: 1 for jobs whose device is ``cuda*``, else 0).
        max_retries: retries of a task whose worker died.
        num_cpus: CPUs of a local Ray instance (ignored when joining a cluster).
    """

    def __init__(
        self,
        workers: int = 1,
        cpus_per_job: float = 1,
        gpus_per_job: float | None = None,
        max_retries: int = 3,
        num_cpus: int | None = None,
    ) -> None:
        self.workers = workers
        self.cpus_per_job = cpus_per_job
        self.gpus_per_job = gpus_per_job
        self.max_retries = max_retries
        self.num_cpus = num_cpus

    def _gpus(self, job: Job) -> float:
        if self.gpus_per_job is not None:
            return self.gpus_per_job
        return 1.0 if job.device.startswith("cuda") else 0.0

    def run(self, jobs: Sequence[Job | ResolvedJob], on_progress: EventSink | None = None) -> list[JobResult]:
        """Submit every job (as its plain :class:`Job`), stream progress, and return results in job order."""
        plain = [plain_job(job) for job in jobs]
        ray = init_ray(self.num_cpus if self.num_cpus is not None else max(self.workers, 1))
        from ray.util.queue import Queue

        queue = Queue(maxsize=10_000)
        remote = ray.remote(_run_remote)
        refs = [
            remote.options(num_cpus=self.cpus_per_job, num_gpus=self._gpus(job), max_retries=self.max_retries,
                           retry_exceptions=False).remote(job, queue)
            for job in plain
        ]
        index = {ref: i for i, ref in enumerate(refs)}
        results: list[JobResult | None] = [None] * len(plain)
        pending = list(refs)

        def drain() -> None:
            while on_progress is not None and not queue.empty():
                try:
                    on_progress(queue.get_nowait())
                except Exception:
                    break

        while pending:
            done, pending = ray.wait(pending, num_returns=1, timeout=0.5)
            drain()
            for ref in done:
                i = index[ref]
                try:
                    results[i] = ray.get(ref)
                except Exception as err:  # retries exhausted: the worker kept dying
                    res = dead_worker_result(plain[i], None)
                    results[i] = dataclasses.replace(res, error=f"Ray task failed: {err}"[:500])
        time.sleep(0.1)
        drain()
        return [r for r in results if r is not None]


def _sweep_remote(spec: SweepSpec, n_trials: int) -> int:
    from harness.sweeps import _worker

    _worker(spec, n_trials, threads=1)
    return n_trials


def run_sweep_on_ray(spec: SweepSpec, trials: int, workers: int) -> Any:
    """``harness sweep --executor ray``: ``workers`` Ray tasks, each running trials against the shared
    storage (use a PostgreSQL URL, or a journal file on a shared filesystem)."""
    from harness import sweeps

    ray = init_ray(max(workers, 1))
    spec = sweeps.with_references(spec)
    sweeps.load_study(spec)
    shares = sweeps.split_trials(trials, workers)
    remote = ray.remote(_sweep_remote)
    ray.get([remote.options(num_cpus=1, max_retries=1).remote(spec, n) for n in shares])
    return sweeps.load_study(spec)
