"""Optuna hyperparameter sweeps over the same jobs and results layout as ``harness run``.

A trial samples config overrides from the method's search space (``Method.search_space(trial)``, sampled
in natural spaces: log-scaled learning rates and the like), runs one job per (suite, seed) through
:func:`harness.runner.run_job` and returns the objective: the IQM over seeds (and suites) of the final
evaluation score (the last episode of the method's evaluation trial, scored by
:func:`harness.analysis.scores.trial_scores`; the IQM is :func:`harness.analysis.stats.iqm`). With several
suites, return scores are normalized per suite against a random policy's score
(:func:`harness.analysis.scores.random_normalized`, so 0 is random); success rates are used as they are.

Every evaluation reports to the pruner (``trial.report(value, step)``, ``step`` counting evaluations over
the trial's jobs in order); a pruned trial stops its run (status ``pruned`` in ``meta.json``) and a run that
fails or produces NaN prunes the trial, as in rl-baselines3-zoo. Each trial's runs land in
``<out>/<suite>/<method>@trial-<n>/seed=<k>``, so ``harness report <out>`` shows every trial as a column.

Storage: a journal file ``<out>/study.journal`` by default (safe for several processes on one host), or
any Optuna storage URL (``sqlite:///...``, ``postgresql+psycopg2://user:pw@host/db``) for many machines.
Studies resume: running the command again adds ``--trials`` trials to the stored study.
"""

from __future__ import annotations

import math
import multiprocessing as mp
import os
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import pandas as pd
import yaml

from harness import store
from harness.analysis.scores import random_normalized, trial_scores
from harness.analysis.stats import iqm
from harness.jobs import Job, JobPruned, JobResult, job_grid
from harness.progress import ProgressEvent
from harness.registry import get_method, get_suite, load_plugins
from harness.runner import run_job

#: Pruner names accepted by ``--pruner``.
PRUNERS = ("median", "hyperband", "none")
#: Trial user attribute holding the sampled config overrides.
OVERRIDES_ATTR = "overrides"


@dataclass(frozen=True)
class SweepSpec:
    """What to sweep: plain values, picklable (sent to worker processes).

    Attributes:
        suites: suite names (a group is expanded by the CLI).
        method: method name.
        seeds: seeds of every trial.
        out: sweep directory (results of every trial, and the default journal storage).
        study: study name.
        storage: Optuna storage URL, or None for the journal file ``<out>/study.journal``.
        profile: budget profile of the trial runs.
        budget: env steps per run (None: the profile's).
        pruner: ``median``, ``hyperband`` or ``none``.
        sets: ``--set`` overrides applied to every trial (fixed, not searched).
        device: torch device of the runs.
        plugins: modules to import first (user methods and suites).
        sampler_seed: seed of the TPE sampler (None: random).
        eval_every: env steps between evaluations (None: the profile's); every evaluation reports to the
            pruner.
        reference_scores: per-suite random-policy scores for normalization (filled by :func:`run_sweep`).
    """

    suites: tuple[str, ...]
    method: str
    seeds: tuple[int, ...]
    out: str
    study: str
    storage: str | None = None
    profile: str = "quick"
    budget: int | None = None
    pruner: str = "median"
    sets: tuple[str, ...] = ()
    device: str = "auto"
    plugins: tuple[str, ...] = ()
    sampler_seed: int | None = None
    eval_every: int | None = None
    reference_scores: dict[str, float] = field(default_factory=dict)


def storage_url(spec: SweepSpec) -> str | optuna.storages.BaseStorage:
    """The Optuna storage of the sweep (journal file under ``out`` unless a URL was given)."""
    if spec.storage:
        return spec.storage
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    path = Path(spec.out) / "study.journal"
    path.parent.mkdir(parents=True, exist_ok=True)
    return JournalStorage(JournalFileBackend(str(path)))


def make_pruner(name: str) -> optuna.pruners.BasePruner:
    """``median`` (zoo-style: 2 startup trials, warm-up of one evaluation), ``hyperband`` or ``none``."""
    if name == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=1)
    if name == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=1, reduction_factor=3)
    if name == "none":
        return optuna.pruners.NopPruner()
    raise ValueError(f"unknown pruner {name!r}; valid pruners: {', '.join(PRUNERS)}")


