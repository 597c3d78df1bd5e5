"""Shared machinery of the MuJoCo suites: a task env on gymnasium's ``MujocoEnv`` and suite base classes.

:class:`MujocoTaskEnv` loads one of gymnasium's v5 model files (``gymnasium/envs/mujoco/assets``; the
compiled ``MjModel`` is cached per file and copied per env, so ``make_env`` does not re-read XML), exposes
actions in ``[-1, 1]`` (clipped, then mapped affinely onto the model's ``ctrlrange``), returns float32
observations, truncates at the suite's horizon inside the env (so the outermost env keeps ``current_task``),
and computes rewards with the subclass's ``_reward`` from the env's own state before and after the step.
"""

from __future__ import annotations

import copy
import functools
import os
from abc import abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, cast

import gymnasium as gym
import mujoco
import numpy as np
from gymnasium.envs.mujoco.mujoco_env import MujocoEnv

from harness.seeding import check_seed
from harness.suite import NonStationary, Suite, Task, TaskEnv

ASSETS_DIR = os.path.join(os.path.dirname(gym.__file__), "envs", "mujoco", "assets")


@functools.cache
def compiled_model(xml_file: str) -> mujoco.MjModel:
    """The ``MjModel`` compiled from gymnasium's asset ``xml_file`` (cached; never mutate it, copy it)."""
    return mujoco.MjModel.from_xml_path(os.path.join(ASSETS_DIR, xml_file))


def mass_center_xy(model: mujoco.MjModel, data: mujoco.MjData) -> np.ndarray:
    """Mass-weighted mean of the bodies' centres of mass (``xipos``), x and y only, shape ``[2]`` (m)."""
    mass = model.body_mass[:, None]
    return (np.sum(mass * data.xipos, axis=0) / np.sum(mass))[:2].copy()


class MujocoTaskEnv(TaskEnv, MujocoEnv):
    """A gymnasium ``MujocoEnv`` whose reward is defined by a :class:`Task` (see the module docstring).

    Subclasses set ``xml_file``, ``frame_skip_default``, ``task_types`` and implement ``_observe``,
    ``_snapshot`` (state needed before the step), ``_reward`` and optionally ``_terminated``,
    ``_apply_task`` and ``reset_noise``.

    Attributes:
        horizon: steps after which ``step`` returns ``truncated=True``.
        contact_forces: whether ``data.cfrc_ext`` is computed after every step (``mj_rnePostConstraint``);
            only suites whose reward or observation reads contact forces pay for it.
    """

    xml_file: ClassVar[str]
    frame_skip_default: ClassVar[int]
    task_types: ClassVar[tuple[type[Task], ...]]
    contact_forces: ClassVar[bool] = False
    _dt: float | None = None
    metadata = {"render_modes": ["human", "rgb_array", "depth_array"]}  # noqa: RUF012 (gym API)

    def __init__(self, task: Task, horizon: int) -> None:
        self._check_task(task)
        TaskEnv.__init__(self, task)
        self.horizon = horizon
        self._t = 0
        MujocoEnv.__init__(self, self.xml_file, self.frame_skip_default, observation_space=None)
        self.metadata = {**type(self).metadata, "render_fps": round(1.0 / self.dt)}
        low, high = self.model.actuator_ctrlrange.T.copy()
        self._ctrl_mid = (high + low) / 2.0
        self._ctrl_half = (high - low) / 2.0
        self.action_space = gym.spaces.Box(-1.0, 1.0, shape=(self.model.nu,), dtype=np.float32)
        obs_dim = self._observe().shape[0]
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, shape=(obs_dim,), dtype=np.float32)
        self._apply_task(task)

    @property
    def dt(self) -> float:
        """Seconds per control step, ``timestep * frame_skip``: ``MujocoEnv.dt``'s value, computed once
        (that property reads the model's options on every call; no task changes the timestep)."""
        if self._dt is None:
            self._dt = self.model.opt.timestep * self.frame_skip
        return self._dt

    # ------------------------------------------------------------------------------------ MujocoEnv hooks

    def _initialize_simulation(self) -> tuple[mujoco.MjModel, mujoco.MjData]:
        model = copy.deepcopy(compiled_model(self.xml_file))
        return model, mujoco.MjData(model)

    def _set_action_space(self) -> gym.spaces.Box:
        # Replaced in __init__ by the [-1, 1] box; MujocoEnv calls this before we know the ctrl range.
        self.action_space = gym.spaces.Box(-1.0, 1.0, shape=(self.model.nu,), dtype=np.float32)
        return self.action_space

    def _step_mujoco_simulation(self, ctrl: np.ndarray, n_frames: int) -> None:
        self.data.ctrl[:] = ctrl
        mujoco.mj_step(self.model, self.data, nstep=n_frames)
        if self.contact_forces:
            mujoco.mj_rnePostConstraint(self.model, self.data)

    # ------------------------------------------------------------------------------------------- task

    def _check_task(self, task: Task) -> None:
        if not isinstance(task, self.task_types):
            names = ", ".join(t.__name__ for t in self.task_types)
            raise TypeError(f"{type(self).__name__} takes tasks of type {names}, got {type(task).__name__}")

    def set_task(self, task: Task) -> None:
        """Change the task in place (reward and, for parameter tasks, the model) from the next step on."""
        self._check_task(task)
        self.task = task
        self._apply_task(task)

    def _apply_task(self, task: Task) -> None:
        """Write task-dependent model parameters (only the dynamics-varying suites need it)."""

    # ---------------------------------------------------------------------------------------- episode

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict]:
        obs, _ = MujocoEnv.reset(self, seed=seed, options=options)
        self._t = 0
        return obs, {"task": self.task}

    def reset_model(self) -> np.ndarray:
        lo, hi, vel_std, vel_uniform = self.reset_noise()
        qpos = self.init_qpos + self.np_random.uniform(lo, hi, size=self.model.nq)
        if vel_uniform:
            qvel = self.init_qvel + self.np_random.uniform(lo, hi, size=self.model.nv)
        else:
            qvel = self.init_qvel + vel_std * self.np_random.standard_normal(self.model.nv)
        self.set_state(qpos, qvel)
        if self.contact_forces:
            mujoco.mj_rnePostConstraint(self.model, self.data)
        return self._observe()

    def reset_noise(self) -> tuple[float, float, float, bool]:
        """``(low, high, vel_std, vel_uniform)``: qpos += U(low, high); qvel += vel_std * N(0, 1), or
        U(low, high) when ``vel_uniform``. Default: the gym/oyster HalfCheetah and Ant noise."""
        return -0.1, 0.1, 0.1, False

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict]:  # type: ignore[override]
        """One control step: action in [-1, 1] (clipped), ``frame_skip`` physics steps, task reward."""
        # np.minimum/np.maximum: np.clip's values (NaN included) without its Python-level dispatch.
        a = np.minimum(np.maximum(np.asarray(action, dtype=np.float64).reshape(self.model.nu), -1.0), 1.0)
        before = self._snapshot()
        # MujocoEnv.do_simulation only re-checks the control's shape (fixed by the reshape above).
        self._step_mujoco_simulation(self._ctrl_mid + self._ctrl_half * a, self.frame_skip)
        self._t += 1
        reward = float(self._reward(self.task, before, a))
        terminated = bool(self._terminated())
        return self._observe(), reward, terminated, self._t >= self.horizon, {"task": self.task}

    # ------------------------------------------------------------------------------ subclass interface

    @abstractmethod
    def _observe(self) -> np.ndarray:
        """The observation (float32, fixed length) from the current ``self.data``."""

    @abstractmethod
    def _snapshot(self) -> np.ndarray:
        """Whatever the reward needs from the state before the step (copied)."""

    @abstractmethod
    def _reward(self, task: Task, before: np.ndarray, action: np.ndarray) -> float:
        """Reward of the step that just happened; ``action`` is the clipped action in [-1, 1]."""

    def _terminated(self) -> bool:
        """True termination after the step (default: never)."""
        return False


