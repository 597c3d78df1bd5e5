"""Learning test: PEARL adapts on point-goal within a short budget (the ``quick`` toy settings).

The reference for ``sac-mt`` is not a second training run (too slow for CI) but an upper bound on the return
of *any* policy that cannot identify the task, ``sac-mt`` at any budget included: at step t the robot is
within ``0.1 t`` (+ start noise) of the origin, so its expected reward over the test goals is at most the
best value of ``-E_g ||p - g||`` over that disc. PEARL's final episode (z from the posterior of its own two
exploration episodes) must beat that bound, and beat the random policy and its own zero-shot episode
(prior z) by a margin.
"""

from __future__ import annotations

import numpy as np
import pytest

from harness.config import method_config
from harness.context import RunContext
from harness.evaluation import evaluate
from harness.loop import fit
from harness.registry import get_method, get_suite
from harness.suite import Task
from methods.pearl import Pearl

SEED = 0
BUDGET = 20_000


def task_agnostic_bound(goals: np.ndarray, horizon: int, step: float = 0.1, noise: float = 0.01) -> float:
    """Upper bound on the mean return over ``goals [G, 2]`` of a policy that ignores the task."""
    axis = np.linspace(-1.2, 1.2, 241)
    grid = np.stack(np.meshgrid(axis, axis), -1).reshape(-1, 2)  # [P, 2]
    expected = -np.linalg.norm(grid[:, None, :] - goals[None], axis=-1).mean(1)  # [P]
    radius = np.linalg.norm(grid, axis=1)
    slack = noise * np.sqrt(2.0) + (axis[1] - axis[0])  # start noise and grid resolution
    return float(sum(expected[radius <= step * t + slack].max() for t in range(1, horizon + 1)))


def _goals(tasks: list[Task]) -> np.ndarray:
    return np.stack([t.vector() for t in tasks]).astype(np.float64)


@pytest.mark.slow  # about 45-70 s of CPU
def test_pearl_beats_task_agnostic_bound_on_point_goal() -> None:
    suite = get_suite("point-goal")
    train, test = suite.train_tasks(SEED, suite.n_train), suite.test_tasks(SEED, suite.n_test)
    method = Pearl(method_config(Pearl, suite, "quick"))
    fit(method, suite, train, RunContext(seed=SEED, profile="quick", budget=BUDGET))
    res = evaluate(method, suite, test, SEED, episodes=Pearl.eval_episodes)

    random_cls = get_method("random")
    random = random_cls(random_cls.config_cls())
    random.setup(suite, train, RunContext(seed=SEED))
    random_return = evaluate(random, suite, test, SEED, episodes=1).final_episode
    bound = task_agnostic_bound(_goals(test), suite.horizon)
    print(f"pearl per episode {res.returns.mean(0).round(2)}; random {random_return:.2f}; "
          f"task-agnostic bound {bound:.2f}")
    assert -17.0 < bound < -14.0  # sanity of the bound (random is about -20, the oracle about -4.5)
    assert res.final_episode > bound + 2.0
    assert res.final_episode > random_return + 6.0
    assert res.final_episode > res.zero_shot + 3.0  # the posterior, not the prior, does the work
