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
3. saves ``checkpoint.pt`` (method, collector incl. budget, torch RNG, rows so far, ``eval_index``).

A killed run resumes from its last checkpoint and ends with the same rows as an uninterrupted run (timing
columns aside). A finished run is skipped unless ``force``. A job that raises (or reports NaN/inf stats) is
recorded as failed with its traceback in ``meta.json``; :func:`run_job` itself never raises for that.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib
import importlib.util
import json
import logging
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
import pandas as pd
import torch

from harness import store
from harness.config import ConfigError, config_to_dict, method_config, parse_sets, read_hparams_file
from harness.context import RunContext, resolve_device
from harness.evaluation import EvalResult, evaluate
from harness.loop import fit
from harness.profiles import get_profile
from harness.progress import ProgressEvent
from harness.registry import get_method, get_suite
from harness.runlock import LOCK_FILE, RunLocked, run_lock
from harness.seeding import check_seed, derive_seed

if TYPE_CHECKING:
    from harness.collector import Collector
    from harness.method import Method
    from harness.suite import Suite, Task

EventSink = Callable[[ProgressEvent], None]

#: ``Job.budget`` value asking for the method's published budget on the suite.
PUBLISHED = "published"
#: Seconds between two ``progress`` events of a job.
PROGRESS_INTERVAL = 2.0


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


# -------------------------------------------------------------------------------------------- resolving


def load_plugins(plugins: tuple[str, ...] | list[str]) -> None:
    """Import plugin modules (``pkg.module``) or files (``path/to/file.py``) that register suites/methods."""
    for plugin in plugins:
        try:
            if plugin.endswith(".py"):
                path = Path(plugin).resolve()
                name = f"harness_plugin_{path.stem}"
                if name in sys.modules:
                    continue
                spec = importlib.util.spec_from_file_location(name, path)
                if spec is None or spec.loader is None or not path.exists():
                    raise ValueError(f"cannot load plugin file {plugin!r}")
                module = importlib.util.module_from_spec(spec)
                sys.modules[name] = module
                spec.loader.exec_module(module)
            else:
                importlib.import_module(plugin)
        except ImportError as err:
            raise ValueError(f"--plugin {plugin!r}: cannot import: {err}") from None


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
    eval_episodes = method_cls.eval_episodes if job.eval_episodes is None else job.eval_episodes
    if eval_episodes < 1:
        raise ValueError(f"eval episodes must be >= 1, got {eval_episodes}")
    eval_every = profile.eval_every(suite, budget) if job.eval_every is None else job.eval_every
    if eval_every < 1:
        raise ValueError(f"eval every must be >= 1 env step, got {eval_every}")
    n_train, n_test = profile.num_tasks(suite)
    return ResolvedJob(
        job, suite, method_cls, config, budget, mode, eval_episodes, eval_every, n_train, n_test,
        tuple(warnings),
    )


def existing_state(resolved: ResolvedJob) -> str:
    """What is already on disk for the job: ``new``, ``finished`` (skip), or ``resume``.

    Raises:
        ConfigError: the run directory holds a run with a different ``config.yaml`` (and not ``force``).
    """
    job = resolved.job
    rd = job.run_dir
    if job.force or not rd.exists():
        return "new"
    old = store.read_yaml_file(rd / store.CONFIG_FILE)
    if old is None:
        return "new"
    new = json.loads(json.dumps(resolved.record()))
    if old != new:
        diff = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
        if "config" in diff:
            oc, nc = old.get("config") or {}, new["config"]
            diff += [f"config.{k}" for k in sorted(set(oc) | set(nc)) if oc.get(k) != nc.get(k)]
        raise ConfigError(
            f"{rd} holds a run with a different configuration ({', '.join(diff)}); "
            "use --force to overwrite it or another --out"
        )
    meta = store.read_json(rd / store.META_FILE) or {}
    return "finished" if meta.get("status") == store.FINISHED else "resume"


# ------------------------------------------------------------------------------------------------ running


def _scores(res: EvalResult, metric: str) -> tuple[float, float]:
    values = res.success.astype(float) if metric == "success" else res.returns
    return float(values[:, 0].mean()), float(values[:, -1].mean())


def _eval_rows(
    res: EvalResult, tasks: list[Task], eval_index: int, env_steps: int, metric: str
) -> list[dict[str, Any]]:
    rows = []
    for i, task in enumerate(tasks):
        task_json = json.dumps(task.as_dict())
        for e in range(res.returns.shape[1]):
            rows.append({
                "eval_index": eval_index,
                "env_steps": env_steps,
                "task_id": i,
                "task": task_json,
                "episode": e,
                "return": float(res.returns[i, e]),
                "success": bool(res.success[i, e]),
                "length": int(res.lengths[i, e]),
                "metric": metric,
            })
    return rows