def ctrl_cost(weight: float, action: np.ndarray) -> float:
    """``weight * sum(action**2)``."""
    return weight * float(np.add.reduce(np.square(action)))  # = np.sum, without its dispatch


def contact_cost(data: mujoco.MjData) -> float:
    """PEARL/gym Ant contact cost ``0.5e-3 * sum(clip(cfrc_ext, -1, 1)**2)`` over every body."""
    return 0.5e-3 * float(np.sum(np.square(np.clip(data.cfrc_ext, -1.0, 1.0))))


# ------------------------------------------------------------------------------------------------ suites


@dataclass(frozen=True, kw_only=True)
class MujocoSuite(Suite):
    """Base of the MuJoCo suites: ``make_env`` builds ``_build_env(task)`` and resets it with ``seed``."""

    horizon: int = 200

    @abstractmethod
    def _build_env(self, task: Task) -> gym.Env:
        """An un-reset env for ``task``."""

    def make_env(self, task: Task, seed: int) -> gym.Env:
        check_seed(seed)
        env = self._build_env(task)
        env.reset(seed=seed)
        return env


@dataclass(frozen=True, kw_only=True)
class NonStationaryMixin:
    """Mixin for a :class:`MujocoSuite`: the task is re-drawn every ``period`` steps w.p. ``p_switch``.

    List it *before* the stationary suite (``class X(NonStationaryMixin, CheetahVelSuite)``) so its field
    defaults (horizon 600) win. Subclasses implement ``redraw(rng, current)``, which must return a task
    different from ``current``; the schedule is :class:`harness.suite.NonStationary`'s.
    """

    horizon: int = 600
    nonstationary: bool = True
    period: int = 100
    p_switch: float = 0.5

    @abstractmethod
    def redraw(self, rng: np.random.Generator, current: Task) -> Task:
        """A new task, different from ``current``, drawn from ``rng`` only."""

    def make_env(self, task: Task, seed: int) -> gym.Env:
        check_seed(seed)
        redraw: Callable[[np.random.Generator, Task], Task] = self.redraw
        inner = cast(MujocoSuite, self)._build_env(task)
        env = NonStationary(inner, redraw, self.period, self.p_switch)
        env.reset(seed=seed)
        return env
