"""Toy point-robot suites: rewards by hand, task distributions, and the non-stationary schedule."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from harness.registry import get_suite
from harness.suite import Task
from suites.toy import MultiPointTask, PointTask
from suites.toy.point import START_NOISE, STEP_SIZE


def _env(name: str, task: Task, seed: int = 0) -> gym.Env:
    return get_suite(name).make_env(task, seed)


# ------------------------------------------------------------------------------------------- point-goal


def test_goal_reward_is_minus_distance_after_the_step() -> None:
    task = PointTask(gx=0.6, gy=0.8)
    env = _env("point-goal", task)
    p0, _ = env.reset(seed=5)
    assert np.all(np.abs(p0) <= START_NOISE)
    p = p0.astype(np.float64)
    for action in ([1.0, 0.5], [0.3, -0.2], [4.0, -7.0]):  # the last one is clipped to [1, -1]
        obs, reward, terminated, truncated, info = env.step(np.array(action, np.float32))
        p = p + STEP_SIZE * np.clip(action, -1.0, 1.0)
        np.testing.assert_allclose(obs, p, atol=1e-6)
        assert reward == pytest.approx(-np.hypot(p[0] - 0.6, p[1] - 0.8), abs=1e-9)
        assert not terminated and not truncated and info["task"] == task


def test_goals_lie_on_the_upper_unit_half_circle() -> None:
    suite = get_suite("point-goal")
    for task in suite.train_tasks(3) + suite.test_tasks(3):
        assert isinstance(task, PointTask)
        assert np.hypot(task.gx, task.gy) == pytest.approx(1.0)
        assert task.gy >= 0.0
        np.testing.assert_array_equal(task.vector(), np.array([task.gx, task.gy], np.float32))


def test_walking_to_the_goal_beats_standing_still() -> None:
    task = PointTask(gx=0.0, gy=1.0)
    returns = []
    for policy in (lambda p: np.zeros(2), lambda p: np.clip((np.array([0.0, 1.0]) - p) / STEP_SIZE, -1, 1)):
        env = _env("point-goal", task)
        p, _ = env.reset(seed=0)
        total = 0.0
        for _ in range(20):
            p, r, _, _, _ = env.step(policy(p).astype(np.float32))
            total += float(r)
        returns.append(total)
    assert returns[0] == pytest.approx(-20.0, abs=0.3)
    assert returns[1] == pytest.approx(-4.5, abs=0.1)  # the module docstring's optimal return


# ------------------------------------------------------------------------------------- point-multi-task


def test_multi_task_has_both_base_tasks_half_each() -> None:
    suite = get_suite("point-multi-task")
    for tasks in (suite.train_tasks(0), suite.test_tasks(0)):
        bases = [t.base_id for t in tasks]
        assert bases.count(0) == bases.count(1) == len(tasks) // 2
        for t in tasks:
            assert isinstance(t, MultiPointTask)
            assert np.hypot(t.x, t.y) == pytest.approx(1.0)
            if t.base_id == 0:
                assert t.y >= 0.0  # goals on the upper half circle
            np.testing.assert_array_equal(t.vector()[:2], np.eye(2)[t.base_id])
    # Directions cover the full circle (some point downwards).
    assert any(isinstance(t, MultiPointTask) and t.base_id == 1 and t.y < 0 for t in suite.train_tasks(0))


def test_multi_task_goal_reward_matches_point_goal() -> None:
    env = _env("point-multi-task", MultiPointTask(base_id=0, x=-0.6, y=0.8))
    p0, _ = env.reset(seed=1)
    obs, reward, *_ = env.step(np.array([-1.0, 0.0], np.float32))
    np.testing.assert_allclose(obs, p0 + np.array([-STEP_SIZE, 0.0]), atol=1e-6)
    assert reward == pytest.approx(-np.hypot(obs[0] + 0.6, obs[1] - 0.8), abs=1e-6)


@pytest.mark.parametrize(
    ("action", "expected"),
    [([0.6, 0.8], 0.0), ([-0.6, -0.8], -2.0), ([-0.8, 0.6], -1.0), ([0.3, 0.4], -0.5), ([6.0, 8.0], 0.4)],
)
def test_direction_reward_is_speed_along_the_direction_minus_1(action: list[float], expected: float) -> None:
    """Direction (0.6, 0.8): full speed along it gives 0, against it -2, perpendicular -1, half speed -0.5;
    (6, 8) is clipped to (1, 1), whose projection on the direction is 1.4, so 0.4."""
    env = _env("point-multi-task", MultiPointTask(base_id=1, x=0.6, y=0.8))
    env.reset(seed=2)
    _, reward, *_ = env.step(np.array(action, np.float32))
    assert reward == pytest.approx(expected, abs=1e-6)


# ----------------------------------------------------------------------------------- point-goal-nonstat


def _nonstat_episode(env: gym.Env, seed: int) -> dict[str, list]:
    """One episode with random actions; per step: the task, reward, position and the switch flag."""
    rng = np.random.default_rng(seed)
    _, info = env.reset(seed=seed)
    out: dict[str, list] = {"task": [], "reward": [], "pos": [], "switched": [], "predicted": []}
    for _ in range(100):
        out["predicted"].append(env.get_wrapper_attr("current_task"))
        obs, reward, terminated, truncated, info = env.step(rng.uniform(-1, 1, 2).astype(np.float32))
        for key, value in (("task", info["task"]), ("reward", reward), ("pos", obs),
                           ("switched", info["switched"])):
            out[key].append(value)
        if terminated or truncated:
            break
    assert truncated and len(out["task"]) == 100
    return out


def test_nonstationary_schedule_statistics() -> None:
    suite = get_suite("point-goal-nonstat")
    task = suite.train_tasks(0, 1)[0]
    env = suite.make_env(task, seed=0)
    episodes = 300
    switches = np.zeros((episodes, 3))
    for ep in range(episodes):
        out = _nonstat_episode(env, seed=ep)
        assert out["task"][0] == task  # every episode starts from the env's task
        for t in range(100):  # step t + 1 (t steps already taken)
            step_task = out["task"][t]
            # current_task before the step predicted the task the step ran under.
            assert out["predicted"][t] == step_task
            # The reward follows the task in force, including right after a switch.
            assert isinstance(step_task, PointTask)
            pos = out["pos"][t]
            assert out["reward"][t] == pytest.approx(-np.hypot(pos[0] - step_task.gx, pos[1] - step_task.gy),
                                                     abs=1e-5)
            changed = t > 0 and step_task != out["task"][t - 1]
            assert out["switched"][t] == changed
            if changed:
                assert t % 25 == 0, f"switch after {t} steps, not at a 25-step boundary"
                switches[ep, t // 25 - 1] = 1
                assert np.hypot(step_task.gx, step_task.gy) == pytest.approx(1.0) and step_task.gy >= 0
    rate = switches.mean()
    assert 0.42 < rate < 0.58, f"switch rate {rate:.3f} per boundary, expected 0.5"
    for boundary_rate in switches.mean(axis=0):
        assert 0.35 < boundary_rate < 0.65
    # Episodes differ in their schedules (not the same pattern every time).
    assert len({tuple(row) for row in switches}) == 8


def test_nonstationary_schedule_is_a_function_of_the_episode_seed() -> None:
    suite = get_suite("point-goal-nonstat")
    task = suite.train_tasks(0, 1)[0]
    env_a, env_b = suite.make_env(task, seed=0), suite.make_env(task, seed=1)
    a, b = _nonstat_episode(env_a, seed=17), _nonstat_episode(env_b, seed=17)
    assert a["task"] == b["task"]
    np.testing.assert_array_equal(a["reward"], b["reward"])
    schedules = {tuple(_nonstat_episode(env_a, seed=s)["task"]) for s in range(6)}
    assert len(schedules) > 1
