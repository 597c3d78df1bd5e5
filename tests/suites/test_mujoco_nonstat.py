"""Non-stationary MuJoCo suites: switch schedule (rate, boundaries, redraws) and rewards after a switch.

The statistics run the suites' own ``redraw`` inside :class:`harness.suite.NonStationary` around a trivial
env (thousands of episodes per second); the MuJoCo envs themselves are checked on a few episodes.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import pytest

import suites.mujoco  # noqa: F401  (registers the suites)
from harness.registry import get_suite
from harness.suite import NonStationary, Task, TaskEnv
from suites.mujoco.base import NonStationaryMixin
from suites.mujoco.tasks import DirectionTask, PlanarDirectionTask, VelocityTask

pytestmark = pytest.mark.mujoco

NONSTAT = ["cheetah-vel-nonstat", "cheetah-dir-nonstat", "ant-dir-nonstat"]


class _NullEnv(TaskEnv):
    """Does nothing but count steps; stands in for the MuJoCo env when only the schedule matters."""

    def __init__(self, task: Task, horizon: int) -> None:
        super().__init__(task)
        self.horizon = horizon
        self.observation_space = gym.spaces.Box(-1, 1, shape=(1,), dtype=np.float32)
        self.action_space = gym.spaces.Box(-1, 1, shape=(1,), dtype=np.float32)
        self._t = 0

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict]:
        self._t = 0
        return np.zeros(1, np.float32), {"task": self.task}

    def step(self, action: np.ndarray) -> tuple[Any, float, bool, bool, dict]:
        self._t += 1
        return np.zeros(1, np.float32), 0.0, False, self._t >= self.horizon, {"task": self.task}


def _schedule(env: gym.Env, seed: int, horizon: int) -> list[Task]:
    """The task of every step of one episode (``info["task"]``), checking ``current_task`` on the way."""
    _, info = env.reset(seed=seed)
    tasks: list[Task] = []
    for t in range(horizon):
        expected_next = env.current_task  # type: ignore[attr-defined]
        _, _, _, truncated, info = env.step(np.zeros(env.action_space.shape))
        assert info["task"] == expected_next
        assert info["switched"] == (t > 0 and tasks[-1] != info["task"])
        tasks.append(info["task"])
        assert truncated == (t == horizon - 1)
    return tasks


@pytest.mark.parametrize("name", NONSTAT)
def test_switch_rate_and_boundaries(name: str) -> None:
    suite = get_suite(name)
    assert isinstance(suite, NonStationaryMixin)
    assert (suite.horizon, suite.period, suite.p_switch) == (600, 100, 0.5)
    task = suite.train_tasks(0, 1)[0]
    env = NonStationary(_NullEnv(task, suite.horizon), suite.redraw, suite.period, suite.p_switch)
    switches, boundaries = 0, 0
    for seed in range(200):
        tasks = _schedule(env, seed, suite.horizon)
        assert tasks[0] == task
        for t in range(1, suite.horizon):
            if tasks[t] != tasks[t - 1]:
                assert t % 100 == 0, f"switch at step {t}, not at a 100-step boundary"
        changed = [tasks[b] != tasks[b - 1] for b in range(100, suite.horizon, 100)]
        switches += sum(changed)
        boundaries += len(changed)
    rate = switches / boundaries  # 1000 boundaries: std of the rate is about 0.016
    assert 0.44 < rate < 0.56, rate
    assert _schedule(env, 7, suite.horizon) == _schedule(env, 7, suite.horizon)


def test_redraws_always_differ() -> None:
    rng = np.random.default_rng(0)
    vel = get_suite("cheetah-vel-nonstat")
    direction = get_suite("cheetah-dir-nonstat")
    ant = get_suite("ant-dir-nonstat")
    assert isinstance(vel, NonStationaryMixin) and isinstance(direction, NonStationaryMixin)
    assert isinstance(ant, NonStationaryMixin)
    current: Task = VelocityTask(velocity=1.0)
    for _ in range(200):
        new = vel.redraw(rng, current)
        assert isinstance(new, VelocityTask) and new != current and 0.0 <= new.velocity < 3.0
        current = new
    assert direction.redraw(rng, DirectionTask(direction=1.0)) == DirectionTask(direction=-1.0)
    assert direction.redraw(rng, DirectionTask(direction=-1.0)) == DirectionTask(direction=1.0)
    assert ant.redraw(rng, PlanarDirectionTask(angle=0.0)) == PlanarDirectionTask(angle=float(np.pi))
    assert ant.redraw(rng, PlanarDirectionTask(angle=float(np.pi))) == PlanarDirectionTask(angle=0.0)


@pytest.mark.parametrize("name", ["cheetah-dir-nonstat", "cheetah-vel-nonstat"])
def test_mujoco_reward_follows_the_switch(name: str) -> None:
    """On the real env: the reward of every step is the formula under that step's ``info["task"]``."""
    suite = get_suite(name)
    task = suite.train_tasks(0, 1)[0]
    env: Any = suite.make_env(task, seed=0)
    inner: Any = env.unwrapped
    rng = np.random.default_rng(0)
    seen_switch = False
    for seed in range(4):
        env.reset(seed=seed)
        assert env.current_task == task and inner.task == task  # type: ignore[attr-defined]
        previous = task
        for t in range(suite.horizon):
            x_before = float(inner.data.qpos[0])
            action = rng.uniform(-1, 1, size=6)
            _, reward, _, truncated, info = env.step(action)
            speed = (float(inner.data.qpos[0]) - x_before) / 0.05
            step_task = info["task"]
            if isinstance(step_task, DirectionTask):
                expected = step_task.direction * speed
            else:
                expected = -abs(speed - step_task.velocity)
            assert reward == pytest.approx(expected - 0.05 * float(np.sum(action**2)), abs=1e-9)
            if step_task != previous:
                assert t % 100 == 0 and info["switched"]
                seen_switch = True
            previous = step_task
            assert inner.task == env.current_task  # type: ignore[attr-defined]
            assert truncated == (t == suite.horizon - 1)
    assert seen_switch, "no switch in 4 episodes x 5 boundaries (probability 2**-20)"


def test_ant_dir_nonstat_episode_runs() -> None:
    suite = get_suite("ant-dir-nonstat")
    env = suite.make_env(suite.test_tasks(0, 2)[1], seed=0)
    _, info = env.reset(seed=2)
    assert info["task"] == PlanarDirectionTask(angle=float(np.pi))
    steps, done = 0, False
    while not done:
        _, _, terminated, truncated, info = env.step(np.zeros(8))  # zero action: the ant stays upright
        steps += 1
        done = terminated or truncated
    assert steps == 600 and not terminated
