"""Learning tests: RL2 and VariBAD adapt on point-goal within a short budget (``quick`` toy settings).

Reference for ``sac-mt``: not a second training run (minutes of SAC updates) but an upper bound on the
return of *any* policy that cannot identify the task, ``sac-mt`` at every budget included (the same bound as
``test_pearl_learning.py``): at step t the robot is within ``0.1 t`` (+ start noise) of the origin, so its
expected reward over the test goals is at most the best ``-E_g ||p - g||`` over that disc. Measured for
comparison (seed 0, quick toy settings, 30k steps): ``sac-mt`` -17.0, random about -20, oracle about -4.5.
Each method's k-shot return (the last of its ``eval_episodes = 2`` episodes) must beat the bound and the
random policy by a margin.

VariBAD's budget is 100k env steps: at 60k its k-shot return was only 0.5-2.1 above the bound (seeds 0-3,
and seed 0 differed between two machines: 2.07 here, 0.48 on CI, which failed), at 100k 2.7-6.4 above it
(seeds 0-3: 6.4, 4.3, 5.3, 2.7). RL2 at 60k: 6.0 above it (seed 0).
"""

from __future__ import annotations

import numpy as np
import pytest

from harness.config import method_config
from harness.context import RunContext
from harness.evaluation import evaluate
from harness.loop import fit
from harness.registry import get_method, get_suite

SEED = 0


def task_agnostic_bound(goals: np.ndarray, horizon: int, step: float = 0.1, noise: float = 0.01) -> float:
    """Upper bound on the mean return over ``goals [G, 2]`` of a point-goal policy that ignores the task."""
    axis = np.linspace(-1.2, 1.2, 241)
    grid = np.stack(np.meshgrid(axis, axis), -1).reshape(-1, 2)
    expected = -np.linalg.norm(grid[:, None, :] - goals[None], axis=-1).mean(1)
    radius = np.linalg.norm(grid, axis=1)
    slack = noise * np.sqrt(2.0) + (axis[1] - axis[0])
    return float(sum(expected[radius <= step * t + slack].max() for t in range(1, horizon + 1)))


@pytest.mark.slow
@pytest.mark.parametrize(("name", "budget", "margin"), [("rl2", 60_000, 3.0), ("varibad", 100_000, 1.0)])
def test_beats_task_agnostic_bound_on_point_goal(name: str, budget: int, margin: float) -> None:
    suite = get_suite("point-goal")
    train, test = suite.train_tasks(SEED), suite.test_tasks(SEED)
    cls = get_method(name)
    method = cls(method_config(cls, suite, "quick"))
    fit(method, suite, train, RunContext(seed=SEED, profile="quick", budget=budget))
    res = evaluate(method, suite, test, SEED, episodes=cls.eval_episodes)
    bound = task_agnostic_bound(np.stack([t.vector() for t in test]).astype(np.float64), suite.horizon)
    random_cls = get_method("random")
    random = random_cls(random_cls.config_cls())
    random.setup(suite, train, RunContext(seed=SEED))
    random_return = evaluate(random, suite, test, SEED, episodes=1).final_episode
    print(f"{name} per episode {res.returns.mean(0).round(2)}; random {random_return:.2f}; bound {bound:.2f}")
    assert res.final_episode > bound + margin
    assert res.final_episode > random_return + 4.0
