"""2-D point-robot suites: ``point-goal``, ``point-goal-nonstat`` and ``point-multi-task``.

The robot starts near the origin (uniform noise of +-0.01 per coordinate) and moves by ``0.1 * clip(a, -1,
1)`` per step; the observation is its position (2-D, float32). Pure numpy: tens of thousands of steps per
second, so learning tests finish in seconds. Modelled on the dense point-robot navigation task of the
VariBAD and PEARL papers (goal on a half circle of radius 1).

* ``point-goal``: goal ``g = (cos t, sin t)`` with ``t ~ U(0, pi)``; reward ``-||p' - g||_2`` (``p'`` the
  position after the step); horizon 20; 40 train / 20 test tasks drawn independently (disjoint almost
  surely). Optimal return is about -4.5 (ten steps to the goal), a still robot gets -20.
* ``point-goal-nonstat``: as ``point-goal`` with horizon 100; before steps 25, 50 and 75 the goal is re-drawn
  with probability 0.5 (always a different goal): a fast stand-in for the MuJoCo non-stationary suites.
* ``point-multi-task``: two qualitatively different base tasks, half of the tasks each:
  base 0 *goal* (as ``point-goal``) and base 1 *direction*: move along ``d = (cos t, sin t)``,
  ``t ~ U(0, 2 pi)``, reward ``<p' - p, d> / 0.1 - 1`` (0 at full speed along ``d``, -2 against it);
  horizon 20.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np

from harness.registry import register_suite
from harness.suite import NonStationary, Split, Suite, Task, TaskEnv

STEP_SIZE = 0.1
START_NOISE = 0.01


@dataclass(frozen=True, kw_only=True)
class PointTask(Task):
    """Reach goal ``(gx, gy)``."""

    gx: float
    gy: float

    def vector(self) -> np.ndarray:
        return np.array([self.gx, self.gy], dtype=np.float32)


@dataclass(frozen=True, kw_only=True)
class MultiPointTask(Task):
    """Base 0: reach goal ``(x, y)``; base 1: move along the unit direction ``(x, y)``."""

    x: float
    y: float

    def vector(self) -> np.ndarray:
        one_hot = np.eye(2, dtype=np.float32)[self.base_id]
        return np.concatenate([one_hot, np.array([self.x, self.y], dtype=np.float32)])



class PointEnv(TaskEnv):
    """Point robot in the plane; see the module docstring for dynamics and rewards."""

    def __init__(self, task: Task, horizon: int) -> None:
        super().__init__(task)
        self.horizon = horizon
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, shape=(2,), dtype=np.float32)
        self.action_space = gym.spaces.Box(-1.0, 1.0, shape=(2,), dtype=np.float32)
        self._pos = np.zeros(2)
        self._t = 0

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict]:
        super().reset(seed=seed)
        self._pos = self.np_random.uniform(-START_NOISE, START_NOISE, size=2)
        self._t = 0
        return self._pos.astype(np.float32), {"task": self.task}

    def reward(self, pos: np.ndarray, new_pos: np.ndarray) -> float:
        """Reward of moving from ``pos`` to ``new_pos`` under the current task."""
        task = self.task
        if isinstance(task, PointTask):
            return -float(np.hypot(new_pos[0] - task.gx, new_pos[1] - task.gy))
        assert isinstance(task, MultiPointTask)
        if task.base_id == 0:
            return -float(np.hypot(new_pos[0] - task.x, new_pos[1] - task.y))
        return float((new_pos - pos) @ np.array([task.x, task.y])) / STEP_SIZE - 1.0

    def step(self, action: np.ndarray) -> tuple[Any, float, bool, bool, dict]:
        a = np.clip(np.asarray(action, dtype=np.float64).reshape(2), -1.0, 1.0)
        new_pos = self._pos + STEP_SIZE * a
        reward = self.reward(self._pos, new_pos)
        self._pos = new_pos
        self._t += 1
        return new_pos.astype(np.float32), reward, False, self._t >= self.horizon, {"task": self.task}


def _half_circle_goals(rng: np.random.Generator, n: int) -> list[Task]:
    angles = rng.uniform(0.0, np.pi, size=n)
    return [PointTask(gx=float(np.cos(t)), gy=float(np.sin(t))) for t in angles]


@dataclass(frozen=True, kw_only=True)
class PointGoalSuite(Suite):
    """Goal on the upper half of the unit circle, dense reward ``-||p' - g||``; see module docstring."""

    name: str = "point-goal"
    group: str = "toy"
    horizon: int = 20
    n_train: int = 40
    n_test: int = 20
    description: str = "2-D point robot, goal on a half circle, dense reward (toy)"
    # Position observation, 2-D move action (module docstring).
    obs_dim: ClassVar[int | None] = 2
    act_dim: ClassVar[int | None] = 2

    def sample_tasks(self, rng: np.random.Generator, n: int, split: Split) -> list[Task]:
        return _half_circle_goals(rng, n)

    def make_env(self, task: Task, seed: int) -> gym.Env:
        env = PointEnv(task, self.horizon)
        env.reset(seed=seed)
        return env


def _redraw_goal(rng: np.random.Generator, current: Task) -> Task:
    return _half_circle_goals(rng, 1)[0]


@dataclass(frozen=True, kw_only=True)
class PointGoalNonStationarySuite(PointGoalSuite):
    """``point-goal`` whose goal is re-drawn before steps 25, 50, 75 with probability 0.5."""

    name: str = "point-goal-nonstat"
    horizon: int = 100
    nonstationary: bool = True
    period: int = 25
    p_switch: float = 0.5
    description: str = "point-goal with the goal re-drawn every 25 steps w.p. 0.5 (toy, non-stationary)"

    def make_env(self, task: Task, seed: int) -> gym.Env:
        env = NonStationary(PointEnv(task, self.horizon), _redraw_goal, self.period, self.p_switch)
        env.reset(seed=seed)
        return env


@dataclass(frozen=True, kw_only=True)
class PointMultiTaskSuite(Suite):
    """Two base tasks (goal reaching, direction following), half of the tasks each; see module docstring."""

    name: str = "point-multi-task"
    group: str = "toy"
    horizon: int = 20
    n_train: int = 40
    n_test: int = 20
    description: str = "2-D point robot with two base tasks: goal reaching and direction following (toy)"
    # Position observation, 2-D move action (module docstring).
    obs_dim: ClassVar[int | None] = 2
    act_dim: ClassVar[int | None] = 2

    def sample_tasks(self, rng: np.random.Generator, n: int, split: Split) -> list[Task]:
        tasks: list[Task] = []
        for i in range(n):
            base = i % 2
            t = rng.uniform(0.0, np.pi if base == 0 else 2 * np.pi)
            tasks.append(MultiPointTask(base_id=base, x=float(np.cos(t)), y=float(np.sin(t))))
        return tasks

    def make_env(self, task: Task, seed: int) -> gym.Env:
        env = PointEnv(task, self.horizon)
        env.reset(seed=seed)
        return env


POINT_GOAL = register_suite(PointGoalSuite())
POINT_GOAL_NONSTAT = register_suite(PointGoalNonStationarySuite())
POINT_MULTI_TASK = register_suite(PointMultiTaskSuite())
