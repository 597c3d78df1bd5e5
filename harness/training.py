"""One run while it trains: rows, evaluation cadence, timers, checkpoints (used by :mod:`harness.runner`).

:class:`TrainingSession` is the state of a run between ``fit`` hooks. After every training iteration
whose env-step count crosses the next multiple of ``eval_every`` (and after the last one) it evaluates on
the test tasks, rewrites the frames and saves ``checkpoint.pt``, a :class:`harness.checkpoint.RunCheckpoint`
(``weights_only`` loading: a checkpoint cannot run code). The checkpoint stores the run's resolved config
(``record``) and its hash: resuming under another config is refused with the differing keys, and a
damaged, old-format or crafted checkpoint is set aside with a warning and the run starts from scratch.
The final checkpoint also holds the traces frame, so a finished run whose files were damaged is rebuilt
from it without training (:func:`restore_finished`).
"""

from __future__ import annotations

import io
import logging
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import torch

from harness import store
from harness.analysis.scores import trial_scores
from harness.checkpoint import (
    CheckpointError,
    RunCheckpoint,
    config_hash,
    load_run_checkpoint,
    save_run_checkpoint,
)
from harness.config import ConfigError
from harness.context import RunContext, resolve_device
from harness.evaluation import evaluate
from harness.loop import fit
from harness.progress import ProgressEvent
from harness.seeding import derive_seed
from harness.tensorboard import TensorBoardLog
from harness.verify import as_current, record_diff

if TYPE_CHECKING:
    from harness.collector import Collector
    from harness.jobs import ResolvedJob
    from harness.method import Method

EventSink = Callable[[ProgressEvent], None]
#: Seconds between two ``progress`` events of a job.
PROGRESS_INTERVAL = 2.0
#: Result files of a run (removed before a clean restart).
RESULT_FILES = (store.TRAIN_FILE, store.EVAL_FILE, store.TRACES_FILE, store.CHECKPOINT_FILE)


class TrainingSession:
    """State of one run while it trains: rows, evaluation cadence, timers, checkpointing.

    Args:
        r: the resolved job.
        sink: progress events.
        on_saved: called with the env steps after every checkpoint (the runner updates ``meta.json``).

    Raises:
        ConfigError: the run directory's checkpoint was trained under another config.
    """

    def __init__(self, r: ResolvedJob, sink: EventSink | None,
                 on_saved: Callable[[int], None] | None = None) -> None:
        self.r = r
        self.job = r.job
        self.dir = r.job.run_dir
        self.sink = sink
        self.on_saved = on_saved
        self.record = r.plain_record
        self.config_hash = r.config_hash
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
        self.warning = ""
        self.method: Method = r.method_cls(r.config)
        self.test_tasks = r.suite.test_tasks(self.job.task_seed, r.n_test)
        self.tb: TensorBoardLog | None = None
        self.collector: Collector | None = None
        self.checkpoint: RunCheckpoint | None = None
        self.final_checkpoint = False  # resumed from the checkpoint of the last iteration
        self.final_traces: bytes | None = None
        if (self.dir / store.CHECKPOINT_FILE).exists():
            self._load_checkpoint()

    def _load_checkpoint(self) -> None:
        # tensors go straight to the run's device (RNG states are moved back to the CPU in restore)
        try:
            ckpt = load_run_checkpoint(self.dir / store.CHECKPOINT_FILE, resolve_device(self.job.device))
        except CheckpointError as err:
            self.warning = f"{err}; starting this run from scratch"
            clear_results(self.dir)
            return
        check_record(ckpt, self.record, self.dir)
        self.checkpoint = ckpt
        self.final_checkpoint = ckpt.final
        self.final_traces = ckpt.traces
        self._load_rows(ckpt)

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

    def _load_rows(self, ckpt: RunCheckpoint) -> None:
        self.train_rows = list(ckpt.train_rows)
        self.eval_rows = list(ckpt.eval_rows)
        self.eval_index = int(ckpt.eval_index)
        self.next_eval = int(ckpt.next_eval)
        self.wall_before = float(ckpt.wall_time)
        self.env_steps = self.start_steps = ckpt.env_steps
        self.last_scores = ckpt.last_scores

    def restore(self, collector: Collector) -> int:
        """``fit``'s restore hook: load the checkpoint (if any) into method, collector and torch RNG."""
        self.mark = time.perf_counter()  # setup time is not an iteration's update time
        self.collector = collector
        ckpt = self.checkpoint
        if ckpt is None:
            return 0
        self.method.load_state_dict(ckpt.method)
        collector.load_state_dict(ckpt.collector)
        torch.set_rng_state(ckpt.torch_rng.cpu())
        if ckpt.cuda_rng is not None and torch.cuda.is_available():
            torch.cuda.set_rng_state_all([s.cpu() for s in ckpt.cuda_rng])
        self.checkpoint = None  # free memory
        self.mark = time.perf_counter()
        return int(ckpt.iteration)

    def save(self, iteration: int, collector: Collector, traces: pd.DataFrame | None) -> None:
        """Write the frames, then the checkpoint (a kill in between resumes from the previous one)."""
        if traces is not None:
            store.write_parquet(self.dir / store.TRACES_FILE, traces)
        evals = pd.DataFrame(self.eval_rows, columns=list(store.EVAL_COLUMNS))
        store.write_parquet(self.dir / store.EVAL_FILE, evals)
        store.write_parquet(self.dir / store.TRAIN_FILE, self.train_frame())
        save_run_checkpoint(self.dir / store.CHECKPOINT_FILE, RunCheckpoint(
            record=self.record,
            config_hash=self.config_hash,
            final=collector.exhausted,
            traces=None if traces is None else parquet_bytes(traces),
            method=self.method.state_dict(),
            collector=collector.state_dict(),
            torch_rng=torch.get_rng_state(),
            cuda_rng=torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
            iteration=iteration,
            train_rows=self.train_rows,
            eval_rows=self.eval_rows,
            eval_index=self.eval_index,
            next_eval=self.next_eval,
            wall_time=self.wall_time(),
            last_scores=self.last_scores,
        ))
        if self.on_saved is not None:
            self.on_saved(self.env_steps)

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
        rows = res.rows(self.test_tasks, self.eval_index, self.env_steps, r.suite.metric)
        self.eval_rows += rows
        self.last_scores = trial_scores(pd.DataFrame(rows))
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
        self.tb = TensorBoardLog(self.dir / "tb") if self.job.tensorboard else None
        message = f"(resuming at {self.env_steps} env steps)" if self.checkpoint is not None else ""
        self.emit("start", message=message)
        try:
            fit(self.method, r.suite, train_tasks, ctx, self.on_iteration, restore=self.restore)
        finally:
            if self.tb is not None:
                self.tb.close()
        if self.final_checkpoint and self.env_steps == self.start_steps:
            # nothing left to train (e.g. meta.json was lost after the end): the frames come from the
            # final checkpoint, whatever state the files on disk are in
            write_frames(self.dir, self.train_rows, self.eval_rows, self.final_traces)



