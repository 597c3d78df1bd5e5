"""Ant suites: ``ant-dir``, ``ant-goal``, ``ant-goal-ood``, ``ant-dir-nonstat`` (the multi-task ant env lives
here too, its suite in :mod:`suites.mujoco.multitask`).

Model: gymnasium's ``ant.xml`` (Ant-v5): timestep 0.01 s, frame_skip 5, so ``dt`` = 0.05 s; 8 actuators,
gear 150, ctrlrange [-1, 1] (same model as PEARL's ``assets/ant.xml``). Reset (PEARL ``rlkit/envs/ant.py``):
``qpos += U(-0.1, 0.1)``, ``qvel += 0.1 * N(0, 1)``. ``xy`` is the torso body position (``xpos``, what
mujoco-py's ``get_body_com`` returns), ``a`` the clipped action.

Contact cost (decision). PEARL writes ``c = 0.5e-3 * sum(clip(cfrc_ext, -1, 1)^2)``. Under mujoco-py with
MuJoCo 2.0 ``cfrc_ext`` was never computed (no ``mj_rnePostConstraint``), so the term was probably 0 in
PEARL's runs; under MuJoCo 1.50 (which VariBAD recommends for Ant) and under gymnasium v5 it is computed. We
**keep** it, as written in the references and as gymnasium's Ant-v5 keeps it: it is bounded by
``0.5e-3 * 13 * 6 = 0.039`` per step, small next to the other terms. The multi-task ant (TIGR) has no
contact term.

Suites:

* ``ant-dir`` (parametric; PEARL ``rlkit/envs/ant_dir.py`` with ``forward_backward=True``): direction angle
  ``g in {0, pi}`` (forward/backward along x, as the MoSS paper says; not PEARL-as-run's two random angles nor
  VariBAD's +-1 rad). ``r = <(xy' - xy)/dt, (cos g, sin g)> - 0.5 * |a|^2 - c + 1.0``. Terminates when the
  state is not finite or torso height ``qpos[2]`` leaves [0.2, 1.0]. Observation 27-D ``[qpos[2:], qvel]``.
  Horizon 200; 2 train / 2 test: the same two tasks ``[0, pi]`` in both splits and for every seed.
* ``ant-goal`` (parametric; PEARL ``rlkit/envs/ant_goal.py``, VariBAD same): goal at angle ``U(0, 2 pi)``,
  radius ``3 * sqrt(U(0, 1))`` (uniform on the disc of radius 3). ``r = -|xy' - goal|_1 - 0.1 * |a|^2 - c``
  (no survive bonus). Never terminates. Observation 107-D ``[qpos (15, with x, y), qvel (14),
  clip(cfrc_ext[1:], -1, 1) (13 x 6)]`` (PEARL's layout without the world body's row, which is always 0).
  Horizon 200; 150 train / 30 test.
* ``ant-goal-ood`` (ood): as ``ant-goal``; goal angle ``U(0, 2 pi)``; train radius in [1, 2.5], test radius
  alternately in [0, 1) and (2.5, 3.5] (both sides, half each); radii are uniform over the area of each
  annulus (``r = sqrt(U(r0^2, r1^2))``). The MoSS paper's ranges were lost in the text we have; these are
  this project's decision. 150 train / 30 test.
* ``ant-dir-nonstat`` (nonstationary): ``ant-dir`` with horizon 600; before steps 100, 200, ... the
  direction flips with probability 0.5. Early termination as ``ant-dir``. 2 / 2 initial tasks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import gymnasium as gym
import numpy as np

from harness.registry import register_suite
from harness.suite import Split, Task
from suites.mujoco.base import MujocoSuite, MujocoTaskEnv, NonStationaryMixin, contact_cost, ctrl_cost
from suites.mujoco.tasks import AntMultiTask, GoalTask, PlanarDirectionTask

MULTI_CTRL_WEIGHT = 0.05


class _AntEnv(MujocoTaskEnv):
    xml_file = "ant.xml"
    frame_skip_default = 5

    def _snapshot(self) -> np.ndarray:
        return self.data.body("torso").xpos[:2].copy()


class AntDirEnv(_AntEnv):
    """Ant running along a planar direction (``ant-dir``); 27-D observation, early termination."""

    task_types = (PlanarDirectionTask,)
    contact_forces = True

    def _observe(self) -> np.ndarray:
        return np.concatenate([self.data.qpos[2:], self.data.qvel]).astype(np.float32)

    def _reward(self, task: Task, before: np.ndarray, action: np.ndarray) -> float:
        assert isinstance(task, PlanarDirectionTask)
        velocity = (self.data.body("torso").xpos[:2] - before) / self.dt
        forward = float(velocity @ task.unit)
        return forward - ctrl_cost(0.5, action) - contact_cost(self.data) + 1.0

    def _terminated(self) -> bool:
        state = self.state_vector()
        return not (np.isfinite(state).all() and 0.2 <= state[2] <= 1.0)


class AntGoalEnv(_AntEnv):
    """Ant navigating to a planar goal (``ant-goal``); 107-D observation, never terminates."""

    task_types = (GoalTask,)
    contact_forces = True

    def _observe(self) -> np.ndarray:
        d = self.data
        forces = np.clip(d.cfrc_ext[1:], -1.0, 1.0).ravel()
        return np.concatenate([d.qpos, d.qvel, forces]).astype(np.float32)

    def _reward(self, task: Task, before: np.ndarray, action: np.ndarray) -> float:
        assert isinstance(task, GoalTask)
        xy = self.data.body("torso").xpos[:2]
        distance = abs(xy[0] - task.gx) + abs(xy[1] - task.gy)
        return -distance - ctrl_cost(0.1, action) - contact_cost(self.data)


def ant_multi_reward(task: AntMultiTask, qpos: np.ndarray, qvel: np.ndarray) -> float:
    """TIGR's normalized ant sub-task rewards (without the control term), from the state after the step.

    velocity: ``-|qvel[0:2] - s|^2 / |s|^2``; goal: ``-|qpos[0:2] - s|^2 / |s|^2`` with ``s = (x, y)``;
    jump: ``-||qvel[2]| - vz| / vz``.
    """
    if task.base_id == 2:
        return -abs(abs(float(qvel[2])) - task.z) / task.z
    target = np.array([task.x, task.y])
    value = qvel[0:2] if task.base_id == 0 else qpos[0:2]
    return -float(np.sum(np.square(value - target)) / np.sum(np.square(target)))


class AntMultiEnv(_AntEnv):
    """Ant with TIGR's multi-task rewards; 29-D observation ``[qpos, qvel]``, never terminates."""

    task_types = (AntMultiTask,)

    def _observe(self) -> np.ndarray:
        return np.concatenate([self.data.qpos, self.data.qvel]).astype(np.float32)

    def _reward(self, task: Task, before: np.ndarray, action: np.ndarray) -> float:
        assert isinstance(task, AntMultiTask)
        return ant_multi_reward(task, self.data.qpos, self.data.qvel) - ctrl_cost(MULTI_CTRL_WEIGHT, action)


