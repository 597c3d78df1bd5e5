"""Smoke tests of the built-in methods, generated from the registries: end to end through the runner with the
``smoke`` profile (4 episodes of budget, 2 train / 2 test tasks, one evaluation).

Which runs (each (suite, method) pair once):

* every built-in method of ``list_methods()`` on :data:`REGISTRY_SUITE`, so a new built-in method is
  smoke-tested without touching this file;
* :data:`EVERY_SUITE` methods on every built-in suite (their suite-dependent code paths: context layouts,
  multi-task class counts, success metrics);
* :data:`ALTERNATING` methods: both on every toy suite, one of them on each other suite, alternating in
  registry order, so each meets every suite family while MuJoCo / Meta-World steps are paid once.

Every run must finish with finite scores, evaluate ``k`` episodes per trial and write its training stats;
:data:`CHECKS` adds what a method family records (timings, PPO losses, beliefs in the traces).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from harness import store
from harness.registry import get_method, get_suite, list_methods, list_suites
from harness.runner import Job, JobResult, run_job
from tests.helpers import suite_marks

#: The suite every built-in method runs on (two base tasks: exercises multi-task class counts too).
REGISTRY_SUITE = "point-multi-task"
#: Methods smoke-tested on every built-in suite.
EVERY_SUITE = ("moss", "pearl")
#: Methods sharing the non-toy suites (and both running every toy suite).
ALTERNATING = ("rl2", "varibad")
#: Suites where PEARL evaluates its full 3-episode trial (prior, prior, posterior) besides the toy suites:
#: walker-rand-params puts s' in the context. Elsewhere one episode keeps CI cheap.
PEARL_FULL_TRIAL = frozenset({"walker-rand-params"})

MOSS_ABLATIONS = ("moss-no-gmm", "moss-no-contrastive", "moss-traj", "moss-ps")
MOSS_TIMING = ("collect_seconds", "encoder_seconds", "policy_seconds")  # collect_seconds: from the runner


def builtin_methods() -> list[str]:
    """Registered methods defined in the ``methods`` package (tests may register others)."""
    return [m for m in list_methods() if get_method(m).__module__.startswith("methods.")]


def builtin_suites() -> list[str]:
    """Registered suites defined in the ``suites`` package, in registry order."""
    return [s.name for s in list_suites() if type(s).__module__.startswith("suites.")]


def smoke_pairs() -> list[tuple[str, str]]:
    """The (suite, method) pairs of the module docstring, each once, grouped by suite in registry order."""
    methods, suites = builtin_methods(), builtin_suites()
    wanted = {(REGISTRY_SUITE, m) for m in methods}
    k = 0
    for suite in suites:
        wanted |= {(suite, m) for m in EVERY_SUITE}
        if get_suite(suite).group == "toy":
            wanted |= {(suite, m) for m in ALTERNATING}
        else:
            wanted.add((suite, ALTERNATING[k % 2]))
            k += 1
    return sorted(wanted, key=lambda p: (suites.index(p[0]), methods.index(p[1])))


@dataclass
class SmokeRun:
    """A finished smoke run and its results files."""

    job: Job
    result: JobResult

    def frame(self, name: str) -> pd.DataFrame:
        return pd.read_parquet(self.job.run_dir / name)


def eval_episodes(suite: str, method: str) -> int | None:
    """Episodes per evaluation trial of the smoke run (``None``: the method's own ``eval_episodes``)."""
    if method == "pearl" and get_suite(suite).group != "toy" and suite not in PEARL_FULL_TRIAL:
        return 1
    return None


# ------------------------------------------------------------------------------------ per-family checks


def _check_moss(run: SmokeRun) -> None:
    train = run.frame(store.TRAIN_FILE)
    assert set(MOSS_TIMING) <= set(train.columns)
    assert (train["encoder_seconds"] > 0).all() and (train["policy_seconds"] > 0).all()


def _check_moss_ablation(run: SmokeRun) -> None:
    traces = run.frame(store.TRACES_FILE)
    assert {"belief_mean", "belief_var", "belief_class_probs"} <= set(traces.columns)
    if run.job.suite == "point-multi-task":  # num_classes 2 there (hparams.yaml)
        k = len(traces["belief_class_probs"].iloc[0])
        assert k == (2 if get_method(run.job.method).config_cls().use_gmm else 1)


def _check_pearl(run: SmokeRun) -> None:
    train = run.frame(store.TRAIN_FILE)
    assert (train["collected_steps"] > 0).all() and "critic_loss" in train.columns
    traces = run.frame(store.TRACES_FILE)
    assert {"belief_mean", "belief_var", "belief_z"} <= set(traces.columns)


def _check_ppo(run: SmokeRun) -> None:
    train = run.frame(store.TRAIN_FILE)
    assert {"ppo_loss", "ppo_entropy", "train_return"} <= set(train.columns)


def _check_varibad(run: SmokeRun) -> None:
    _check_ppo(run)
    traces = run.frame(store.TRACES_FILE)
    assert {"belief_mean", "belief_var"} <= set(traces.columns)


#: Extra checks by method name, on top of the checks every run gets.
CHECKS: dict[str, Callable[[SmokeRun], None]] = {
    "moss": _check_moss,
    **dict.fromkeys(MOSS_ABLATIONS, _check_moss_ablation),
    "pearl": _check_pearl,
    "rl2": _check_ppo,
    "varibad": _check_varibad,
}


# ------------------------------------------------------------------------------------------------ tests


def test_every_builtin_method_has_a_smoke_run() -> None:
    covered = {m for _, m in smoke_pairs()}
    assert covered == set(builtin_methods())
    assert {"random", "sac-mt", "sac-oracle", *EVERY_SUITE, *ALTERNATING} <= covered
    assert set(CHECKS) <= covered, "CHECKS names a method that is not registered"
    assert {s for s, _ in smoke_pairs()} == set(builtin_suites())


@pytest.mark.parametrize(
    ("suite", "method"),
    [pytest.param(s, m, id=f"{s}-{m}", marks=suite_marks(s)) for s, m in smoke_pairs()],
)
def test_smoke(tmp_path: Path, suite: str, method: str) -> None:
    job = Job(suite=suite, method=method, seed=0, out=str(tmp_path), profile="smoke", device="cpu",
              eval_episodes=eval_episodes(suite, method))
    result = run_job(job)
    assert result.status == "finished", result.traceback
    assert np.isfinite(result.zero_shot) and np.isfinite(result.k_shot)
    k = get_method(method).eval_episodes if job.eval_episodes is None else job.eval_episodes
    assert result.eval_episodes == k
    evals = pd.read_parquet(job.run_dir / store.EVAL_FILE)
    assert sorted(evals["episode"].unique()) == list(range(k))
    assert set(evals["metric"]) == {get_suite(suite).metric}
    assert len(pd.read_parquet(job.run_dir / store.TRAIN_FILE)) > 0
    check = CHECKS.get(method)
    if check is not None:
        check(SmokeRun(job, result))


def test_published_budget() -> None:
    moss = get_method("moss")
    assert moss.published_budget(get_suite("cheetah-vel")) == 100 * 200 + 501 * 30 * 200
    assert moss.published_budget(get_suite("point-goal")) is None
    assert get_method("moss-traj").eval_episodes == 3 and moss.eval_episodes == 1
