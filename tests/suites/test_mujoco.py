"""MuJoCo suites: task sampling (determinism, splits, ranges, OOD), episodes, bad input.

Rewards are checked in ``test_mujoco_rewards.py``, non-stationary schedules in ``test_mujoco_nonstat.py``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

import suites.mujoco  # noqa: F401  (registers the suites)
from harness.registry import get_suite, list_suites
from harness.suite import Task
from suites.mujoco.multitask import CHEETAH_VARIANTS, LATTICE_HALF, lattice_values
from suites.mujoco.tasks import (
    AntMultiTask,
    CheetahMultiTask,
    DirectionTask,
    GoalTask,
    PlanarDirectionTask,
    RandParamsTask,
    VelocityTask,
)

pytestmark = pytest.mark.mujoco

GROUPS = {
    "parametric": ["cheetah-vel", "cheetah-dir", "ant-dir", "ant-goal", "walker-rand-params", "humanoid-dir"],
    "ood": ["cheetah-vel-ood", "ant-goal-ood"],
    "nonstationary": ["cheetah-vel-nonstat", "cheetah-dir-nonstat", "ant-dir-nonstat"],
    "multitask": ["cheetah-multi-task", "ant-multi-task"],
}
ALL = [name for names in GROUPS.values() for name in names]
#: Suites with a fixed pair of tasks (same in both splits, for every seed).
FIXED_PAIR = {"cheetah-dir", "ant-dir", "cheetah-dir-nonstat", "ant-dir-nonstat"}
#: Suites whose episodes may end early (reference termination rules).
TERMINATING = {"ant-dir", "ant-dir-nonstat", "walker-rand-params", "humanoid-dir"}
#: name -> (horizon, n_train, n_test, obs_dim, act_dim, task_dim)
EXPECTED = {
    "cheetah-vel": (200, 100, 30, 20, 6, 1),
    "cheetah-dir": (200, 2, 2, 20, 6, 1),
    "ant-dir": (200, 2, 2, 27, 8, 2),
    "ant-goal": (200, 150, 30, 107, 8, 2),
    "walker-rand-params": (200, 40, 10, 17, 6, 65),
    "humanoid-dir": (200, 100, 30, 348, 17, 2),
    "cheetah-vel-ood": (200, 100, 30, 20, 6, 1),
    "ant-goal-ood": (200, 150, 30, 107, 8, 2),
    "cheetah-vel-nonstat": (600, 100, 30, 20, 6, 1),
    "cheetah-dir-nonstat": (600, 2, 2, 20, 6, 1),
    "ant-dir-nonstat": (600, 2, 2, 27, 8, 2),
    "cheetah-multi-task": (200, 70, 35, 20, 6, 5),
    "ant-multi-task": (200, 90, 45, 29, 8, 6),
}


def _key(task: Task) -> tuple:
    return tuple(np.round(task.vector().astype(np.float64), 12))


def test_groups_registered() -> None:
    for group, names in GROUPS.items():
        assert [s.name for s in list_suites(group)] == names
        for name in names:
            assert get_suite(name).group == group


@pytest.mark.parametrize("name", ALL)
def test_dimensions_and_defaults(name: str) -> None:
    suite = get_suite(name)
    horizon, n_train, n_test, obs_dim, act_dim, task_dim = EXPECTED[name]
    assert (suite.horizon, suite.n_train, suite.n_test) == (horizon, n_train, n_test)
    assert (suite.spec.obs_dim, suite.spec.act_dim, suite.spec.task_dim) == (obs_dim, act_dim, task_dim)
    assert suite.nonstationary == (name in GROUPS["nonstationary"])
    assert suite.__doc__ and suite.metric == "return"


@pytest.mark.parametrize("name", ALL)
def test_tasks_deterministic_and_split(name: str) -> None:
    suite = get_suite(name)
    train, test = suite.train_tasks(3), suite.test_tasks(3)
    assert len(train) == suite.n_train and len(test) == suite.n_test
    assert train == suite.train_tasks(3) and test == suite.test_tasks(3)
    dims = {t.vector().shape for t in train + test}
    assert dims == {(suite.spec.task_dim,)}
    assert all(t.vector().dtype == np.float32 for t in train + test)
    if name in FIXED_PAIR:
        assert train == test == suite.train_tasks(4)
        assert len(set(train)) == 2
        return
    assert train != suite.train_tasks(4) and test != suite.test_tasks(4)
    assert not {_key(t) for t in train} & {_key(t) for t in test}, "train and test tasks overlap"
    assert len({_key(t) for t in train}) == len(train)


def test_fixed_pairs_are_forward_and_backward() -> None:
    assert get_suite("cheetah-dir").train_tasks(0) == [
        DirectionTask(direction=1.0),
        DirectionTask(direction=-1.0),
    ]
    ant = get_suite("ant-dir").train_tasks(0)
    assert ant == [PlanarDirectionTask(angle=0.0), PlanarDirectionTask(angle=math.pi)]
    np.testing.assert_allclose(np.stack([t.vector() for t in ant]), [[1, 0], [-1, 0]], atol=1e-7)


def test_parametric_ranges() -> None:
    vel = [t.velocity for t in get_suite("cheetah-vel").train_tasks(0) if isinstance(t, VelocityTask)]
    assert len(vel) == 100 and min(vel) >= 0.0 and max(vel) < 3.0 and max(vel) - min(vel) > 2.5
    goals = [t for t in get_suite("ant-goal").train_tasks(0) if isinstance(t, GoalTask)]
    radii = np.hypot([g.gx for g in goals], [g.gy for g in goals])
    assert len(goals) == 150 and radii.max() <= 3.0 and radii.max() > 2.7
    # uniform over the disc: about a quarter of the goals inside radius 1.5
    assert 0.15 < np.mean(radii < 1.5) < 0.35
    angles = [t.angle for t in get_suite("humanoid-dir").train_tasks(0) if isinstance(t, PlanarDirectionTask)]
    assert len(angles) == 100 and min(angles) >= 0 and max(angles) < 2 * np.pi
    walker = get_suite("walker-rand-params").train_tasks(0)
    u = np.stack([t.vector() for t in walker])
    assert all(isinstance(t, RandParamsTask) for t in walker)
    assert u.min() >= -3.0 and u.max() < 3.0 and np.abs(u).max() > 2.9


def test_cheetah_vel_ood_ranges() -> None:
    suite = get_suite("cheetah-vel-ood")
    for seed in range(3):
        train = np.array([t.velocity for t in suite.train_tasks(seed) if isinstance(t, VelocityTask)])
        test = np.array([t.velocity for t in suite.test_tasks(seed) if isinstance(t, VelocityTask)])
        assert train.min() >= 1.0 and train.max() <= 3.0
        low, high = test[test < 1.0], test[test > 3.0]
        assert len(low) + len(high) == len(test) == 30, "a test velocity lies inside the training range"
        assert len(low) == len(high) == 15 and low.min() >= 0.0 and high.max() <= 4.0


def test_ant_goal_ood_ranges() -> None:
    suite = get_suite("ant-goal-ood")
    for seed in range(3):
        train = np.array([np.hypot(t.gx, t.gy) for t in suite.train_tasks(seed) if isinstance(t, GoalTask)])
        test = np.array([np.hypot(t.gx, t.gy) for t in suite.test_tasks(seed) if isinstance(t, GoalTask)])
        assert train.min() >= 1.0 - 1e-12 and train.max() <= 2.5 + 1e-12
        inner, outer = test[test < 1.0], test[test > 2.5]
        assert len(inner) + len(outer) == len(test) == 30, "a test goal lies inside the training annulus"
        assert len(inner) == len(outer) == 15 and outer.max() <= 3.5 + 1e-12
        goals = [t for t in suite.test_tasks(seed) if isinstance(t, GoalTask)]
        angles = np.arctan2([g.gy for g in goals], [g.gx for g in goals])
        assert angles.std() > 1.0  # goals spread around the circle


@pytest.mark.parametrize("name", ["cheetah-multi-task", "ant-multi-task"])
def test_multitask_tasks(name: str) -> None:
    suite = get_suite(name)
    train, test = suite.train_tasks(0), suite.test_tasks(0)
    n_bases = 4 if name.startswith("cheetah") else 3
    variants: dict[str, int] = {}
    for task in train + test:
        assert isinstance(task, (CheetahMultiTask, AntMultiTask))
        vec = task.vector()
        np.testing.assert_array_equal(vec[:n_bases], np.eye(n_bases)[task.base_id])
        variants[task.variant] = variants.get(task.variant, 0) + 1
    assert set(variants.values()) == {15} and len(variants) == (7 if n_bases == 4 else 9)
    assert {t.base_id for t in suite.train_tasks(0, 2)} == {0, 1}  # a 2-task run sees two base tasks
    assert {t.base_id for t in suite.train_tasks(0, n_bases)} == set(range(n_bases))


def test_cheetah_multitask_values_in_range() -> None:
    ranges = {v.name: (v.low, v.high, v.base_id) for v in CHEETAH_VARIANTS}
    for task in get_suite("cheetah-multi-task").train_tasks(1):
        assert isinstance(task, CheetahMultiTask)
        low, high, base = ranges[task.variant]
        assert low <= task.target <= high and task.base_id == base


def test_lattice_values_disjoint_for_any_sizes() -> None:
    rng = np.random.default_rng(0)
    for n_train, n_test in [(1, 1), (2, 3), (10, 5), (37, 11), (LATTICE_HALF, LATTICE_HALF)]:
        a = lattice_values(rng, 1.0, 5.0, n_train, "train")
        b = lattice_values(rng, 1.0, 5.0, n_test, "test")
        assert len(set(a)) == n_train and len(set(b)) == n_test
        assert not set(a) & set(b)
        assert a.min() >= 1.0 and a.max() <= 5.0 and b.min() > 1.0 and b.max() < 5.0
    with pytest.raises(ValueError, match="at most"):
        lattice_values(rng, 0.0, 1.0, LATTICE_HALF + 1, "test")


def _run_episode(env: Any, seed: int) -> tuple[int, bool, bool]:
    """Random actions until the episode ends; checks the env contract on every step."""
    rng = np.random.default_rng(seed)
    obs, info = env.reset(seed=seed)
    assert isinstance(info["task"], Task) and info["task"] == env.current_task
    steps, terminated, truncated = 0, False, False
    while not (terminated or truncated):
        assert obs.dtype == np.float32 and obs.shape == env.observation_space.shape
        obs, reward, terminated, truncated, info = env.step(rng.uniform(-1, 1, size=env.action_space.shape))
        assert isinstance(reward, float) and np.isfinite(reward)
        assert isinstance(info["task"], Task)
        steps += 1
    return steps, terminated, truncated


@pytest.mark.parametrize("name", ALL)
def test_random_episode(name: str) -> None:
    suite = get_suite(name)
    task = suite.test_tasks(0, 1)[0]
    env: Any = suite.make_env(task, seed=5)
    assert env.action_space.shape == (suite.spec.act_dim,)
    assert np.all(env.action_space.low == -1.0) and np.all(env.action_space.high == 1.0)
    assert env.observation_space.dtype == np.float32
    assert env.current_task == task
    steps, terminated, truncated = _run_episode(env, seed=5)
    if name in TERMINATING:
        assert steps <= suite.horizon and (terminated or steps == suite.horizon)
    else:
        assert (steps, terminated, truncated) == (suite.horizon, False, True)
    assert _run_episode(env, seed=5)[0] == steps  # same seed, same episode


def test_termination_rules_follow_state() -> None:
    """Random actions end ant-dir, walker and humanoid episodes early, exactly when the rule says."""
    checks = {
        "ant-dir": lambda d: not (0.2 <= d.qpos[2] <= 1.0),
        "walker-rand-params": lambda d: not (0.8 < d.qpos[1] < 2.0 and -1.0 < d.qpos[2] < 1.0),
        "humanoid-dir": lambda d: not (1.0 <= d.qpos[2] <= 2.0),
    }
    for name, rule in checks.items():
        suite = get_suite(name)
        env: Any = suite.make_env(suite.train_tasks(0, 1)[0], seed=0)
        rng = np.random.default_rng(0)
        env.reset(seed=0)
        ended = False
        for _ in range(suite.horizon):
            _, _, terminated, _, _ = env.step(rng.uniform(-1, 1, size=env.action_space.shape))
            assert terminated == rule(env.unwrapped.data), name
            if terminated:
                ended = True
                break
        assert ended, f"{name}: random actions should end the episode early"


@pytest.mark.parametrize("name", ["cheetah-vel", "ant-goal", "walker-rand-params", "cheetah-multi-task"])
def test_bad_input(name: str) -> None:
    suite = get_suite(name)
    with pytest.raises(ValueError, match="seed"):
        suite.train_tasks(-1)
    with pytest.raises(ValueError, match="positive integer"):
        suite.test_tasks(0, 0)
    task = suite.train_tasks(0, 1)[0]
    with pytest.raises(ValueError, match="seed"):
        suite.make_env(task, -3)
    with pytest.raises(TypeError, match="takes tasks of type"):
        suite.make_env(
            PlanarDirectionTask(angle=0.3) if name != "ant-goal" else VelocityTask(velocity=1.0), 0
        )


def test_fixed_pair_rejects_more_tasks() -> None:
    with pytest.raises(ValueError, match="only 2"):
        get_suite("ant-dir").train_tasks(0, 3)


def test_make_env_is_cheap() -> None:
    import time

    suite = get_suite("cheetah-vel")
    task = suite.train_tasks(0, 1)[0]
    start = time.perf_counter()
    for seed in range(20):
        suite.make_env(task, seed).close()
    assert (time.perf_counter() - start) / 20 < 0.05