def _existing_storage(spec: SweepSpec) -> str | optuna.storages.BaseStorage:
    """The storage of a study that must already exist (nothing is created when it does not)."""
    sqlite = "sqlite:///"
    if spec.storage is None:
        path = Path(spec.out) / "study.journal"
        if not path.is_file():
            raise ValueError(f"no study {spec.study!r}: {path} does not exist (run the sweep first)")
    elif spec.storage.startswith(sqlite) and not Path(spec.storage[len(sqlite):]).is_file():
        raise ValueError(f"no study {spec.study!r}: the database {spec.storage[len(sqlite):]} does not exist")
    return storage_url(spec)


def load_study(spec: SweepSpec, create: bool = True) -> optuna.Study:
    """Create or open the study (direction maximize); with ``create=False`` nothing is created.

    Raises:
        ValueError: the storage URL cannot be parsed or reached, or (``create=False``) the study does not
            exist.
    """
    try:
        if not create:
            return optuna.load_study(study_name=spec.study, storage=_existing_storage(spec))
        sampler = optuna.samplers.TPESampler(seed=spec.sampler_seed, n_startup_trials=5)
        return optuna.create_study(
            study_name=spec.study, storage=storage_url(spec), direction="maximize", load_if_exists=True,
            sampler=sampler, pruner=make_pruner(spec.pruner),
        )
    except (ValueError, KeyError):
        raise
    except Exception as err:  # SQLAlchemy and driver errors of a bad or unreachable --storage
        text = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ValueError(f"--storage {spec.storage!r}: cannot open the study storage: {text}") from None


def normalize(score: float, suite: str, spec: SweepSpec) -> float:
    """Score on a common scale when a sweep spans several suites (see the module docstring)."""
    if len(spec.suites) == 1 or get_suite(suite).metric == "success":
        return score
    return random_normalized(score, spec.reference_scores[suite])


def random_reference(suite: str, spec: SweepSpec) -> float:
    """Last-episode score of an untrained ``random`` policy on the suite's test tasks (the profile's task
    count), scored as every evaluation (:func:`harness.analysis.scores.trial_scores`)."""
    from harness.evaluation import evaluate
    from harness.profiles import get_profile

    method_cls = get_method("random")
    suite_obj = get_suite(suite)
    method = method_cls(method_cls.config_cls())
    train_n, test_n = get_profile(spec.profile).num_tasks(suite_obj)
    from harness.context import RunContext

    method.setup(suite_obj, suite_obj.train_tasks(0, train_n), RunContext(seed=0))
    tasks = suite_obj.test_tasks(0, test_n)
    res = evaluate(method, suite_obj, tasks, seed=0, episodes=1)
    return trial_scores(pd.DataFrame(res.rows(tasks, 0, 0, suite_obj.metric)))[1]


def trial_label(method: str, number: int) -> str:
    """Directory name of a trial's runs: ``<method>@trial-<n>``."""
    return f"{method}@trial-{number}"


def trial_jobs(spec: SweepSpec, number: int, overrides: dict[str, Any]) -> list[Job]:
    """The jobs of trial ``number``: one per (suite, seed), the grid of ``harness run`` for one method."""
    return job_grid(
        list(spec.suites), [spec.method], list(spec.seeds), out=spec.out, profile=spec.profile,
        budget=spec.budget, overrides=dict(overrides), sets=spec.sets, device=spec.device,
        plugins=spec.plugins, eval_every=spec.eval_every, label=trial_label(spec.method, number),
    )


def _score(result: JobResult) -> float:
    return result.k_shot


