"""Task records of the MuJoCo suites (frozen dataclasses; ``vector()`` is the fixed-length encoding).

Each record holds only the numbers that define the reward or the dynamics. Which suite uses which record, and
how it is drawn, is documented in the suite modules (``cheetah``, ``ant``, ``walker``, ``humanoid``,
``multitask``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from harness.suite import Task


@dataclass(frozen=True, kw_only=True)
class VelocityTask(Task):
    """Run forward at ``velocity`` (m/s along x)."""

    velocity: float

    def vector(self) -> np.ndarray:
        """``[velocity]`` (1-D)."""
        return np.array([self.velocity], dtype=np.float32)


@dataclass(frozen=True, kw_only=True)
class DirectionTask(Task):
    """Run along x with sign ``direction`` (+1 forward, -1 backward)."""

    direction: float

    def vector(self) -> np.ndarray:
        """``[direction]`` (1-D)."""
        return np.array([self.direction], dtype=np.float32)


@dataclass(frozen=True, kw_only=True)
class PlanarDirectionTask(Task):
    """Run in the plane along the unit vector at ``angle`` (radians, from the +x axis)."""

    angle: float

    @property
    def unit(self) -> np.ndarray:
        """The direction ``(cos angle, sin angle)`` as float64, shape ``[2]``."""
        return np.array([np.cos(self.angle), np.sin(self.angle)])

    def vector(self) -> np.ndarray:
        """``[cos angle, sin angle]`` (2-D)."""
        return self.unit.astype(np.float32)


@dataclass(frozen=True, kw_only=True)
class GoalTask(Task):
    """Reach the planar goal ``(gx, gy)`` (metres)."""

    gx: float
    gy: float

    def vector(self) -> np.ndarray:
        """``[gx, gy]`` (2-D)."""
        return np.array([self.gx, self.gy], dtype=np.float32)


@dataclass(frozen=True, kw_only=True)
class RandParamsTask(Task):
    """Physical parameters of a model: per-element log-scale exponents ``u`` of the default values.

    The task's value of parameter ``p`` is ``default_p * base_p ** u_p`` (element-wise), with base 1.5 for
    ``body_mass``, ``body_inertia``, ``geom_friction`` and 1.3 for ``dof_damping``. Exponents are stored
    flattened in C order of the MuJoCo array (``body_inertia`` and ``geom_friction`` are ``[n, 3]``).
    """

    body_mass: tuple[float, ...]
    body_inertia: tuple[float, ...]
    dof_damping: tuple[float, ...]
    geom_friction: tuple[float, ...]

    def vector(self) -> np.ndarray:
        """All exponents concatenated in field order (mass, inertia, damping, friction)."""
        return np.concatenate(
            [self.body_mass, self.body_inertia, self.dof_damping, self.geom_friction]
        ).astype(np.float32)


@dataclass(frozen=True, kw_only=True)
class CheetahMultiTask(Task):
    """One sub-task of ``cheetah-multi-task``: ``variant`` (e.g. ``goal_backward``) with signed ``target``.

    ``base_id``: 0 velocity, 1 goal, 2 stand, 3 jump (see :mod:`suites.mujoco.multitask`).
    """

    variant: str
    target: float

    def vector(self) -> np.ndarray:
        """``[one-hot(base_id, 4), target]`` (5-D)."""
        one_hot = np.eye(4, dtype=np.float32)[self.base_id]
        return np.concatenate([one_hot, np.array([self.target], dtype=np.float32)])


@dataclass(frozen=True, kw_only=True)
class AntMultiTask(Task):
    """One sub-task of ``ant-multi-task``: ``variant`` with target ``(x, y, z)``.

    Velocity variants use ``(vx, vy, 0)`` (m/s), goal variants ``(gx, gy, 0)`` (m), jump ``(0, 0, vz)``
    (m/s). ``base_id``: 0 velocity, 1 goal, 2 jump.
    """

    variant: str
    x: float
    y: float
    z: float

    def vector(self) -> np.ndarray:
        """``[one-hot(base_id, 3), x, y, z]`` (6-D)."""
        one_hot = np.eye(3, dtype=np.float32)[self.base_id]
        return np.concatenate([one_hot, np.array([self.x, self.y, self.z], dtype=np.float32)])
