"""The suite contract: a task distribution with seeded train/test splits and an env factory.

A **task** is a small frozen record (target velocity, direction, goal, physical parameters, sub-task id).
It can be written to results (``as_dict``) and has a fixed-length numeric encoding (``vector``) that only
the oracle baseline and the analysis layer may read.

A **suite** is a frozen dataclass. ``train_tasks(seed, n)`` and ``test_tasks(seed, n)`` are pure functions of
the seed; ``make_env(task, seed)`` returns a gymnasium env that follows the env contract below.

Env contract (every suite env, checked by ``tests/suites``):

* observation space: ``Box`` of shape ``(obs_dim,)``, float32; action space: ``Box`` of shape ``(act_dim,)``
  with bounds **[-1, 1]** (suites rescale where the underlying model uses other bounds);
* ``reset(seed=...)`` returns ``(obs, info)`` and ``step(a)`` returns ``(obs, reward, terminated,
  truncated, info)``; the episode is truncated at ``suite.horizon`` steps at the latest;
* ``info["task"]`` is the :class:`Task` that governed this step's reward (after reset: the initial task).
  It is ground truth for analysis only: no method reads it (the collector never passes it on);
* the outermost env's ``current_task`` attribute is the task that will govern the *next* step (it differs
  from ``info["task"]`` only right before a non-stationary switch takes effect); for the oracle the
  harness appends ``current_task.vector()`` to the observation;
* ``info["success"]`` (bool) on suites whose metric is ``success``.
"""

from __future__ import annotations

import dataclasses
import functools
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import gymnasium as gym
import numpy as np

from harness.seeding import check_seed, derive_rng, derive_seed

Metric = Literal["return", "success"]
Split = Literal["train", "test"]


@dataclass(frozen=True, kw_only=True)
class Task(ABC):
    """Base class of task records: a frozen dataclass of plain numbers and strings.

    ``base_id`` is the index of the qualitatively different base task (multi-task suites); it is 0 where a
    suite has a single family.
    """

    base_id: int = 0

    def as_dict(self) -> dict[str, Any]:
        """Plain-dict form for results files: the fields plus ``kind`` (the class name)."""
        return {"kind": type(self).__name__, **dataclasses.asdict(self)}

    @abstractmethod
    def vector(self) -> np.ndarray:
        """Fixed-length float32 encoding of the task (same length for every task of a suite)."""


@dataclass(frozen=True)
class EnvSpec:
    """Dimensions of a suite's envs. ``task_dim`` is the length of ``Task.vector()``."""

    obs_dim: int
    act_dim: int
    task_dim: int


@dataclass(frozen=True, kw_only=True)
class Suite(ABC):
    """A task distribution. Subclasses implement ``sample_tasks`` and ``make_env``.

    Attributes:
        name: CLI name, e.g. ``cheetah-vel``.
        group: group name, e.g. ``parametric``.
        horizon: maximum steps per episode.
        metric: ``return`` or ``success`` (success at any step of an episode).
        n_train: default number of training tasks (the paper's).
        n_test: default number of test tasks (the paper's).
        nonstationary: whether the task changes inside an episode.
        description: one line for ``harness list``.
        paper_budget: env steps of the reference paper's schedule on this suite (the MoSS paper's
            hyperparameter table), the ``paper`` profile's budget; None where the paper gives none.
    """

    name: str
    group: str
    horizon: int
    n_train: int
    n_test: int
    metric: Metric = "return"
    nonstationary: bool = False
    description: str = ""
    paper_budget: int | None = None

    #: Largest number of tasks a split can hold (finite benchmarks such as Meta-World ML1 set it).
    max_tasks: ClassVar[int | None] = None
    #: Declared observation and action sizes (``None``: measured on a built env, see :attr:`spec`). Every
    #: built-in suite declares them, so ``harness list`` builds no env; ``tests/suites/test_contract.py``
    #: checks each declaration against a built env. Subclasses inherit them: one that changes the env's
    #: spaces must declare its own (or ``None``).
    obs_dim: ClassVar[int | None] = None
    act_dim: ClassVar[int | None] = None
    #: Declared length of ``Task.vector()`` (``None``: read from one training task, which builds no env).
    task_dim: ClassVar[int | None] = None

    # --------------------------------------------------------------------------------------- tasks

    @abstractmethod
    def sample_tasks(self, rng: np.random.Generator, n: int, split: Split) -> list[Task]:
        """Draw ``n`` tasks of ``split`` from ``rng``. Must not touch any other RNG."""

    def _check_request(self, seed: int, n: int | None, split: Split) -> int:
        """Validate a task request (``ValueError`` naming the problem); return the number of tasks."""
        check_seed(seed)
        n = (self.n_train if split == "train" else self.n_test) if n is None else n
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise ValueError(f"{self.name}: number of {split} tasks must be a positive integer, got {n!r}")
        if self.max_tasks is not None and n > self.max_tasks:
            raise ValueError(
                f"{self.name}: asked for {n} {split} tasks but the benchmark has only {self.max_tasks}"
            )
        return int(n)

    def _tasks(self, seed: int, n: int | None, split: Split) -> list[Task]:
        n = self._check_request(seed, n, split)
        return self.sample_tasks(derive_rng(seed, "tasks", self.name, split), n, split)

    def train_tasks(self, seed: int, n: int | None = None) -> list[Task]:
        """Training tasks: a pure function of ``seed`` (``n`` defaults to ``n_train``)."""
        return self._tasks(seed, n, "train")

    def test_tasks(self, seed: int, n: int | None = None) -> list[Task]:
        """Test tasks: a pure function of ``seed`` (``n`` defaults to ``n_test``)."""
        return self._tasks(seed, n, "test")

    # ----------------------------------------------------------------------------------------- envs

    @abstractmethod
    def make_env(self, task: Task, seed: int) -> gym.Env:
        """A gymnasium env for ``task`` following the module's env contract, seeded with ``seed``."""

    @functools.cached_property
    def spec(self) -> EnvSpec:
        """Observation, action and task dimensions, computed once: the declared ``obs_dim``, ``act_dim``
        and ``task_dim`` where set; an env is built (:meth:`measure_spec`) only if ``obs_dim`` or
        ``act_dim`` is undeclared, and an undeclared ``task_dim`` is read from one training task."""
        if self.obs_dim is None or self.act_dim is None:
            return self.measure_spec()
        task_dim = self.task_dim
        if task_dim is None:
            task_dim = int(self.train_tasks(0, 1)[0].vector().shape[0])
        return EnvSpec(self.obs_dim, self.act_dim, task_dim)

    def achieved(self, obs: np.ndarray, next_obs: np.ndarray) -> np.ndarray | None:
        """What the agent achieved in each step, in the units of ``Task.vector()`` (e.g. the forward
        velocity when the task is a target velocity), so traces can show it beside the true task; None
        (the default) where the suite has no such quantity.

        Args:
            obs: ``[..., obs_dim (+ task_dim)]`` observations the actions were taken in (a task part appended
                for task-seeing methods is ignored).
            next_obs: the same shape, observations after the steps.

        Returns:
            ``[..., task_dim]`` float32, or None.
        """
        return None

    def measure_spec(self) -> EnvSpec:
        """Dimensions measured on an env built for the first training task of seed 0 (declarations
        ignored; the env is closed again)."""
        task = self.train_tasks(0, 1)[0]
        env = self.make_env(task, 0)
        try:
            obs_shape = env.observation_space.shape
            act_shape = env.action_space.shape
            assert obs_shape is not None and act_shape is not None
            return EnvSpec(int(np.prod(obs_shape)), int(np.prod(act_shape)), int(task.vector().shape[0]))
        finally:
            env.close()

    def summary(self) -> dict[str, Any]:
        """One row of ``harness list``."""
        spec = self.spec
        return {
            "name": self.name,
            "group": self.group,
            "horizon": self.horizon,
            "metric": self.metric,
            "n_train": self.n_train,
            "n_test": self.n_test,
            "obs_dim": spec.obs_dim,
            "act_dim": spec.act_dim,
            "description": self.description,
        }


