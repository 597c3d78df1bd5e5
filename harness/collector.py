"""The collector: a method's only source of experience, charged against the run's budget.

Usage inside ``Method.train_step``::

    rollout = collector.collect(agent, task_ids=[3, 7, 7], episodes=2)   # 3 envs in parallel
    rollout.obs      # [3, 2 * horizon, obs_dim]; rollout.active marks the real steps

The collector owns the run's :class:`Budget`: every environment step of every collect call is charged to
it (exploration and training alike); the rollout engine (:func:`harness.rollout.run_trial`) is given the
steps left as its step limit, so collection stops exactly at the budget (the last rollout is then partial
and ``collector.exhausted`` is True). Task ids index the training tasks given to ``Method.setup``; the task
records themselves (ground truth) are not exposed here: identities are all a method may use, except that a
method with ``privileged_task`` gets the task vector of every transition in ``Rollout.task`` for its
meta-training, after its agent has acted (the agent never sees it).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from harness.agent import Agent
from harness.rollout import EnvPool, Rollout, run_trial

if TYPE_CHECKING:
    from harness.suite import Suite, Task


class BudgetExhausted(RuntimeError):
    """Raised when a method asks for experience after the environment-step budget is spent."""


@dataclass
class Budget:
    """Environment-step budget shared by everything a method collects (owned by the :class:`Collector`).

    Attributes:
        total: environment steps allowed.
        used: environment steps taken so far.
    """

    total: int
    used: int = 0

    def __post_init__(self) -> None:
        if self.total < 1:
            raise ValueError(f"budget must be at least 1 environment step, got {self.total}")

    @property
    def remaining(self) -> int:
        return max(self.total - self.used, 0)

    @property
    def exhausted(self) -> bool:
        return self.used >= self.total


class Collector:
    """Budget-charging batched experience collection on the training tasks.

    Args:
        suite: the suite.
        tasks: the training tasks (ids are their positions in this list).
        seed: the run's seed (env seeds derive from it).
        budget: the run's environment-step budget (the collector's :attr:`budget` charges it).
        task_obs: append the true task vector to observations (only for methods with ``sees_task``).
        privileged_task: fill ``Rollout.task`` of every returned rollout (only for methods with
            ``privileged_task``; the agent acts on the observations alone).
    """

    def __init__(
        self, suite: Suite, tasks: Sequence[Task], seed: int, budget: int, task_obs: bool = False,
        privileged_task: bool = False,
    ) -> None:
        self.suite = suite
        self.privileged_task = privileged_task
        self.budget = Budget(int(budget))
        self._pool = EnvPool(suite, tasks, seed, "train", task_obs)
        self.collect_seconds = 0.0

    @property
    def num_tasks(self) -> int:
        """Number of training tasks (valid ids are ``0 .. num_tasks - 1``)."""
        return len(self._pool.tasks)

    @property
    def horizon(self) -> int:
        return self.suite.horizon

    @property
    def obs_dim(self) -> int:
        """Observation size methods see (the oracle's includes the task vector)."""
        spec = self.suite.spec
        return spec.obs_dim + (spec.task_dim if self._pool.task_obs else 0)

    @property
    def act_dim(self) -> int:
        return self.suite.spec.act_dim

    @property
    def steps_used(self) -> int:
        return self.budget.used

    @property
    def exhausted(self) -> bool:
        return self.budget.exhausted

    def collect(
        self, agent: Agent, task_ids: Sequence[int], episodes: int = 1, deterministic: bool = False
    ) -> Rollout:
        """Run ``episodes`` consecutive episodes on each task of ``task_ids`` in parallel (one env each).

        Raises:
            BudgetExhausted: the budget was already spent before the call.
        """
        if self.budget.exhausted:
            raise BudgetExhausted(f"environment-step budget of {self.budget.total} is spent")
        if len(task_ids) == 0:
            raise ValueError("collect() needs at least one task id")
        start = time.perf_counter()
        rollout, truth = run_trial(self._pool, task_ids, agent, episodes, deterministic,
                                   max_steps=self.budget.remaining, record_truth=self.privileged_task)
        if truth is not None:
            rollout.task = truth.task_vector
        self.budget.used += rollout.num_steps
        self.collect_seconds += time.perf_counter() - start
        return rollout

    def close(self) -> None:
        self._pool.close()

    def state_dict(self) -> dict[str, Any]:
        return {"pool": self._pool.state_dict(), "budget_used": self.budget.used}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self._pool.load_state_dict(state["pool"])
        self.budget.used = int(state["budget_used"])
