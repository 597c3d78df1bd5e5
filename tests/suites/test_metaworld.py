"""Meta-World ML1 suites: tasks are ML1 goals, reward versions, hidden goal, horizon 500, success flag."""

from __future__ import annotations

import pickle

import metaworld
import numpy as np
import pytest

from harness.registry import get_suite, list_suites
from suites.metaworld import MetaWorldTask, ML1Suite
from suites.metaworld.ml1 import ml1_benchmark

pytestmark = pytest.mark.metaworld

NAMES = [f"ml1-{t}-{v}" for v in ("v1", "v2") for t in ("reach", "push", "pick-place")]


def _suite(name: str) -> ML1Suite:
    suite = get_suite(name)
    assert isinstance(suite, ML1Suite)
    return suite


def _tasks(suite: ML1Suite, split: str, seed: int, n: int) -> list[MetaWorldTask]:
    tasks = suite.train_tasks(seed, n) if split == "train" else suite.test_tasks(seed, n)
    assert all(isinstance(t, MetaWorldTask) for t in tasks)
    return tasks  # type: ignore[return-value]


def test_groups_and_settings() -> None:
    assert [s.name for s in list_suites("metaworld-v1")] == NAMES[:3]
    assert [s.name for s in list_suites("metaworld-v2")] == NAMES[3:]
    for name in NAMES:
        suite = _suite(name)
        assert suite.reward_version == name[-2:]
        assert suite.env_name == name[4:-3] + "-v3"
        assert (suite.horizon, suite.n_train, suite.n_test, suite.max_tasks) == (500, 50, 50, 50)
        assert suite.metric == "success" and not suite.nonstationary


def test_tasks_are_the_ml1_goals_of_the_run_seed() -> None:
    suite = _suite("ml1-push-v2")
    bench = ml1_benchmark("push-v3", 7)
    for split, mw_tasks in (("train", bench.train_tasks), ("test", bench.test_tasks)):
        for i, task in enumerate(_tasks(suite, split, 7, 4)):
            assert (task.env_name, task.ml1_seed, task.split, task.index) == ("push-v3", 7, split, i)
            np.testing.assert_array_equal(task.rand_vec, pickle.loads(mw_tasks[i].data)["rand_vec"])
    # A fresh (uncached) ML1 with the same seed gives the same goals: the split is a function of the seed.
    fresh = metaworld.ML1("push-v3", seed=7)
    np.testing.assert_array_equal(
        _tasks(suite, "test", 7, 1)[0].rand_vec, pickle.loads(fresh.test_tasks[0].data)["rand_vec"]
    )
    # v1 and v2 suites of one environment share their task distribution.
    assert _suite("ml1-push-v1").train_tasks(7, 4) == suite.train_tasks(7, 4)


def test_more_than_fifty_tasks_is_an_error() -> None:
    with pytest.raises(ValueError, match="only 50"):
        _suite("ml1-reach-v1").train_tasks(0, 51)


def test_make_env_sets_the_task_and_hides_the_goal() -> None:
    suite = _suite("ml1-reach-v2")
    tasks = _tasks(suite, "test", 0, 2)
    goals = []
    for task in tasks:
        env = suite.make_env(task, seed=0)
        obs, info = env.reset(seed=1)
        assert obs.shape == (39,) and obs.dtype == np.float32
        np.testing.assert_array_equal(obs[-3:], 0.0)  # goal hidden, as in ML1
        assert info["task"] == task and info["success"] is False
        target = env.unwrapped._target_pos  # type: ignore[attr-defined]
        np.testing.assert_allclose(target, task.rand_vec[3:])  # the env runs the recorded goal
        goals.append(target.copy())
        _, _, _, _, info = env.step(np.zeros(4, np.float32))
        assert info["success"] is False
        env.close()
    assert not np.allclose(goals[0], goals[1])


def test_reward_version_is_passed_to_the_env() -> None:
    task = _suite("ml1-reach-v1").train_tasks(0, 1)[0]
    rewards = {}
    for version in ("v1", "v2"):
        env = _suite(f"ml1-reach-{version}").make_env(task, seed=0)
        assert env.unwrapped.reward_function_version == version  # type: ignore[attr-defined]
        env.reset(seed=0)
        rewards[version] = float(env.step(np.zeros(4, np.float32))[1])
        env.close()
    assert 0.0 <= rewards["v2"] <= 10.0
    assert rewards["v1"] != pytest.approx(rewards["v2"])


def test_truncates_at_500_and_refuses_more_steps() -> None:
    suite = _suite("ml1-reach-v2")
    env = suite.make_env(suite.train_tasks(0, 1)[0], seed=0)
    env.reset(seed=0)
    action = np.zeros(4, np.float32)
    for _ in range(499):
        assert env.step(action)[3] is False
    _, _, terminated, truncated, _ = env.step(action)
    assert truncated is True and terminated is False
    with pytest.raises(ValueError, match="reset"):
        env.step(action)
    env.reset(seed=0)
    assert env.step(action)[3] is False  # reset makes the env usable again
    env.close()


def test_success_flag_turns_on_when_the_hand_reaches_the_goal() -> None:
    """A proportional controller on the hand position reaches the (hidden) goal: success becomes True."""
    suite = _suite("ml1-reach-v2")
    task = _tasks(suite, "train", 0, 1)[0]
    env = suite.make_env(task, seed=0)
    obs, _ = env.reset(seed=0)
    goal = np.asarray(task.rand_vec[3:])
    success = False
    for _ in range(150):
        action = np.append(np.clip(10.0 * (goal - obs[:3]), -1.0, 1.0), 0.0).astype(np.float32)
        obs, _, _, _, info = env.step(action)
        success |= info["success"]
    env.close()
    assert success


def test_recorded_task_that_metaworld_no_longer_generates_is_refused() -> None:
    suite = _suite("ml1-reach-v2")
    task = _tasks(suite, "train", 0, 1)[0]
    tampered = MetaWorldTask(
        env_name=task.env_name, ml1_seed=task.ml1_seed, split=task.split, index=task.index,
        rand_vec=(*task.rand_vec[:5], task.rand_vec[5] + 0.01),
    )
    with pytest.raises(RuntimeError, match="different"):
        suite.make_env(tampered, seed=0)
    with pytest.raises(ValueError, match="reach-v3"):
        _suite("ml1-push-v2").make_env(task, seed=0)