# ------------------------------------------------------------------------------------ env building blocks


class TaskEnv(gym.Env[np.ndarray, np.ndarray]):
    """Optional base for suite envs: holds the task (``task``, ``current_task``, ``set_task``).

    Subclasses implement ``reset``/``step`` and put ``self.task`` into ``info["task"]``.
    """

    def __init__(self, task: Task) -> None:
        self.task = task

    @property
    def current_task(self) -> Task:
        return self.task

    def set_task(self, task: Task) -> None:
        """Change the task in place (used by :class:`NonStationary`)."""
        self.task = task


class NonStationary(gym.Wrapper[np.ndarray, np.ndarray, np.ndarray, np.ndarray]):
    """Re-draw the task inside an episode on a seeded schedule.

    At every ``period``-step boundary (before steps ``period, 2*period, ...``) the task is re-drawn with
    probability ``p_switch``; a re-draw always yields a task different from the current one (for a finite
    set of tasks: another member). The schedule is drawn from the wrapper's own RNG, seeded through
    ``reset(seed=...)``, so it is a pure function of the episode seed.

    The wrapped env must have ``set_task(task)``. ``current_task`` is the task for the *next* step, and
    ``info["task"]`` the one that produced the step's reward; ``info["switched"]`` marks the first step under
    a new task.
    """

    def __init__(
        self,
        env: gym.Env,
        sample_task: Callable[[np.random.Generator, Task], Task],
        period: int = 100,
        p_switch: float = 0.5,
    ) -> None:
        super().__init__(env)
        self._sample_task = sample_task
        self.period = period
        self.p_switch = p_switch
        self._rng = np.random.default_rng(0)
        self._t = 0
        self._task: Task | None = None
        self._just_switched = False
        self._initial_task: Task = env.unwrapped.task  # type: ignore[attr-defined]

    @property
    def current_task(self) -> Task:
        assert self._task is not None, "reset() first"
        return self._task

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict]:
        if seed is not None:
            self._rng = np.random.default_rng(derive_seed(seed, "nonstationary"))
        self._t = 0
        self._just_switched = False
        self._task = self._initial_task
        self.env.unwrapped.set_task(self._task)  # type: ignore[attr-defined]
        obs, info = self.env.reset(seed=seed, options=options)
        info["task"] = self._task
        return obs, info

    def step(self, action: np.ndarray) -> tuple[Any, float, bool, bool, dict]:
        assert self._task is not None, "reset() first"
        obs, reward, terminated, truncated, info = self.env.step(action)
        info["task"] = self._task
        info["switched"] = self._just_switched
        self._t += 1
        self._just_switched = False
        # Decide now whether the next step runs under a new task, so that ``current_task`` is exact.
        if self._t % self.period == 0 and self._rng.random() < self.p_switch:
            self._task = self._sample_task(self._rng, self._task)
            self.env.unwrapped.set_task(self._task)  # type: ignore[attr-defined]
            self._just_switched = True
        return obs, float(reward), terminated, truncated, info