# ---------------------------------------------------------------------------------------------- helpers


def parquet_bytes(frame: pd.DataFrame) -> bytes:
    """``frame`` as parquet bytes (kept in the final checkpoint to rebuild ``traces.parquet``)."""
    buf = io.BytesIO()
    frame.to_parquet(buf, index=False, engine="pyarrow")
    return buf.getvalue()


def clear_results(run_dir: Path) -> None:
    """Remove the run's result files and interrupted temp writes (``config.yaml``, ``meta.json``, the
    lock and files the harness does not write stay)."""
    for name in RESULT_FILES:
        (run_dir / name).unlink(missing_ok=True)
    for tmp in run_dir.glob(f".*{store.TEMP_SUFFIX}"):
        tmp.unlink(missing_ok=True)


def check_record(ckpt: RunCheckpoint, record: dict[str, Any], run_dir: Path) -> None:
    """Refuse a checkpoint trained under another config than ``record`` (naming the differing keys).

    Raises:
        ConfigError: the stored config hash (or record) differs from ``record``'s.
    """
    if ckpt.config_hash == config_hash(record):
        return
    old = ckpt.record
    if old is not None and ckpt.config_hash == config_hash(old) and \
            config_hash(as_current(old, record)) == config_hash(record):
        return  # saved before derived keys were recorded or config keys renamed (verify.as_current)
    diff = record_diff(old, record) if old is not None else ["record missing from the checkpoint"]
    raise ConfigError(
        f"{run_dir} holds a checkpoint trained with a different configuration ({', '.join(diff) or 'hash'});"
        " use --force to start it over or another --out"
    )


def restore_finished(r: ResolvedJob, run_dir: Path) -> str:
    """Rebuild a finished run's frames and ``config.yaml`` from its final checkpoint (no training).

    Returns:
        An empty string when the files were rewritten, else why the checkpoint cannot serve (the run
        must then be trained again).

    Raises:
        ConfigError: the checkpoint was trained under another config.
    """
    try:
        ckpt = load_run_checkpoint(run_dir / store.CHECKPOINT_FILE)
    except CheckpointError as err:
        return str(err)
    record = r.plain_record
    check_record(ckpt, record, run_dir)
    if not ckpt.final or ckpt.env_steps < r.budget:
        return f"{store.CHECKPOINT_FILE} is not the final one of the run"
    write_frames(run_dir, ckpt.train_rows, ckpt.eval_rows, ckpt.traces)
    store.write_yaml(run_dir / store.CONFIG_FILE, record)
    return ""


def write_frames(run_dir: Path, train_rows: list[dict[str, Any]], eval_rows: list[dict[str, Any]],
                 traces: bytes | None) -> None:
    """Write a finished run's frames from its final checkpoint's rows and traces (parquet bytes)."""
    if traces is not None:
        store.atomic_write(run_dir / store.TRACES_FILE, lambda f: f.write(traces))
    else:
        (run_dir / store.TRACES_FILE).unlink(missing_ok=True)
    store.write_parquet(run_dir / store.EVAL_FILE, pd.DataFrame(eval_rows, columns=list(store.EVAL_COLUMNS)))
    train = pd.DataFrame(train_rows)
    store.write_parquet(run_dir / store.TRAIN_FILE,
                        train if len(train.columns) else pd.DataFrame(columns=list(store.TRAIN_COLUMNS)))
