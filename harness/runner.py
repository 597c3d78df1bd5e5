"""The runner: one (suite, method, seed) job from config to results, with evaluation, checkpoints, resume.

A :class:`Job` is a plain, picklable description (names, not objects), so executors can ship it to another
process or machine. :func:`resolve_job` turns it into a :class:`ResolvedJob` (suite, method class, frozen
config, budget, evaluation settings), raising on any bad input before anything is written; the CLI resolves
every job first. :func:`run_job` then trains through :func:`harness.loop.fit` (the one training loop),
and after every training iteration whose env-step count crosses the next multiple of ``eval_every`` (and
after the last one) it

1. evaluates on the suite's test tasks with :func:`harness.evaluation.evaluate` (not charged to the budget;
   under a forked torch RNG seeded from ``(seed, eval_index)``, so evaluating never changes training),
2. rewrites ``eval.parquet`` and ``train.parquet`` (plus ``traces.parquet`` at the final evaluation),
3. saves ``checkpoint.pt`` (method, collector incl. budget, torch RNG, rows so far, ``eval_index``, the
   resolved config and its hash; loaded with ``weights_only=True``, see :mod:`harness.checkpoint`) and
   updates ``meta.json`` with the env steps reached.

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
import dataclasses
import importlib
import importlib.util
import json
import math
import shutil
import sys
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from harness import store
from harness.checkpoint import CheckpointError, config_hash, read_record
from harness.config import ConfigError, config_to_dict, method_config, parse_sets, read_hparams_file
from harness.context import pinned_torch_threads, resolve_device
from harness.profiles import get_profile
from harness.progress import ProgressEvent
from harness.registry import get_method, get_suite
from harness.runlock import LOCK_FILE, RunLocked, run_lock
from harness.seeding import check_seed
from harness.training import (
    RESULT_FILES,
    TrainingSession,
    clear_results,
    restore_finished,
)
from harness.verify import manifest, record_diff, run_problems

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
        profile: ``smoke``, ``quick`` or ``paper``.
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
        """The content of ``config.yaml``."""
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
            "config": config_to_dict(self.config),
        }


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


# -------------------------------------------------------------------------------------------- resolving


def load_plugins(plugins: tuple[str, ...] | list[str]) -> None:
    """Import plugin modules (``pkg.module``) or files (``path/to/file.py``) that register suites/methods."""
    for plugin in plugins:
        name = ""
        try:
            if plugin.endswith(".py"):
                path = Path(plugin).resolve()
                name = f"harness_plugin_{path.stem}"
                if name in sys.modules:
                    continue
                spec = importlib.util.spec_from_file_location(name, path)
                if spec is None or spec.loader is None or not path.is_file():
                    raise ValueError(f"--plugin {plugin!r}: no such plugin file")
                module = importlib.util.module_from_spec(spec)
                sys.modules[name] = module
                spec.loader.exec_module(module)
            else:
                importlib.import_module(plugin)
        except ValueError:
            raise
        except Exception as err:  # a plugin that does not import (syntax error, its own exception)
            sys.modules.pop(name, None)
            raise ValueError(f"--plugin {plugin!r}: cannot import: {type(err).__name__}: {err}") from None


def _budget(job: Job, suite: Suite, method_cls: type[Method]) -> tuple[int, str, list[str]]:
    profile = get_profile(job.profile)
    if job.budget is None:
        return profile.budget(suite), "profile", []
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


def sets_for_method(sets: tuple[str, ...] | list[str], method: str) -> dict[str, Any]:
    """The ``--set`` overrides that apply to ``method``: ``key=v`` applies to every method,
    ``<method>.key=v`` only to that one (config keys never contain dots).

    Raises:
        UnknownNameError: the prefix of a scoped key is not a registered method.
    """
    out: dict[str, Any] = {}
    for key, value in parse_sets(sets).items():
        if "." in key:
            prefix, _, key = key.rpartition(".")
            get_method(prefix)  # unknown method prefix: error with the closest name
            if prefix != method:
                continue
        out[key] = value
    return out


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
    file_overrides: dict[str, Any] = {}
    if job.hparams_file is not None:
        per_method = read_hparams_file(Path(job.hparams_file))
        file_overrides = per_method.get(job.method, per_method.get("*", {}))
    config = method_config(
        method_cls, suite, job.profile,
        file_overrides=file_overrides, trial=job.overrides, sets=sets_for_method(job.sets, job.method),
    )
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


def _plain_record(resolved: ResolvedJob) -> dict[str, Any]:
    """``resolved.record()`` as it reads back from YAML/JSON (tuples become lists)."""
    return dict(json.loads(json.dumps(resolved.record())))


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
    new = _plain_record(resolved)
    old = store.read_yaml_file(rd / store.CONFIG_FILE)
    if old is None:
        if not (rd / store.CHECKPOINT_FILE).exists():
            return "restart" if _has_results(rd) else "new"
        try:
            old = read_record(rd / store.CHECKPOINT_FILE)["record"]
        except CheckpointError:
            return "restart"
    diff = record_diff(old, new)
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


def _meta(r: ResolvedJob | None, job: Job, status: str, started: float, **extra: Any) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "status": status,
        "key": job.key,
        "versions": store.versions(),
        "git_commit": store.git_commit(),
        "host": store.host(),
        "device": str(resolve_device(job.device)),
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(started)),
        "budget": r.budget if r is not None else None,
    }
    meta.update(extra)
    return meta


def _read_final(job: Job, r: ResolvedJob) -> tuple[int, float, float]:
    frame = store.read_parquet(job.run_dir / store.EVAL_FILE)
    meta = store.read_json(job.run_dir / store.META_FILE) or {}
    if frame is None or frame.empty:
        return int(meta.get("env_steps", 0)), math.nan, math.nan
    last = frame[frame["eval_index"] == frame["eval_index"].max()]
    col = "success" if r.suite.metric == "success" else "return"
    first_ep, last_ep = last["episode"].min(), last["episode"].max()
    zero = float(last.loc[last["episode"] == first_ep, col].astype(float).mean())
    k = float(last.loc[last["episode"] == last_ep, col].astype(float).mean())
    return int(meta.get("env_steps", last["env_steps"].max())), zero, k


def _failure(err: BaseException) -> dict[str, str]:
    return {"error": f"{type(err).__name__}: {err}", "traceback": traceback.format_exc()}


def run_job(job: Job, on_event: EventSink | None = None) -> JobResult:
    """Run (or resume, repair, or skip) ``job``; never raises for a failing method: the result says
    ``failed``.

    A finished run is skipped only when its files read back (:func:`harness.verify.run_problems`); a
    damaged one is rebuilt from its final checkpoint, or trained again when that checkpoint is unusable
    (``JobResult.warning`` says which). Torch runs the job on ``ResolvedJob.torch_threads`` threads,
    whatever the executor, so results do not depend on ``--workers``.

    Args:
        job: the job.
        on_event: receives :class:`ProgressEvent` s (start, progress, eval, end). Raising
            :class:`JobPruned` from it stops the run with status ``pruned``.
    """
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
        r = resolve_job(job)
        state = existing_state(r)
    except Exception as err:  # bad input of a job is reported, not raised
        return end(store.FAILED, **_failure(err))
    common = {"budget": r.budget, "metric": r.suite.metric, "eval_episodes": r.eval_episodes}
    if state == "finished":
        steps, zero, k = _read_final(job, r)
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

    @property
    def meta_path(self) -> Path:
        return self.job.run_dir / store.META_FILE

    def write_meta(self, status: str, **extra: Any) -> None:
        store.write_json(self.meta_path, _meta(self.r, self.job, status, self.started, sessions=self.sessions,
                                               config_hash=config_hash(_plain_record(self.r)), **extra))


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
        steps, zero, k = _read_final(c.job, c.r)
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
            steps, zero, k = _read_final(job, r)
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


def job_grid(
    suites: list[str], methods: list[str], seeds: list[int], **common: Any
) -> list[Job]:
    """Every (suite, method, seed) job, suite-major, with the same ``common`` fields."""
    return [Job(suite=s, method=m, seed=k, **common) for s in suites for m in methods for k in seeds]


def replace_job(job: Job, **changes: Any) -> Job:
    """``dataclasses.replace`` for jobs (e.g. ``force=False`` after a first run)."""
    return dataclasses.replace(job, **changes)
