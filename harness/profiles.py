"""Budget profiles: how many environment steps, tasks and evaluations a run gets.

Four profiles, chosen with ``harness run --profile``:

* ``smoke``: seconds per run. Budget = 4 episodes (``4 * horizon`` env steps), 2 training and 2 test tasks,
  one evaluation at the end. CI runs it on every method x suite, MuJoCo and Meta-World included.
* ``quick``: minutes on a laptop CPU. Toy suites get enough steps for a method to learn (``QUICK_BUDGETS``),
  MuJoCo and Meta-World suites 50k steps with at most 10 training / 5 test tasks; about 10 evaluations.
* ``bench``: the reference results shipped under ``results/reference/bench``: per-suite budgets
  (``BENCH_BUDGETS``, 200k-300k env steps) at which ``sac-oracle`` learns the suite on a CPU, the suite's own
  task counts, 10 evaluations; the methods shrink their networks and update ratios for it identically.
* ``paper``: the published settings: the suite's declared ``paper_budget`` (the MoSS paper's schedule, where
  its hyperparameter table gives one), else 2M env steps; the suite's own task counts; 20 evaluations.

A method adjusts its update counts per profile in its ``hparams.yaml`` (``profiles.<name>``); the profile
here only fixes what the runner controls, identically for every method.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from harness.registry import UnknownNameError, unknown_name_message

if TYPE_CHECKING:
    from harness.suite import Suite

#: ``quick`` budgets (env steps) of the toy suites; every other suite gets ``QUICK_DEFAULT_BUDGET``.
#: point-goal: ~1500 episodes of 20 steps, enough for SAC with the true task to reach the goal.
QUICK_BUDGETS: dict[str, int] = {
    "point-goal": 30_000,
    "point-multi-task": 30_000,
    "point-goal-nonstat": 40_000,
}
QUICK_DEFAULT_BUDGET = 50_000
#: ``quick`` caps on the number of training / test tasks of non-toy suites (toy suites keep their own).
QUICK_MAX_TRAIN_TASKS = 10
QUICK_MAX_TEST_TASKS = 5

#: ``paper`` budget (env steps) of suites that declare no ``Suite.paper_budget`` (the paper prints no step
#: count for them); the declared ones live with the suites (e.g. ``suites/mujoco/cheetah.py``).
PAPER_DEFAULT_BUDGET = 2_000_000

#: ``bench`` budgets (env steps): per suite, enough for ``sac-oracle`` to learn the suite on a CPU (the
#: criterion of each suite is written in ``BENCH_CRITERIA``), while one run of a SAC-based method stays
#: near 20 minutes on one core. The method's ``hparams.yaml`` (``profiles.bench``) shrinks the networks
#: and the update ratio identically for every SAC-based method.
BENCH_BUDGETS: dict[str, int] = {
    "cheetah-vel": 200_000,
    "cheetah-vel-ood": 200_000,
    "cheetah-dir": 200_000,
    "cheetah-vel-nonstat": 300_000,
    "ant-dir": 300_000,
    "ml1-reach-v2": 200_000,
}
BENCH_DEFAULT_BUDGET = 200_000


@dataclass(frozen=True)
class BenchSac:
    """The SAC settings every SAC-based method (``moss``, ``pearl``, ``sac-mt``, ``sac-oracle``) gets on a
    suite in the ``bench`` profile: the shrink of the paper's networks and update ratio that fits a CPU.

    Attributes:
        hidden: widths of the actor's and each critic's hidden layers.
        updates_per_env_step: gradient steps per collected env step.
        batch: transitions per gradient step (PEARL: tasks x transitions per task).
    """

    hidden: tuple[int, ...] = (128, 128)
    updates_per_env_step: float = 0.5
    batch: int = 256


#: Per suite, where it differs from ``BenchSac()``. The values live in each method's ``hparams.yaml``
#: (``profiles.bench``); a test checks every SAC-based method against this table. Ant-dir: at 2 x 128 and
#: 0.5, sac-oracle did not walk both ways even at 1M env steps; at 2 x 256 and 1 it walked both ways at
#: 300k on four runs of five (``BENCH_UNMET``; results/reference/ant-budget, ant-width256-utd1,
#: bench/ant-dir, gpu-h200).
BENCH_SAC: dict[str, BenchSac] = {"ant-dir": BenchSac(hidden=(256, 256), updates_per_env_step=1.0)}


def bench_sac(suite: str) -> BenchSac:
    """The ``bench`` profile's SAC settings of ``suite`` (:class:`BenchSac`)."""
    return BENCH_SAC.get(suite, BenchSac())


