"""Jobs: what a run is (:class:`Job`), what it resolves to (:class:`ResolvedJob`), how it ended
(:class:`JobResult`).

A :class:`Job` is a plain, picklable description (names, not objects), so executors can ship it to another
process or machine. :func:`resolve_job` turns it into a :class:`ResolvedJob` (suite, method class, frozen
config, budget, evaluation settings), raising on any bad input before anything is written; the CLI resolves
every job first and hands the resolved jobs to the executor, so a job's config is built once in each
process that runs it. :func:`job_grid` is the suite x method x seed grid that ``harness run`` and sweeps
build, and :func:`dead_worker_result` the result of a job whose worker process died (every executor).
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from harness import store
from harness.checkpoint import config_hash
from harness.config import config_to_dict, job_config
from harness.profiles import get_profile
from harness.progress import ProgressEvent
from harness.registry import get_method, get_suite, load_plugins
from harness.seeding import check_seed

if TYPE_CHECKING:
    from harness.method import Method
    from harness.suite import Suite

EventSink = Callable[[ProgressEvent], None]

#: ``Job.budget`` value asking for the method's published budget on the suite.
PUBLISHED = "published"
#: Torch threads of a job unless ``Job.threads`` says otherwise (the same for every executor and pool).
DEFAULT_TORCH_THREADS = 1
#: Most torch threads a job may ask for.
MAX_TORCH_THREADS = 256
#: Most episodes of one evaluation trial (memory grows with it: tasks x episodes x horizon per evaluation).
MAX_EVAL_EPISODES = 1000
#: Largest env-step budget of a run.
MAX_BUDGET = 10**11


class JobPruned(Exception):  # named like optuna.TrialPruned
    """Raise from an event sink (e.g. an Optuna pruner on ``eval`` events) to stop a run as ``pruned``."""


@dataclass(frozen=True)
class Job:
    """One run: a method on a suite with a seed. Plain values only (picklable, sent to workers).

    Attributes:
        suite: suite name.
        method: method name.
        seed: run seed (torch, method streams, env seeds derive from it).
        out: the experiment directory; the run writes ``<out>/<suite>/<method>/seed=<seed>``.
        profile: ``smoke``, ``quick``, ``bench`` or ``paper``.
        budget: env steps; None: the profile's; ``"published"``: ``Method.published_budget(suite)``.
        overrides: config overrides of an Optuna trial (between ``--hparams`` and ``--set``).
        sets: ``--set key=value`` strings (highest precedence).
        hparams_file: a ``--hparams`` YAML (see :func:`harness.config.read_hparams_file`).
        device: ``auto``, ``cpu``, ``cuda`` or ``cuda:N``.
        eval_episodes: episodes per evaluation trial (None: the method's ``eval_episodes``).
        eval_every: env steps between evaluations (None: the profile's).
        task_seed: seed of the train/test task split (fixed across run seeds by default, as in the
            PEARL and Meta-World benchmarks, so task ids mean the same tasks in every run).
        force: re-run from scratch even if the run is finished or has a checkpoint.
        tensorboard: also write TensorBoard event files to ``<run dir>/tb``.
        plugins: modules (or ``.py`` files) to import before resolving names (user suites/methods).
        label: directory name of the run under ``<out>/<suite>/`` instead of the method name (sweeps
            write ``<method>@trial-<n>`` so that every trial shows up as its own column in reports).
        threads: torch threads of the job (None: :data:`DEFAULT_TORCH_THREADS`); part of the config,
            since results differ between thread counts.
    """

    suite: str
    method: str
    seed: int
    out: str
    profile: str = "quick"
    budget: int | str | None = None
    overrides: Mapping[str, Any] = field(default_factory=dict)
    sets: tuple[str, ...] = ()
    hparams_file: str | None = None
    device: str = "auto"
    eval_episodes: int | None = None
    eval_every: int | None = None
    task_seed: int = 0
    force: bool = False
    tensorboard: bool = False
    plugins: tuple[str, ...] = ()
    label: str | None = None
    threads: int | None = None

    @property
    def key(self) -> str:
        """``<suite>/<label or method>/seed=<seed>``."""
        return f"{self.suite}/{self.label or self.method}/seed={self.seed}"

    @property
    def run_dir(self) -> Path:
        return store.run_dir(self.out, self.suite, self.label or self.method, self.seed)


def job_grid(suites: list[str], methods: list[str], seeds: list[int], **common: Any) -> list[Job]:
    """Every (suite, method, seed) job, suite-major, with the same ``common`` fields (``harness run``,
    and each sweep trial with ``label`` and ``overrides``)."""
    return [Job(suite=s, method=m, seed=k, **common) for s in suites for m in methods for k in seeds]


@dataclass(frozen=True)
class ResolvedJob:
    """A job with every name and default resolved (see :func:`resolve_job`).

    Attributes:
        job: the job.
        suite: the suite object.
        method_cls: the method class.
        config: the method's frozen config.
        budget: env steps of the run.
        budget_mode: ``profile``, ``fixed`` (``--budget N``) or ``published``.
        eval_episodes: episodes per evaluation trial.
        eval_every: env steps between evaluations.
        n_train: number of training tasks.
        n_test: number of test tasks.
        warnings: messages for the user (e.g. no published budget, profile budget used).
        torch_threads: torch threads the job runs on.
    """

    job: Job
    suite: Suite
    method_cls: type[Method]
    config: Any
    budget: int
    budget_mode: str
    eval_episodes: int
    eval_every: int
    n_train: int
    n_test: int
    warnings: tuple[str, ...] = ()
    torch_threads: int = DEFAULT_TORCH_THREADS

    def record(self) -> dict[str, Any]:
        """The content of ``config.yaml`` (``sees_task`` tells the analysis layer which runs are reference
        ceilings without the method registry: the method sees the true task, in its observations or, with
        ``Method.privileged_task``, in meta-training)."""
        j = self.job
        return {
            "method": j.method,
            "suite": j.suite,
            "seed": j.seed,
            "profile": j.profile,
            "budget": self.budget,
            "budget_mode": self.budget_mode,
            "eval_episodes": self.eval_episodes,
            "eval_every": self.eval_every,
            "n_train_tasks": self.n_train,
            "n_test_tasks": self.n_test,
            "task_seed": j.task_seed,
            "metric": self.suite.metric,
            "horizon": self.suite.horizon,
            "torch_threads": self.torch_threads,
            "sees_task": bool(self.method_cls.sees_task or self.method_cls.privileged_task(self.config)),
            "config": config_to_dict(self.config),
        }

    @functools.cached_property
    def plain_record(self) -> dict[str, Any]:
        """:meth:`record` as it reads back from YAML/JSON (tuples become lists); built once, do not
        mutate (copy it)."""
        return dict(json.loads(json.dumps(self.record())))

    @functools.cached_property
    def config_hash(self) -> str:
        """:func:`harness.checkpoint.config_hash` of :attr:`plain_record` (in ``meta.json`` and the
        checkpoint)."""
        return config_hash(self.plain_record)


@dataclass(frozen=True)
class JobResult:
    """Outcome of a job (picklable).

    Attributes:
        key: job key.
        suite: suite name.
        method: method name.
        seed: seed.
        status: finished | failed | skipped (finished earlier) | pruned.
        run_dir: the run directory.
        env_steps: env steps used.
        budget: the run's budget (0 when the job could not be resolved).
        metric: ``return`` or ``success``.
        zero_shot: final zero-shot score (NaN when there was no evaluation).
        k_shot: final score of the last episode of the trial.
        eval_episodes: k of the trial.
        seconds: wall time of this call.
        error: one-line error (failed jobs).
        traceback: full traceback (failed jobs).
        warning: what the runner did on its own (a damaged run rebuilt or restarted), else empty.
    """

    key: str
    suite: str
    method: str
    seed: int
    status: str
    run_dir: str
    env_steps: int = 0
    budget: int = 0
    metric: str = "return"
    zero_shot: float = math.nan
    k_shot: float = math.nan
    eval_episodes: int = 0
    seconds: float = 0.0
    error: str = ""
    traceback: str = ""
    warning: str = ""


def plain_job(job: Job | ResolvedJob) -> Job:
    """The plain :class:`Job` of ``job`` (what is sent to another process)."""
    return job.job if isinstance(job, ResolvedJob) else job


def dead_worker_result(job: Job, exitcode: int | None) -> JobResult:
    """Result of a job whose worker process ended without reporting (its checkpoint stays resumable)."""
    return JobResult(
        key=job.key, suite=job.suite, method=job.method, seed=job.seed, status="failed",
        run_dir=str(job.run_dir), error=f"worker process died (exit code {exitcode}); re-run to resume",
    )


# -------------------------------------------------------------------------------------------- resolving


def _budget(job: Job, suite: Suite, method_cls: type[Method]) -> tuple[int, str, list[str]]:
    profile = get_profile(job.profile)
    if job.budget is None:
        caveat = profile.caveat(suite)
        return profile.budget(suite), "profile", [] if caveat is None else [caveat]
    if job.budget == PUBLISHED:
        published = method_cls.published_budget(suite)
        if published is None:
            msg = (f"{job.method} has no published budget for {suite.name}; "
                   f"using the {profile.name} profile's {profile.budget(suite)} env steps")
            return profile.budget(suite), "profile", [msg]
        return int(published), "published", []
    if isinstance(job.budget, bool) or not isinstance(job.budget, (int, np.integer)):
        raise ValueError(f"budget must be a number of env steps or 'published', got {job.budget!r}")
    return int(job.budget), "fixed", []


def resolve_job(job: Job) -> ResolvedJob:
    """Resolve names, config, budget and evaluation settings of ``job``; raise ``ValueError`` on bad input.

    Nothing is written. Raises:
        UnknownNameError (a ``KeyError``): unknown suite, method or profile (with the closest match).
        ConfigError / ValueError: bad override, budget below one episode, bad evaluation settings.
    """
    load_plugins(job.plugins)
    check_seed(job.seed)
    check_seed(job.task_seed)
    suite = get_suite(job.suite)
    method_cls = get_method(job.method)
    profile = get_profile(job.profile)
    config = job_config(method_cls, suite, job.profile, hparams_file=job.hparams_file, trial=job.overrides,
                        sets=job.sets)
    budget, mode, warnings = _budget(job, suite, method_cls)
    if budget < suite.horizon:
        raise ValueError(
            f"budget of {budget} env steps is below one episode of {suite.name} (horizon {suite.horizon})"
        )
    if budget > MAX_BUDGET:
        raise ValueError(f"budget of {budget} env steps is out of range (at most {MAX_BUDGET:.0e})")
    eval_episodes = method_cls.eval_episodes if job.eval_episodes is None else job.eval_episodes
    if not 1 <= eval_episodes <= MAX_EVAL_EPISODES:
        raise ValueError(f"eval episodes must be in 1..{MAX_EVAL_EPISODES}, got {eval_episodes}")
    eval_every = profile.eval_every(suite, budget) if job.eval_every is None else job.eval_every
    if eval_every < 1:
        raise ValueError(f"eval every must be >= 1 env step, got {eval_every}")
    threads = DEFAULT_TORCH_THREADS if job.threads is None else job.threads
    if isinstance(threads, bool) or not isinstance(threads, int) or not 1 <= threads <= MAX_TORCH_THREADS:
        raise ValueError(f"torch threads must be in 1..{MAX_TORCH_THREADS}, got {threads!r}")
    n_train, n_test = profile.num_tasks(suite)
    return ResolvedJob(
        job, suite, method_cls, config, budget, mode, eval_episodes, eval_every, n_train, n_test,
        tuple(warnings), threads,
    )