# ------------------------------------------------------------------------------------------------ suites


@dataclass(frozen=True, kw_only=True)
class AntDirSuite(MujocoSuite):
    """``ant-dir``: forward (angle 0) or backward (angle pi), horizon 200 (module docstring)."""

    name: str = "ant-dir"
    group: str = "parametric"
    n_train: int = 2
    n_test: int = 2
    description: str = "Ant, run forward or backward (PEARL forward_backward=True)"
    max_tasks: ClassVar[int | None] = 2
    # AntDirEnv: 27-D observation, 8 actuators (module docstring).
    obs_dim: ClassVar[int | None] = 27
    act_dim: ClassVar[int | None] = 8

    def sample_tasks(self, rng: np.random.Generator, n: int, split: Split) -> list[Task]:
        return [PlanarDirectionTask(angle=g) for g in (0.0, float(np.pi))[:n]]

    def _build_env(self, task: Task) -> gym.Env:
        return AntDirEnv(task, self.horizon)


def _radii(rng: np.random.Generator, n: int, r0: float, r1: float) -> np.ndarray:
    """``n`` radii uniform over the area of the annulus ``r0 <= r < r1`` (m)."""
    return np.sqrt(rng.uniform(r0**2, r1**2, size=n))


@dataclass(frozen=True, kw_only=True)
class AntGoalSuite(MujocoSuite):
    """``ant-goal``: goal uniform on the disc of radius 3, horizon 200, 150/30 tasks (module docstring)."""

    name: str = "ant-goal"
    group: str = "parametric"
    n_train: int = 150
    n_test: int = 30
    description: str = "Ant, navigate to a goal uniform on the disc of radius 3 (PEARL/VariBAD)"
    # AntGoalEnv: 107-D observation, 8 actuators (module docstring).
    obs_dim: ClassVar[int | None] = 107
    act_dim: ClassVar[int | None] = 8

    def sample_tasks(self, rng: np.random.Generator, n: int, split: Split) -> list[Task]:
        angles = rng.uniform(0.0, 2 * np.pi, size=n)
        radii = self._split_radii(rng, n, split)
        return [
            GoalTask(gx=float(r * np.cos(a)), gy=float(r * np.sin(a)))
            for a, r in zip(angles, radii, strict=True)
        ]

    def _split_radii(self, rng: np.random.Generator, n: int, split: Split) -> np.ndarray:
        return _radii(rng, n, 0.0, 3.0)

    def _build_env(self, task: Task) -> gym.Env:
        return AntGoalEnv(task, self.horizon)


