"""``humanoid-dir``: Humanoid running in a planar direction.

Reference: PEARL ``rlkit/envs/humanoid_dir.py`` (VariBAD ``humanoid_dir.py`` is the same task). Model:
gymnasium's ``humanoid.xml`` (Humanoid-v5): timestep 0.003 s, frame_skip 5, so ``dt`` = 0.015 s;
17 actuators with ctrlrange [-0.4, 0.4]. The suite's actions are in [-1, 1] (clipped) and are scaled by 0.4
onto the model's range (VariBAD does the same rescaling); ``ctrl`` below is the scaled control.

Task: direction angle ``g ~ U(0, 2 pi)``; 100 train / 30 test tasks, drawn independently. Horizon 200.

Reward (PEARL): ``r = 0.25 * <(com' - com) / timestep, (cos g, sin g)> - 0.1 * |ctrl|^2
- min(5e-7 * |cfrc_ext|^2, 10) + 5.0``, with ``com`` the mass-weighted mean of the bodies' centres of mass
(x, y) and ``timestep`` the physics step 0.003 s (PEARL divides by the timestep, not ``dt``; with
frame_skip 5 this equals gymnasium's ``1.25 * velocity``). Contact cost (decision): kept as written; under
gymnasium v5 ``cfrc_ext`` is computed (it was probably 0 under PEARL's mujoco-py 2.0), as in Humanoid-v5,
which keeps the same capped term. Terminates when ``qpos[2]`` (torso height) leaves [1.0, 2.0].

Observation 348-D, gymnasium Humanoid-v5 layout: ``[qpos[2:] (22), qvel (23), cinert[1:] (130),
cvel[1:] (78), qfrc_actuator[6:] (17), cfrc_ext[1:] (78)]``. PEARL used the gym-v2 layout with the world
body's rows and the free joint's actuator forces (376-D); those entries are always 0, so we drop them.
Reset: ``qpos, qvel += U(-0.01, 0.01)`` (gym Humanoid).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import gymnasium as gym
import numpy as np

from harness.registry import register_suite
from harness.suite import Split, Task
from suites.mujoco.base import MujocoSuite, MujocoTaskEnv, mass_center_xy
from suites.mujoco.tasks import PlanarDirectionTask


class HumanoidDirEnv(MujocoTaskEnv):
    """Humanoid-v5 model with PEARL's direction reward (module docstring)."""

    xml_file = "humanoid.xml"
    frame_skip_default = 5
    task_types = (PlanarDirectionTask,)
    contact_forces = True

    def reset_noise(self) -> tuple[float, float, float, bool]:
        return -0.01, 0.01, 0.0, True

    def _observe(self) -> np.ndarray:
        d = self.data
        parts = [
            d.qpos[2:],
            d.qvel,
            d.cinert[1:].ravel(),
            d.cvel[1:].ravel(),
            d.qfrc_actuator[6:],
            d.cfrc_ext[1:].ravel(),
        ]
        return np.concatenate(parts).astype(np.float32)

    def _snapshot(self) -> np.ndarray:
        return mass_center_xy(self.model, self.data)

    def _reward(self, task: Task, before: np.ndarray, action: np.ndarray) -> float:
        assert isinstance(task, PlanarDirectionTask)
        after = mass_center_xy(self.model, self.data)
        progress = 0.25 * float((after - before) @ task.unit) / self.model.opt.timestep
        control = 0.1 * float(np.sum(np.square(self.data.ctrl)))
        impact = min(5e-7 * float(np.sum(np.square(self.data.cfrc_ext))), 10.0)
        return progress - control - impact + 5.0

    def _terminated(self) -> bool:
        return not (1.0 <= self.data.qpos[2] <= 2.0)


@dataclass(frozen=True, kw_only=True)
class HumanoidDirSuite(MujocoSuite):
    """``humanoid-dir``: direction ``U(0, 2 pi)``, horizon 200, 100/30 tasks (module docstring)."""

    name: str = "humanoid-dir"
    group: str = "parametric"
    n_train: int = 100
    n_test: int = 30
    description: str = "Humanoid, run in a direction U(0, 2 pi) (PEARL/VariBAD)"
    # HumanoidDirEnv: 348-D observation, 17 actuators (module docstring).
    obs_dim: ClassVar[int | None] = 348
    act_dim: ClassVar[int | None] = 17

    def sample_tasks(self, rng: np.random.Generator, n: int, split: Split) -> list[Task]:
        return [PlanarDirectionTask(angle=float(g)) for g in rng.uniform(0.0, 2 * np.pi, size=n)]

    def _build_env(self, task: Task) -> gym.Env:
        return HumanoidDirEnv(task, self.horizon)


HUMANOID_DIR = register_suite(HumanoidDirSuite())
