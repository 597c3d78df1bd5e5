"""MuJoCo suites (gymnasium v5 models, rewards computed from the env's own state).

Importing this package registers every suite: ``cheetah-vel``, ``cheetah-dir``, ``ant-dir``, ``ant-goal``,
``walker-rand-params``, ``humanoid-dir`` (parametric); ``cheetah-vel-ood``, ``ant-goal-ood`` (ood);
``cheetah-vel-nonstat``, ``cheetah-dir-nonstat``, ``ant-dir-nonstat`` (nonstationary);
``cheetah-multi-task``, ``ant-multi-task`` (multitask). Each module's docstring states rewards, task ranges,
horizons, observation layouts, task counts and the reference followed.
"""

# Registration order = listing order (cheetah, ant, walker, humanoid, then the multi-task suites).
from suites.mujoco import cheetah  # noqa: I001
from suites.mujoco import ant
from suites.mujoco import walker
from suites.mujoco import humanoid
from suites.mujoco import multitask
from suites.mujoco.tasks import (
    AntMultiTask,
    CheetahMultiTask,
    DirectionTask,
    GoalTask,
    PlanarDirectionTask,
    RandParamsTask,
    VelocityTask,
)

__all__ = [
    "AntMultiTask",
    "CheetahMultiTask",
    "DirectionTask",
    "GoalTask",
    "PlanarDirectionTask",
    "RandParamsTask",
    "VelocityTask",
    "ant",
    "cheetah",
    "humanoid",
    "multitask",
    "walker",
]