def objective_factory(
    spec: SweepSpec, run: Callable[..., JobResult] = run_job
) -> Callable[[optuna.Trial], float]:
    """The Optuna objective of the sweep (``run`` is injectable for tests)."""
    method_cls = get_method(spec.method)

    def objective(trial: optuna.Trial) -> float:
        overrides = method_cls.search_space(trial)
        trial.set_user_attr(OVERRIDES_ATTR, overrides)
        trial.set_user_attr("worker_pid", os.getpid())
        scores: list[float] = []
        step = 0
        for job in trial_jobs(spec, trial.number, overrides):

            def sink(event: ProgressEvent, job: Job = job) -> None:
                nonlocal step
                if event.kind != "eval":
                    return
                value = normalize(event.k_shot, job.suite, spec)
                if not math.isfinite(value):
                    raise JobPruned(f"non-finite evaluation score {event.k_shot}")
                trial.report(value, step)
                step += 1
                if trial.should_prune():
                    raise JobPruned(f"pruned by the {spec.pruner} pruner at evaluation {step - 1}")

            result = run(job, on_event=sink)
            if result.status in ("pruned", "failed") or not math.isfinite(_score(result)):
                trial.set_user_attr("stopped", f"{result.key}: {result.status} {result.error}".strip())
                raise optuna.TrialPruned(f"{result.key}: {result.status}")
            scores.append(normalize(_score(result), job.suite, spec))
        return iqm(np.asarray(scores, dtype=np.float64))

    return objective


def _worker(spec: SweepSpec, n_trials: int, threads: int) -> None:
    import torch

    torch.set_num_threads(threads)
    load_plugins(spec.plugins)
    study = load_study(spec)
    study.optimize(objective_factory(spec), n_trials=n_trials, catch=())


def split_trials(trials: int, workers: int) -> list[int]:
    """Trials per worker: ``trials`` spread as evenly as possible, workers without a trial dropped."""
    return [n for n in (trials // workers + (1 if i < trials % workers else 0) for i in range(workers)) if n]


def with_references(spec: SweepSpec) -> SweepSpec:
    """``spec`` with random-policy reference scores filled in when it spans several suites."""
    if len(spec.suites) > 1 and not spec.reference_scores:
        return replace(spec, reference_scores={s: random_reference(s, spec) for s in spec.suites})
    return spec


def run_sweep(spec: SweepSpec, trials: int, workers: int = 1) -> optuna.Study:
    """Add ``trials`` trials to the study, with ``workers`` processes sharing its storage.

    Returns:
        The study (re-loaded after the workers finished).
    """
    if trials < 1:
        raise ValueError(f"--trials must be >= 1, got {trials}")
    if workers < 1:
        raise ValueError(f"--workers must be >= 1, got {workers}")
    load_plugins(spec.plugins)
    spec = with_references(spec)
    load_study(spec)  # create it once before workers race to do so
    shares = split_trials(trials, workers)
    if len(shares) == 1:
        _worker(spec, shares[0], threads=max(1, (mp.cpu_count() or 1)))
    else:
        ctx = mp.get_context("spawn")
        procs = [ctx.Process(target=_worker, args=(spec, n, 1)) for n in shares]
        for p in procs:
            p.start()
        for p in procs:
            p.join()
        bad = [p.exitcode for p in procs if p.exitcode != 0]
        if bad:
            raise RuntimeError(f"{len(bad)} sweep worker(s) exited with codes {bad}")
    return load_study(spec)


def best_overrides(study: optuna.Study) -> dict[str, Any]:
    """Config overrides of the best completed trial."""
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    if not complete:
        raise ValueError(f"study {study.study_name!r} has no completed trial yet")
    return dict(study.best_trial.user_attrs.get(OVERRIDES_ATTR, study.best_trial.params))


def export_best(study: optuna.Study, method: str, path: Path | str) -> dict[str, Any]:
    """Write the best trial's overrides as a ``harness run --hparams`` file (``{methods: {m: {...}}}``)."""
    overrides = best_overrides(study)
    data = {"methods": {method: overrides}}
    header = (
        f"# best trial {study.best_trial.number} of study {study.study_name!r} "
        f"(objective {study.best_value:.6g}); use with: harness run --hparams {Path(path).name}\n"
    )
    store.write_text(path, header + yaml.safe_dump(data, sort_keys=True))
    return overrides


def trials_table(study: optuna.Study) -> str:
    """A plain-text table of the study's trials (number, state, value, overrides)."""
    lines = [f"{'trial':>5}  {'state':<9} {'value':>12}  overrides"]
    for t in study.trials:
        value = f"{t.value:.6g}" if t.value is not None else "-"
        overrides = t.user_attrs.get(OVERRIDES_ATTR, t.params)
        lines.append(f"{t.number:>5}  {t.state.name:<9} {value:>12}  {overrides}")
    return "\n".join(lines)
