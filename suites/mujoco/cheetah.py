"""HalfCheetah suites: ``cheetah-vel``, ``cheetah-dir``, ``cheetah-vel-ood``, ``cheetah-vel-nonstat``,
``cheetah-dir-nonstat`` (the env also serves ``cheetah-multi-task``, see :mod:`suites.mujoco.multitask`).

Model: gymnasium's ``half_cheetah.xml`` (HalfCheetah-v5): timestep 0.01 s, frame_skip 5, so ``dt`` = 0.05 s;
6 actuators with ctrlrange [-1, 1] (actions pass through unchanged after clipping to [-1, 1]).
Reset (gym/oyster): ``qpos += U(-0.1, 0.1)``, ``qvel += 0.1 * N(0, 1)``. Never terminates; truncated at the
horizon. ``x`` is ``qpos[0]`` (root slide joint), ``a`` the clipped action.

Observation (20-D, PEARL's ``rlkit/envs/half_cheetah.py`` layout, also used by TIGR): ``[qpos[1:] (8),
qvel (9), torso body position xpos (3)]``. The torso position puts x back into the observation, which the
goal sub-tasks of ``cheetah-multi-task`` need.

Suites (reference: PEARL ``rlkit/envs/half_cheetah_vel.py`` / ``half_cheetah_dir.py``; VariBAD same):

* ``cheetah-vel`` (parametric): ``v ~ U(0, 3)``; ``r = -|(x' - x)/dt - v| - 0.05 * |a|^2``. Horizon 200;
  100 train / 30 test tasks, drawn independently from the split's seeded stream (disjoint almost surely).
* ``cheetah-dir`` (parametric): ``d in {+1, -1}``; ``r = d * (x' - x)/dt - 0.05 * |a|^2``. Horizon 200;
  2 train / 2 test, the same two tasks ``[+1, -1]`` in both splits and for every seed (as PEARL/VariBAD).
* ``cheetah-vel-ood`` (ood): reward as ``cheetah-vel``; train ``v ~ U(1, 3)``, test alternately
  ``v ~ U(0, 1)`` and ``v ~ U(3, 4)`` (both sides, half each). The MoSS paper's ranges were lost in the text
  we have; these ranges are this project's decision. 100 train / 30 test.
* ``cheetah-vel-nonstat`` (nonstationary): ``cheetah-vel`` with horizon 600; before steps 100, 200, ... the
  velocity is re-drawn from ``U(0, 3)`` with probability 0.5 (always a different value). 100 / 30 initial
  tasks as ``cheetah-vel``.
* ``cheetah-dir-nonstat`` (nonstationary): ``cheetah-dir`` with horizon 600; a re-draw flips the direction.
  2 / 2 initial tasks as ``cheetah-dir``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import gymnasium as gym
import numpy as np

from harness.registry import register_suite
from harness.suite import Split, Task
from suites.mujoco.base import MujocoSuite, MujocoTaskEnv, NonStationaryMixin, ctrl_cost
from suites.mujoco.tasks import CheetahMultiTask, DirectionTask, VelocityTask

CTRL_WEIGHT = 0.05
#: Index of the torso x position in a cheetah observation (``[qpos[1:] (8), qvel (9), torso xpos (3)]``).
TORSO_X = 17
#: Control period of the cheetah suites (s): timestep 0.01 s x frame_skip 5.
DT = 0.05


def forward_velocity(obs: np.ndarray, next_obs: np.ndarray) -> np.ndarray:
    """Forward velocity (m/s) of each step, ``[...]`` float64, from the torso displacement between
    ``obs [..., >= 18]`` and ``next_obs`` (columns after the cheetah's 20 are ignored). MuJoCo's body
    positions lag the joint positions by one 0.01 s physics substep, so this is the reward's velocity
    shifted by 0.01 s: single steps of a jerky gait can differ by a few 0.1 m/s, means agree closely."""
    return (next_obs[..., TORSO_X] - obs[..., TORSO_X]).astype(np.float64) / DT


def cheetah_multi_reward(task: CheetahMultiTask, qpos: np.ndarray, qvel: np.ndarray) -> float:
    """TIGR's normalized cheetah sub-task rewards (without the control term), from the state after the step.

    velocity: ``-|qvel[0] - v| / |v|``; goal: ``-|qpos[0] - x| / |x|``; stand: ``-|qpos[2] - s| / |s|`` (root
    pitch, rad); jump: ``-||qvel[1]| - vz| / vz`` (vertical root speed).
    """
    base = task.variant.split("_")[0]
    value = {"velocity": qvel[0], "goal": qpos[0], "stand": qpos[2], "jump": abs(qvel[1])}[base]
    return -abs(float(value) - task.target) / abs(task.target)


class HalfCheetahTaskEnv(MujocoTaskEnv):
    """HalfCheetah with velocity, direction or multi-task rewards (module docstring)."""

    xml_file = "half_cheetah.xml"
    frame_skip_default = 5
    task_types = (VelocityTask, DirectionTask, CheetahMultiTask)
    _torso: int | None = None

    def _observe(self) -> np.ndarray:
        d = self.data
        if self._torso is None:  # body lookup by name once per env, not per step
            self._torso = self.model.body("torso").id
        return np.concatenate([d.qpos[1:], d.qvel, d.xpos[self._torso]], dtype=np.float32)  # = .astype

    def _snapshot(self) -> np.ndarray:
        return np.array([self.data.qpos[0]])

    def _reward(self, task: Task, before: np.ndarray, action: np.ndarray) -> float:
        cost = ctrl_cost(CTRL_WEIGHT, action)
        if isinstance(task, CheetahMultiTask):
            return cheetah_multi_reward(task, self.data.qpos, self.data.qvel) - cost
        x_velocity = (self.data.qpos[0] - before[0]) / self.dt
        if isinstance(task, VelocityTask):
            return -abs(x_velocity - task.velocity) - cost
        assert isinstance(task, DirectionTask)
        return task.direction * x_velocity - cost


# ------------------------------------------------------------------------------------------------ suites


@dataclass(frozen=True, kw_only=True)
class CheetahVelSuite(MujocoSuite):
    """``cheetah-vel``: target velocity ``U(0, 3)``, horizon 200, 100/30 tasks (module docstring)."""

    name: str = "cheetah-vel"
    group: str = "parametric"
    n_train: int = 100
    n_test: int = 30
    low: float = 0.0
    high: float = 3.0
    description: str = "HalfCheetah, target forward velocity U(0, 3) (PEARL/VariBAD)"
    # HalfCheetahTaskEnv: 20-D observation, 6 actuators (module docstring).
    obs_dim: ClassVar[int | None] = 20
    act_dim: ClassVar[int | None] = 6

    def sample_tasks(self, rng: np.random.Generator, n: int, split: Split) -> list[Task]:
        return [VelocityTask(velocity=float(v)) for v in rng.uniform(self.low, self.high, size=n)]

    def _build_env(self, task: Task) -> gym.Env:
        return HalfCheetahTaskEnv(task, self.horizon)

    def achieved(self, obs: np.ndarray, next_obs: np.ndarray) -> np.ndarray | None:
        """Forward velocity of each step (m/s, ``[..., 1]`` float32, :func:`forward_velocity`)."""
        return forward_velocity(obs, next_obs)[..., None].astype(np.float32)


@dataclass(frozen=True, kw_only=True)
class CheetahDirSuite(MujocoSuite):
    """``cheetah-dir``: the two tasks forward (+1) and backward (-1), horizon 200 (module docstring)."""

    name: str = "cheetah-dir"
    group: str = "parametric"
    n_train: int = 2
    n_test: int = 2
    description: str = "HalfCheetah, run forward or backward (PEARL/VariBAD)"
    max_tasks: ClassVar[int | None] = 2
    # HalfCheetahTaskEnv: 20-D observation, 6 actuators (module docstring).
    obs_dim: ClassVar[int | None] = 20
    act_dim: ClassVar[int | None] = 6

    def sample_tasks(self, rng: np.random.Generator, n: int, split: Split) -> list[Task]:
        return [DirectionTask(direction=d) for d in (1.0, -1.0)[:n]]

    def _build_env(self, task: Task) -> gym.Env:
        return HalfCheetahTaskEnv(task, self.horizon)


@dataclass(frozen=True, kw_only=True)
class CheetahVelOODSuite(CheetahVelSuite):
    """``cheetah-vel-ood``: train ``U(1, 3)``; test alternately in [0, 1) and (3, 4]."""

    name: str = "cheetah-vel-ood"
    group: str = "ood"
    low: float = 1.0
    high: float = 3.0
    test_low: tuple[float, float] = (0.0, 1.0)
    test_high: tuple[float, float] = (3.0, 4.0)
    description: str = "HalfCheetah velocity, train v in [1, 3], test v in [0, 1) and (3, 4] (OOD)"

    def sample_tasks(self, rng: np.random.Generator, n: int, split: Split) -> list[Task]:
        if split == "train":
            return super().sample_tasks(rng, n, split)
        # u in [0, 1): even tasks lo + w*u in [0, 1), odd tasks hi - w*u in (3, 4].
        u = rng.uniform(0.0, 1.0, size=n)
        (lo, _), (_, hi) = self.test_low, self.test_high
        return [
            VelocityTask(
                velocity=float(
                    lo + (self.test_low[1] - lo) * u[i]
                    if i % 2 == 0
                    else hi - (hi - self.test_high[0]) * u[i]
                )
            )
            for i in range(n)
        ]


@dataclass(frozen=True, kw_only=True)
class CheetahVelNonStatSuite(NonStationaryMixin, CheetahVelSuite):
    """``cheetah-vel-nonstat``: velocity re-drawn from ``U(0, 3)`` every 100 steps w.p. 0.5, horizon 600."""

    name: str = "cheetah-vel-nonstat"
    group: str = "nonstationary"
    description: str = "HalfCheetah velocity U(0, 3), re-drawn every 100 steps w.p. 0.5 (horizon 600)"

    def redraw(self, rng: np.random.Generator, current: Task) -> Task:
        assert isinstance(current, VelocityTask)
        while True:
            v = float(rng.uniform(self.low, self.high))
            if v != current.velocity:
                return VelocityTask(velocity=v)


@dataclass(frozen=True, kw_only=True)
class CheetahDirNonStatSuite(NonStationaryMixin, CheetahDirSuite):
    """``cheetah-dir-nonstat``: direction flipped every 100 steps w.p. 0.5, horizon 600."""

    name: str = "cheetah-dir-nonstat"
    group: str = "nonstationary"
    description: str = "HalfCheetah forward/backward, flipped every 100 steps w.p. 0.5 (horizon 600)"

    def redraw(self, rng: np.random.Generator, current: Task) -> Task:
        assert isinstance(current, DirectionTask)
        return DirectionTask(direction=-current.direction)


#: The MoSS paper's schedule on cheetah-vel (appendix, "Hyperparameters"): ``n_train_tasks x
#: num_transitions_initial + num_train_epochs x num_train_tasks_per_episode x num_transitions_per_episode``.
CHEETAH_VEL_PAPER_BUDGET = 100 * 200 + 501 * 30 * 200

CHEETAH_VEL = register_suite(CheetahVelSuite(paper_budget=CHEETAH_VEL_PAPER_BUDGET))
CHEETAH_DIR = register_suite(CheetahDirSuite())
CHEETAH_VEL_OOD = register_suite(CheetahVelOODSuite())
CHEETAH_VEL_NONSTAT = register_suite(CheetahVelNonStatSuite())
CHEETAH_DIR_NONSTAT = register_suite(CheetahDirNonStatSuite())