@dataclass(frozen=True, kw_only=True)
class AntGoalOODSuite(AntGoalSuite):
    """``ant-goal-ood``: train radius [1, 2.5]; test radius [0, 1) and (2.5, 3.5] alternately."""

    name: str = "ant-goal-ood"
    group: str = "ood"
    train_radius: tuple[float, float] = (1.0, 2.5)
    test_inner: tuple[float, float] = (0.0, 1.0)
    test_outer: tuple[float, float] = (2.5, 3.5)
    description: str = "Ant goal, train radius in [1, 2.5], test radius in [0, 1) and (2.5, 3.5] (OOD)"

    def _split_radii(self, rng: np.random.Generator, n: int, split: Split) -> np.ndarray:
        if split == "train":
            return _radii(rng, n, *self.train_radius)
        inner = _radii(rng, n, *self.test_inner)
        # sqrt(U[r1^2 - (r1^2 - r0^2), ...)) mirrored so the outer annulus is (2.5, 3.5], open at 2.5.
        r0, r1 = self.test_outer
        outer = np.sqrt(r1**2 - rng.uniform(0.0, r1**2 - r0**2, size=n))
        return np.where(np.arange(n) % 2 == 0, inner, outer)


@dataclass(frozen=True, kw_only=True)
class AntDirNonStatSuite(NonStationaryMixin, AntDirSuite):
    """``ant-dir-nonstat``: direction flipped every 100 steps w.p. 0.5, horizon 600."""

    name: str = "ant-dir-nonstat"
    group: str = "nonstationary"
    description: str = "Ant forward/backward, flipped every 100 steps w.p. 0.5 (horizon 600)"

    def redraw(self, rng: np.random.Generator, current: Task) -> Task:
        assert isinstance(current, PlanarDirectionTask)
        return PlanarDirectionTask(angle=0.0 if current.angle != 0.0 else float(np.pi))


ANT_DIR = register_suite(AntDirSuite())
ANT_GOAL = register_suite(AntGoalSuite())
ANT_GOAL_OOD = register_suite(AntGoalOODSuite())
ANT_DIR_NONSTAT = register_suite(AntDirNonStatSuite())