#: What "sac-oracle learns the suite" means at the ``bench`` budget, per suite (checked by hand with the
#: scripts named; written into the README's reference-results section).
BENCH_CRITERIA: dict[str, str] = {
    "cheetah-vel": "velocity tracking slope >= 0.8 and MAE <= 0.4 m/s (scripts/cheetah_vel_tracking.py)",
    "cheetah-vel-ood": "velocity tracking slope >= 0.8 on the in-range training velocities",
    "cheetah-dir": "runs forward and backward at >= 1 m/s",
    "cheetah-vel-nonstat": "achieved velocity follows the target after switches (report tracking figure)",
    "ant-dir": "walks forward and backward at >= 0.5 m/s (a return >= 300 in each direction implies it: "
               "the reward is the velocity along the direction plus 1 per step, less non-negative costs, "
               "over at most 200 steps)",
    "ml1-reach-v2": ">= 80% success",
}

#: Suites where ``sac-oracle`` does *not* meet its ``BENCH_CRITERIA`` at the ``bench`` budget, with what was
#: measured: a run there warns that its results say nothing about adaptation (the README's status).
BENCH_UNMET: dict[str, str] = {
    "ant-dir": "at the bench sizes of ant-dir (2 x 256, 1 update per env step) sac-oracle walked both ways "
               "at 300k on 4 runs of 5, backward only on one (forward / backward: 185 / 629 on seed 0 and "
               "455 / 463 on seed 1 in results/reference/bench/ant-dir; 491 / 551 and 509 / 437 on an "
               "earlier machine, results/reference/ant-width256-utd1; seed 2 on a GPU 414 / 491 at 270k, "
               "results/reference/gpu-h200), and the backward direction dips between evaluations. At the "
               "former 2 x 128 and 0.5 updates it stood or walked one way up to 1M "
               "(results/reference/ant-budget)",
}


def suite_family(suite: Suite) -> str:
    """``toy``, ``metaworld`` or ``mujoco`` (every other group, third-party suites included)."""
    if suite.group == "toy":
        return "toy"
    if suite.group.startswith("metaworld"):
        return "metaworld"
    return "mujoco"


