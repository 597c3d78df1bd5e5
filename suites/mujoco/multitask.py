"""Non-parametric multi-task suites: ``cheetah-multi-task`` and ``ant-multi-task`` (group ``multitask``).

Reference: TIGR (lknak/tigr ``configs/paper/*.json``, ``rlkit/envs/*_multi_task_wrapper.py``); the env code
was read from the copy ``meta_rand_envs/half_cheetah_multi_env.py`` @ PhilippWidmann/cemrl-edited and the
table of ``ant_multi_env.py`` in ``shared/reference/suites.md``. Rewards are TIGR's normalized forms plus the
control term ``-0.05 * |a|^2``, computed from the state after the step; the task never changes within an
episode and the episodes never terminate (TIGR's default ``termination_possible=False``). Horizon 200.

``cheetah-multi-task`` (HalfCheetah env and 20-D observation of :mod:`suites.mujoco.cheetah`). The MoSS paper
names 4 base tasks (Cheetah-Velocity, -Goal, -Stand, -Jump); TIGR's flip sub-task is not among them. Base
ids and sub-tasks (7 variants):

* 0 velocity: ``velocity_forward`` ``v in [1, 5]``, ``velocity_backward`` ``v in [-5, -1]``;
  ``r = -|qvel[0] - v| / |v|``.
* 1 goal: ``goal_forward`` ``x in [5, 25]``, ``goal_backward`` ``x in [-25, -5]``;
  ``r = -|qpos[0] - x| / |x|``.
* 2 stand: ``stand_front`` ``s in [pi/6, pi/2]``, ``stand_back`` ``s in [-pi/2, -pi/6]``;
  ``r = -|qpos[2] - s| / |s|`` (root pitch, rad).
* 3 jump: ``jump`` ``vz in [1.5, 3]``; ``r = -||qvel[1]| - vz| / vz``.

Task vector: ``[one-hot(base_id, 4), target]`` (5-D). Counts: TIGR's 8-variant config uses 80 train / 40 test
(10 + 5 per variant); with our 7 variants that is **70 train / 35 test** (the paper's t-SNE shows 5 test
sub-tasks per variant).

``ant-multi-task`` (Ant ``ant.xml``, 29-D observation ``[qpos, qvel]``, see :mod:`suites.mujoco.ant`). The
paper names 3 base tasks (Ant-Velocity, -Goal, -Jump); TIGR's ``ant-all-task`` config has these 9 variants:

* 0 velocity: ``velocity_{right,left,up,down}``, target ``s = (v, 0), (-v, 0), (0, v), (0, -v)``,
  ``v in [1, 3]``; ``r = -|qvel[0:2] - s|^2 / |s|^2``.
* 1 goal: ``goal_{right,left,up,down}``, ``x in [5, 15]`` the same way; ``r = -|qpos[0:2] - s|^2 / |s|^2``.
* 2 jump: ``jump`` ``vz in [0.5, 2]``; ``r = -||qvel[2]| - vz| / vz``.

Task vector: ``[one-hot(base_id, 3), x, y, z]`` (6-D; velocity ``(vx, vy, 0)``, goal ``(gx, gy, 0)``, jump
``(0, 0, vz)``). Counts: TIGR's 90 train / 45 test (10 + 5 per variant).

Task lists. Task ``i`` of a split belongs to variant ``i mod k`` (variants ordered so that the first tasks
cover every base task: a 2-task smoke run still sees two base tasks). TIGR takes an interleaved ``linspace``
of each variant's range, shuffles it and gives the first part to training and the rest to test, so train
and test come from the same range and are disjoint. Our splits are drawn independently (any pair of sizes),
so we keep disjointness by construction: each range carries a lattice of ``2 * 500 + 1`` evenly spaced
points; training values are taken from the even points (both ends included), test values from the odd ones.
A split with ``c`` tasks of a variant takes ``c`` lattice points of its parity spread evenly over the range
with a seeded random offset (a jittered ``linspace``), in an order shuffled by the same seeded stream.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import gymnasium as gym
import numpy as np

from harness.registry import register_suite
from harness.suite import Split, Task
from suites.mujoco.ant import AntMultiEnv
from suites.mujoco.base import MujocoSuite
from suites.mujoco.cheetah import HalfCheetahTaskEnv
from suites.mujoco.tasks import AntMultiTask, CheetahMultiTask

#: Half the number of lattice intervals per variant range (the lattice has 2 * LATTICE_HALF + 1 points).
LATTICE_HALF = 500


def lattice_values(rng: np.random.Generator, low: float, high: float, count: int, split: Split) -> np.ndarray:
    """``count`` distinct values in ``[low, high]`` from the split's half of the lattice (shuffled).

    Training uses the even lattice points (``LATTICE_HALF + 1`` of them), test the odd ones
    (``LATTICE_HALF``), so the two splits never share a value.
    """
    positions = np.arange(0 if split == "train" else 1, 2 * LATTICE_HALF + 1, 2)
    if count > len(positions):
        raise ValueError(f"at most {len(positions)} {split} tasks per sub-task, asked for {count}")
    offset = rng.uniform(0.0, 1.0)
    chosen = positions[np.floor((np.arange(count) + offset) * len(positions) / count).astype(np.int64)]
    values = low + (high - low) * chosen / (2 * LATTICE_HALF)
    return rng.permutation(values)


@dataclass(frozen=True)
class Variant:
    """A sub-task family: its name, base id and the range ``[low, high]`` of its target value."""

    name: str
    base_id: int
    low: float
    high: float


def _counts(n: int, k: int) -> list[int]:
    """Tasks per variant when task ``i`` goes to variant ``i mod k``."""
    return [n // k + (j < n % k) for j in range(k)]


@dataclass(frozen=True, kw_only=True)
class _MultiTaskSuite(MujocoSuite):
    group: str = "multitask"
    variants: ClassVar[tuple[Variant, ...]]

    def sample_tasks(self, rng: np.random.Generator, n: int, split: Split) -> list[Task]:
        k = len(self.variants)
        values = [
            lattice_values(rng, v.low, v.high, c, split) if c else np.zeros(0)
            for v, c in zip(self.variants, _counts(n, k), strict=True)
        ]
        return [self._task(self.variants[i % k], float(values[i % k][i // k])) for i in range(n)]

    def _task(self, variant: Variant, value: float) -> Task:
        raise NotImplementedError


CHEETAH_VARIANTS = (
    Variant("velocity_forward", 0, 1.0, 5.0),
    Variant("goal_forward", 1, 5.0, 25.0),
    Variant("stand_front", 2, np.pi / 6, np.pi / 2),
    Variant("jump", 3, 1.5, 3.0),
    Variant("velocity_backward", 0, -5.0, -1.0),
    Variant("goal_backward", 1, -25.0, -5.0),
    Variant("stand_back", 2, -np.pi / 2, -np.pi / 6),
)


@dataclass(frozen=True, kw_only=True)
class CheetahMultiTaskSuite(_MultiTaskSuite):
    """``cheetah-multi-task``: 4 base tasks (velocity, goal, stand, jump), 7 variants, 70/35 tasks."""

    name: str = "cheetah-multi-task"
    n_train: int = 70
    n_test: int = 35
    description: str = "HalfCheetah, 4 base tasks: velocity, goal, stand, jump (fwd/back variants; TIGR)"
    variants: ClassVar[tuple[Variant, ...]] = CHEETAH_VARIANTS
    # HalfCheetahTaskEnv: 20-D observation, 6 actuators.
    obs_dim: ClassVar[int | None] = 20
    act_dim: ClassVar[int | None] = 6

    def _task(self, variant: Variant, value: float) -> Task:
        return CheetahMultiTask(base_id=variant.base_id, variant=variant.name, target=value)

    def _build_env(self, task: Task) -> gym.Env:
        return HalfCheetahTaskEnv(task, self.horizon)


#: Unit direction in the plane of the ant's velocity and goal targets, by variant suffix.
ANT_DIRECTIONS: dict[str, tuple[float, float]] = {
    "right": (1.0, 0.0),
    "left": (-1.0, 0.0),
    "up": (0.0, 1.0),
    "down": (0.0, -1.0),
}
_ANT_PLANAR = tuple(
    v
    for side in ANT_DIRECTIONS
    for v in (Variant(f"velocity_{side}", 0, 1.0, 3.0), Variant(f"goal_{side}", 1, 5.0, 15.0))
)
#: velocity_right, goal_right, jump, then the other three directions (first three tasks: every base task).
ANT_VARIANTS = (*_ANT_PLANAR[:2], Variant("jump", 2, 0.5, 2.0), *_ANT_PLANAR[2:])


@dataclass(frozen=True, kw_only=True)
class AntMultiTaskSuite(_MultiTaskSuite):
    """``ant-multi-task``: 3 base tasks (velocity, goal in 4 directions each; jump), 9 variants, 90/45."""

    name: str = "ant-multi-task"
    n_train: int = 90
    n_test: int = 45
    description: str = "Ant, 3 base tasks: velocity and goal (4 directions each), jump (TIGR)"
    variants: ClassVar[tuple[Variant, ...]] = ANT_VARIANTS
    # AntMultiEnv: 29-D observation ``[qpos, qvel]``, 8 actuators.
    obs_dim: ClassVar[int | None] = 29
    act_dim: ClassVar[int | None] = 8

    def _task(self, variant: Variant, value: float) -> Task:
        if variant.base_id == 2:
            return AntMultiTask(base_id=2, variant=variant.name, x=0.0, y=0.0, z=value)
        ux, uy = ANT_DIRECTIONS[variant.name.split("_")[1]]
        return AntMultiTask(base_id=variant.base_id, variant=variant.name, x=ux * value, y=uy * value, z=0.0)

    def _build_env(self, task: Task) -> gym.Env:
        return AntMultiEnv(task, self.horizon)


#: The MoSS paper's schedule on cheetah-multi-task (appendix, "Hyperparameters"): 70 training tasks x 200
#: initial transitions + 3001 epochs x 70 tasks x 200 transitions.
CHEETAH_MULTI_TASK_PAPER_BUDGET = 70 * 200 + 3001 * 70 * 200

CHEETAH_MULTI_TASK = register_suite(CheetahMultiTaskSuite(paper_budget=CHEETAH_MULTI_TASK_PAPER_BUDGET))
ANT_MULTI_TASK = register_suite(AntMultiTaskSuite())
