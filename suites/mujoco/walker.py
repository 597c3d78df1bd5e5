"""``walker-rand-params``: Walker2d whose physical parameters are randomized per task.

Reference: PEARL ``rand_param_envs`` (dennisl88/rand_param_envs ``base.py`` ``RandomEnv.sample_tasks`` and
``walker2d_rand_params.py``), also vendored by VariBAD. Here on gymnasium's Walker2d-v5 model
(``walker2d_v5.xml``: timestep 0.002 s, frame_skip 4, so ``dt`` = 0.008 s; 6 actuators, ctrlrange [-1, 1]).
Deviation: rand_param_envs ran its own ``walker2d.xml`` with timestep 0.004 and an effective frame_skip of 4
(``dt`` = 0.016 s) under MuJoCo 1.31, so 200 of our steps cover half the simulated time of theirs.

Task (per element, every array of the model, from the suite's seeded stream; order mass, inertia, damping,
friction): ``body_mass`` (8), ``body_inertia`` (8 x 3), ``geom_friction`` (8 x 3) are multiplied by
``1.5 ** u`` and ``dof_damping`` (9) by ``1.3 ** u``, each ``u ~ U(-3, 3)``. The env saves the model's
default arrays at construction and ``set_task`` writes ``default * multiplier`` into
``env.unwrapped.model`` (exact and repeatable), then recomputes MuJoCo's derived constants
(``mj_setConst``, on a scratch ``MjData``: inverse weights, subtree masses) so the solver sees consistent
values; rand_param_envs (mujoco-py) only overwrote the arrays. The world body's mass and inertia are 0, so
their multipliers change nothing (as in the reference); the floor's friction is randomized like every geom.
Task vector: the 65 exponents ``u`` (mass 8, inertia 24, damping 9, friction 24).

Reward (``walker2d_rand_params.py``): ``r = (x' - x)/dt + 1.0 - 1e-3 * |a|^2`` (the alive bonus is paid on
every step, also the last). Terminates unless ``0.8 < qpos[1] < 2.0`` and ``-1 < qpos[2] < 1`` (height,
torso angle). Observation 17-D ``[qpos[1:], clip(qvel, -10, 10)]``. Reset: ``qpos, qvel += U(-0.005,
0.005)``. Horizon 200 (PEARL/VariBAD); 40 train / 10 test tasks (PEARL config), drawn independently.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import gymnasium as gym
import mujoco
import numpy as np

from harness.registry import register_suite
from harness.suite import Split, Task
from suites.mujoco.base import MujocoSuite, MujocoTaskEnv, compiled_model, ctrl_cost
from suites.mujoco.tasks import RandParamsTask

XML_FILE = "walker2d_v5.xml"
LOG_SCALE_LIMIT = 3.0
#: Randomized model arrays and the base of their multipliers (rand_param_envs ``RAND_PARAMS``).
PARAM_BASES: dict[str, float] = {
    "body_mass": 1.5,
    "body_inertia": 1.5,
    "dof_damping": 1.3,
    "geom_friction": 1.5,
}


class WalkerRandParamsEnv(MujocoTaskEnv):
    """Walker2d-v5 with the task's physical parameters written into its model (module docstring)."""

    xml_file = XML_FILE
    frame_skip_default = 4
    task_types = (RandParamsTask,)

    def __init__(self, task: Task, horizon: int) -> None:
        model = compiled_model(XML_FILE)
        self._defaults = {name: getattr(model, name).copy() for name in PARAM_BASES}
        self._scratch: mujoco.MjData | None = None
        super().__init__(task, horizon)

    def _apply_task(self, task: Task) -> None:
        assert isinstance(task, RandParamsTask)
        for name, base in PARAM_BASES.items():
            default = self._defaults[name]
            exponents = np.asarray(getattr(task, name), dtype=np.float64)
            if exponents.size != default.size:
                raise ValueError(f"{name}: task has {exponents.size} exponents, the model {default.size}")
            getattr(self.model, name)[...] = default * base ** exponents.reshape(default.shape)
        if self._scratch is None:
            self._scratch = mujoco.MjData(self.model)
        mujoco.mj_setConst(self.model, self._scratch)

    def reset_noise(self) -> tuple[float, float, float, bool]:
        return -0.005, 0.005, 0.0, True

    def _observe(self) -> np.ndarray:
        return np.concatenate([self.data.qpos[1:], np.clip(self.data.qvel, -10.0, 10.0)]).astype(np.float32)

    def _snapshot(self) -> np.ndarray:
        return np.array([self.data.qpos[0]])

    def _reward(self, task: Task, before: np.ndarray, action: np.ndarray) -> float:
        x_velocity = (self.data.qpos[0] - before[0]) / self.dt
        return x_velocity + 1.0 - ctrl_cost(1e-3, action)

    def _terminated(self) -> bool:
        height, angle = self.data.qpos[1:3]
        return not (0.8 < height < 2.0 and -1.0 < angle < 1.0)


@dataclass(frozen=True, kw_only=True)
class WalkerRandParamsSuite(MujocoSuite):
    """``walker-rand-params``: randomized mass, inertia, damping, friction; horizon 200, 40/10 tasks."""

    name: str = "walker-rand-params"
    group: str = "parametric"
    n_train: int = 40
    n_test: int = 10
    description: str = "Walker2d with randomized mass, inertia, damping and friction (rand_param_envs)"
    # WalkerRandParamsEnv: 17-D observation, 6 actuators (module docstring).
    obs_dim: ClassVar[int | None] = 17
    act_dim: ClassVar[int | None] = 6

    def sample_tasks(self, rng: np.random.Generator, n: int, split: Split) -> list[Task]:
        model = compiled_model(XML_FILE)
        tasks: list[Task] = []
        for _ in range(n):
            u = [
                tuple(
                    float(x)
                    for x in rng.uniform(-LOG_SCALE_LIMIT, LOG_SCALE_LIMIT, size=getattr(model, p).size)
                )
                for p in PARAM_BASES
            ]
            tasks.append(
                RandParamsTask(body_mass=u[0], body_inertia=u[1], dof_damping=u[2], geom_friction=u[3])
            )
        return tasks

    def _build_env(self, task: Task) -> gym.Env:
        return WalkerRandParamsEnv(task, self.horizon)


WALKER_RAND_PARAMS = register_suite(WalkerRandParamsSuite())