class _TensorBoard:
    """Optional TensorBoard writer (``--tensorboard``), imported lazily."""

    def __init__(self, logdir: Path) -> None:
        self.writer = make_summary_writer(logdir)

    def train(self, row: dict[str, Any]) -> None:
        for key, value in row.items():
            if key not in ("iteration", "env_steps") and isinstance(value, (int, float)):
                self.writer.add_scalar(f"train/{key}", value, row["env_steps"])

    def eval(self, zero_shot: float, k_shot: float, env_steps: int) -> None:
        self.writer.add_scalar("eval/zero_shot", zero_shot, env_steps)
        self.writer.add_scalar("eval/last_episode", k_shot, env_steps)
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()


def make_summary_writer(logdir: Path) -> Any:
    """A ``torch.utils.tensorboard.SummaryWriter``; ``ValueError`` with install advice if unavailable."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        raise ValueError(
            "--tensorboard needs the tensorboard package: pip install 'metarl-harness[tensorboard]'"
        ) from None
    return SummaryWriter(log_dir=str(logdir))


class _Run:
    """State of one run while it trains: rows, evaluation cadence, timers, checkpointing."""

    def __init__(self, r: ResolvedJob, sink: EventSink | None) -> None:
        self.r = r
        self.job = r.job
        self.dir = r.job.run_dir
        self.sink = sink
        self.train_rows: list[dict[str, Any]] = []
        self.eval_rows: list[dict[str, Any]] = []
        self.eval_index = 0
        self.next_eval = r.eval_every
        self.wall_before = 0.0  # wall time of earlier sessions of this run (resumed runs)
        self.start_steps = 0
        self.t0 = time.perf_counter()
        self.mark = self.t0
        self.collect_mark = 0.0
        self.last_event = -math.inf
        self.last_scores = (math.nan, math.nan)
        self.eval_seconds = 0.0
        self.env_steps = 0
        self.method: Method = r.method_cls(r.config)
        self.test_tasks = r.suite.test_tasks(self.job.task_seed, r.n_test)
        self.tb = _TensorBoard(self.dir / "tb") if self.job.tensorboard else None
        self.collector: Collector | None = None
        self.checkpoint: dict[str, Any] | None = None
        path = self.dir / store.CHECKPOINT_FILE
        if path.exists():
            # tensors go straight to the run's device (RNG states are moved back to the CPU in restore)
            device = resolve_device(self.job.device)
            self.checkpoint = torch.load(path, map_location=device, weights_only=False)
            self._load_rows(self.checkpoint)

    # -------------------------------------------------------------------------------------- events

    def emit(self, kind: str, **kw: Any) -> None:
        if self.sink is None:
            return
        elapsed = time.perf_counter() - self.t0
        done = self.env_steps - self.start_steps
        rate = done / elapsed if elapsed > 0 and done > 0 else math.nan
        eta = (self.r.budget - self.env_steps) / rate if rate == rate and rate > 0 else math.nan
        self.sink(ProgressEvent(
            kind=kind,  # type: ignore[arg-type]
            key=self.job.key,
            env_steps=self.env_steps,
            budget=self.r.budget,
            steps_per_s=rate,
            eta_s=eta,
            eval_index=self.eval_index - 1,
            zero_shot=self.last_scores[0],
            k_shot=self.last_scores[1],
            metric=self.r.suite.metric,
            **kw,
        ))

    # ----------------------------------------------------------------------------------- checkpoint

    def _load_rows(self, ckpt: dict[str, Any]) -> None:
        self.train_rows = list(ckpt["train_rows"])
        self.eval_rows = list(ckpt["eval_rows"])
        self.eval_index = int(ckpt["eval_index"])
        self.next_eval = int(ckpt["next_eval"])
        self.wall_before = float(ckpt["wall_time"])
        self.env_steps = self.start_steps = int(ckpt["collector"]["budget_used"])
        self.last_scores = tuple(ckpt.get("last_scores", (math.nan, math.nan)))  # type: ignore[assignment]

    def restore(self, collector: Collector) -> int:
        """``fit``'s restore hook: load the checkpoint (if any) into method, collector and torch RNG."""
        self.mark = time.perf_counter()  # setup time is not an iteration's update time
        self.collector = collector
        ckpt = self.checkpoint
        if ckpt is None:
            return 0
        self.method.load_state_dict(ckpt["method"])
        collector.load_state_dict(ckpt["collector"])
        torch.set_rng_state(ckpt["torch_rng"].cpu())
        if ckpt.get("cuda_rng") is not None and torch.cuda.is_available():
            torch.cuda.set_rng_state_all([s.cpu() for s in ckpt["cuda_rng"]])
        self.checkpoint = None  # free memory
        self.mark = time.perf_counter()
        return int(ckpt["iteration"])

    def save(self, iteration: int, collector: Collector, traces: pd.DataFrame | None) -> None:
        """Write the frames, then the checkpoint (a kill in between resumes from the previous one)."""
        if traces is not None:
            store.write_parquet(self.dir / store.TRACES_FILE, traces)
        evals = pd.DataFrame(self.eval_rows, columns=list(store.EVAL_COLUMNS))
        store.write_parquet(self.dir / store.EVAL_FILE, evals)
        store.write_parquet(self.dir / store.TRAIN_FILE, self.train_frame())
        store.write_torch(self.dir / store.CHECKPOINT_FILE, {
            "method": self.method.state_dict(),
            "collector": collector.state_dict(),
            "torch_rng": torch.get_rng_state(),
            "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
            "iteration": iteration,
            "train_rows": self.train_rows,
            "eval_rows": self.eval_rows,
            "eval_index": self.eval_index,
            "next_eval": self.next_eval,
            "wall_time": self.wall_time(),
            "last_scores": self.last_scores,
        })

    def train_frame(self) -> pd.DataFrame:
        frame = pd.DataFrame(self.train_rows)
        return frame if len(frame.columns) else pd.DataFrame(columns=list(store.TRAIN_COLUMNS))

    def steps_used(self) -> int:
        """Env steps charged so far (also those of an iteration that failed before its hook ran)."""
        return self.collector.steps_used if self.collector is not None else self.env_steps

    def wall_time(self) -> float:
        return self.wall_before + time.perf_counter() - self.t0

    # ------------------------------------------------------------------------------------- training

    def on_iteration(self, i: int, stats: dict[str, float], collector: Collector) -> None:
        """``fit``'s hook: record the row, emit progress, evaluate and checkpoint when due."""
        now = time.perf_counter()
        collect = collector.collect_seconds - self.collect_mark
        self.env_steps = collector.steps_used
        row: dict[str, Any] = {
            "iteration": i,
            "env_steps": self.env_steps,
            "wall_time": self.wall_time(),
            "collect_seconds": collect,
            "update_seconds": max(now - self.mark - collect, 0.0),
        }
        # a method stat named like a runner column (e.g. its own collect_seconds) becomes method_<name>
        row.update({(f"method_{k}" if k in store.TRAIN_COLUMNS else k): float(v) for k, v in stats.items()})
        self.train_rows.append(row)
        if self.tb is not None:
            self.tb.train(row)
        if now - self.last_event >= PROGRESS_INTERVAL:
            self.last_event = now
            self.emit("progress")
        if collector.exhausted or self.env_steps >= self.next_eval:
            final = collector.exhausted
            traces = self.evaluate(final)
            self.next_eval = (self.env_steps // self.r.eval_every + 1) * self.r.eval_every
            self.save(i + 1, collector, traces)
        self.mark = time.perf_counter()
        self.collect_mark = collector.collect_seconds

    def evaluate(self, final: bool) -> pd.DataFrame | None:
        """One evaluation on the test tasks; returns the trace frame at the final evaluation (if kept)."""
        start = time.perf_counter()
        r = self.r
        devices = list(range(torch.cuda.device_count())) if torch.cuda.is_available() else []
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(derive_seed(self.job.seed, "eval", self.eval_index))
            res = evaluate(self.method, r.suite, self.test_tasks, self.job.seed, r.eval_episodes,
                           eval_index=self.eval_index, record_traces=final)
        self.eval_rows += _eval_rows(res, self.test_tasks, self.eval_index, self.env_steps, r.suite.metric)
        self.last_scores = _scores(res, r.suite.metric)
        if self.tb is not None:
            self.tb.eval(*self.last_scores, self.env_steps)
        self.eval_index += 1
        self.eval_seconds += time.perf_counter() - start
        self.emit("eval")
        traces = res.traces
        if traces is not None:
            has_belief = any(str(c).startswith("belief_") for c in traces.columns)
            if not (r.suite.nonstationary or has_belief):
                traces = None
        return traces

    def train(self) -> None:
        r = self.r
        ctx = RunContext(
            seed=self.job.seed,
            device=resolve_device(self.job.device),
            run_dir=self.dir,
            profile=self.job.profile,
            budget=r.budget,
            logger=logging.getLogger(f"harness.run.{self.job.key}"),
        )
        train_tasks = r.suite.train_tasks(self.job.task_seed, r.n_train)
        message = f"(resuming at {self.env_steps} env steps)" if self.checkpoint is not None else ""
        self.emit("start", message=message)
        try:
            fit(self.method, r.suite, train_tasks, ctx, r.budget, self.on_iteration, restore=self.restore)
        finally:
            if self.tb is not None:
                self.tb.close()


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


def run_job(job: Job, on_event: EventSink | None = None) -> JobResult:
    """Run (or resume, or skip) ``job``; never raises for a failing method: the result says ``failed``.

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
                message=result.error,
            ))
        return result

    try:
        r = resolve_job(job)
        state = existing_state(r)
    except Exception as err:  # bad input of a job is reported, not raised
        return end(store.FAILED, error=f"{type(err).__name__}: {err}", traceback=traceback.format_exc())
    common = {"budget": r.budget, "metric": r.suite.metric, "eval_episodes": r.eval_episodes}
    if state == "finished":
        steps, zero, k = _read_final(job, r)
        return end("skipped", env_steps=steps, zero_shot=zero, k_shot=k, **common)
    try:
        with run_lock(job.run_dir):
            return _run_locked(job, r, on_event, started, t0, end, common)
    except RunLocked as err:  # another process trains this run: leave its files alone
        return end(store.FAILED, error=str(err), **common)


def _run_locked(
    job: Job,
    r: ResolvedJob,
    on_event: EventSink | None,
    started: float,
    t0: float,
    end: Callable[..., JobResult],
    common: dict[str, Any],
) -> JobResult:
    """The body of :func:`run_job` once the run directory's lock is held."""
    try:  # again: another process may have finished (or replaced) the run before we took the lock
        state = existing_state(r)
    except Exception as err:
        return end(store.FAILED, error=f"{type(err).__name__}: {err}", traceback=traceback.format_exc())
    if state == "finished":
        steps, zero, k = _read_final(job, r)
        return end("skipped", env_steps=steps, zero_shot=zero, k_shot=k, **common)
    if job.force:
        for child in job.run_dir.iterdir():
            if child.name == LOCK_FILE:
                continue
            if child.is_dir() and not child.is_symlink():
                shutil.rmtree(child)
            else:
                child.unlink()
    store.write_yaml(job.run_dir / store.CONFIG_FILE, r.record())
    meta_path = job.run_dir / store.META_FILE
    old_meta = (store.read_json(meta_path) or {}) if state == "resume" else {}
    with contextlib.suppress(KeyError, TypeError, ValueError):  # a resumed run keeps its first start time
        started = time.mktime(time.strptime(old_meta["started_at"], "%Y-%m-%dT%H:%M:%S%z"))
    sessions = int(old_meta.get("sessions", 0)) + 1
    store.write_json(meta_path, _meta(r, job, store.RUNNING, started, env_steps=0, sessions=sessions))
    run: _Run | None = None
    try:
        run = _Run(r, on_event)
        run.train()
    except JobPruned as err:
        steps = run.env_steps if run is not None else 0
        store.write_json(meta_path, _meta(r, job, store.PRUNED, started, env_steps=steps, error=str(err),
                                          sessions=sessions))
        return end(store.PRUNED, env_steps=steps, zero_shot=run.last_scores[0] if run else math.nan,
                   k_shot=run.last_scores[1] if run else math.nan, error=str(err), **common)
    except Exception as err:  # a failing job must not stop the others
        tb = traceback.format_exc()
        steps = run.steps_used() if run is not None else 0
        error = f"{type(err).__name__}: {err}"
        store.write_json(meta_path, _meta(r, job, store.FAILED, started, env_steps=steps, error=error,
                                          traceback=tb, sessions=sessions))
        return end(store.FAILED, env_steps=steps, error=error, traceback=tb, **common)
    timings = {
        "wall_seconds": run.wall_time(),
        "session_seconds": time.perf_counter() - t0,
        "eval_seconds": run.eval_seconds,
        "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    store.write_json(meta_path, _meta(r, job, store.FINISHED, started, env_steps=run.env_steps,
                                      timings=timings, warnings=list(r.warnings), sessions=sessions))
    return end(store.FINISHED, env_steps=run.env_steps, zero_shot=run.last_scores[0],
               k_shot=run.last_scores[1], **common)


def job_grid(
    suites: list[str], methods: list[str], seeds: list[int], **common: Any
) -> list[Job]:
    """Every (suite, method, seed) job, suite-major, with the same ``common`` fields."""
    return [Job(suite=s, method=m, seed=k, **common) for s in suites for m in methods for k in seeds]


def replace_job(job: Job, **changes: Any) -> Job:
    """``dataclasses.replace`` for jobs (e.g. ``force=False`` after a first run)."""
    return dataclasses.replace(job, **changes)