@dataclass(frozen=True)
class Profile:
    """What the runner gives a run of a suite: budget, task counts and evaluation cadence.

    Attributes:
        name: CLI name.
        description: one line for ``--help``.
        horizons_per_run: budget in episodes (``budget = horizons_per_run * horizon``), if set.
        budgets: per-suite budget in env steps (when ``horizons_per_run`` is None).
        suite_paper_budgets: a suite's declared ``Suite.paper_budget`` comes before ``budgets``.
        default_budget: budget of suites not in ``budgets`` (and without a declared paper budget).
        evaluations: evaluations per run (the last one is at the end of the budget).
        n_train: fixed number of training tasks (None: the suite's default, capped for non-toy suites by
            ``max_train``).
        n_test: as ``n_train`` for test tasks.
        max_train: cap on training tasks of non-toy suites (None: no cap).
        max_test: cap on test tasks of non-toy suites (None: no cap).
        unmet: suites where the profile's budget is known to be too small for ``sac-oracle`` to learn the
            suite, with what was measured (a run there warns).
    """

    name: str
    description: str
    horizons_per_run: int | None = None
    budgets: dict[str, int] = field(default_factory=dict)
    suite_paper_budgets: bool = False
    default_budget: int = PAPER_DEFAULT_BUDGET
    evaluations: int = 10
    n_train: int | None = None
    n_test: int | None = None
    max_train: int | None = None
    max_test: int | None = None
    unmet: dict[str, str] = field(default_factory=dict)

    def budget(self, suite: Suite) -> int:
        """Environment steps of a run on ``suite``."""
        if self.horizons_per_run is not None:
            return self.horizons_per_run * suite.horizon
        if self.suite_paper_budgets and suite.paper_budget is not None:
            return suite.paper_budget
        return self.budgets.get(suite.name, self.default_budget)

    def caveat(self, suite: Suite) -> str | None:
        """A warning for a run of ``suite`` at this profile's budget, where that budget is known to be too
        small for the suite to be learned (None otherwise)."""
        why = self.unmet.get(suite.name)
        if why is None:
            return None
        return (f"at the {self.name} profile's {self.budget(suite)} env steps sac-oracle does not reliably "
                f"learn {suite.name}: {why}; before reading adaptation into results there, check that the "
                "oracle learned every task (harness compare --per-task)")

    def eval_every(self, suite: Suite, budget: int) -> int:
        """Env steps between evaluations: ``budget / evaluations`` rounded up to whole episodes."""
        per_eval = math.ceil(budget / self.evaluations)
        return max(suite.horizon, math.ceil(per_eval / suite.horizon) * suite.horizon)

    def num_tasks(self, suite: Suite) -> tuple[int, int]:
        """``(n_train, n_test)`` for ``suite``."""
        n_train = self.n_train if self.n_train is not None else suite.n_train
        n_test = self.n_test if self.n_test is not None else suite.n_test
        if suite_family(suite) != "toy":
            n_train = min(n_train, self.max_train) if self.max_train is not None else n_train
            n_test = min(n_test, self.max_test) if self.max_test is not None else n_test
        if suite.max_tasks is not None:
            n_train, n_test = min(n_train, suite.max_tasks), min(n_test, suite.max_tasks)
        return n_train, n_test


PROFILES: dict[str, Profile] = {
    "smoke": Profile(
        name="smoke",
        description="seconds: 4 episodes of env steps, 2 train / 2 test tasks, one evaluation (CI)",
        horizons_per_run=4,
        evaluations=1,
        n_train=2,
        n_test=2,
    ),
    "quick": Profile(
        name="quick",
        description="minutes on a laptop: toy suites 30k-40k steps, others 50k; ~10 evaluations",
        budgets=QUICK_BUDGETS,
        default_budget=QUICK_DEFAULT_BUDGET,
        evaluations=10,
        max_train=QUICK_MAX_TRAIN_TASKS,
        max_test=QUICK_MAX_TEST_TASKS,
    ),
    "bench": Profile(
        name="bench",
        description="reference results: per-suite budgets (cheetah-vel 200k) at which sac-oracle learns, "
        "the suite's task counts, shrunk SAC networks (2 x 128) for every SAC-based method",
        budgets=BENCH_BUDGETS,
        default_budget=BENCH_DEFAULT_BUDGET,
        evaluations=10,
        unmet=BENCH_UNMET,
    ),
    "paper": Profile(
        name="paper",
        description="published settings: MoSS paper budgets (else 2M steps), suite task counts",
        suite_paper_budgets=True,
        default_budget=PAPER_DEFAULT_BUDGET,
        evaluations=20,
    ),
}


def get_profile(name: str) -> Profile:
    """The profile called ``name``; unknown names list the valid ones."""
    if name not in PROFILES:
        raise UnknownNameError(unknown_name_message("profile", name, PROFILES))
    return PROFILES[name]
