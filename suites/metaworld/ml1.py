"""Meta-World ML1 suites: ``ml1-{reach,push,pick-place}-{v1,v2}`` (groups ``metaworld-v1``, ``metaworld-v2``).

Each suite is one Meta-World ML1 benchmark (Yu et al., CoRL 2019) on the metaworld 3.x *v3* environments
(``reach-v3``, ``push-v3``, ``pick-place-v3``), with the reward selected by ``reward_function_version``:

* ``-v1`` suites: the original reward (a pick-place-style shaping reused across tasks; what papers that
  report "Meta-World v1" numbers optimised). Its scale differs from v2 by orders of magnitude and it can be
  negative (push, pick-place): never mix v1 and v2 results;
* ``-v2`` suites: the updated per-task shaped rewards in [0, 10] ("Meta-World v2" papers).

Tasks. ``metaworld.ML1(env_name, seed=s)`` draws 50 train and 50 test goal configurations (test with numpy
seed ``s + 1``, so the splits are disjoint almost surely). ``train_tasks(seed, n)`` is the first ``n`` of
``ML1(env_name, seed=seed).train_tasks`` and ``test_tasks(seed, n)`` the first ``n`` of its test tasks:
the harness seed *is* the ML1 seed, as in Meta-World's own examples. More than 50 tasks per split raise
``ValueError``. A task record (:class:`MetaWorldTask`) stores the env name, ML1 seed, split, index and the
task's ``rand_vec`` (object start xyz + goal xyz, 6 numbers; also the oracle's ``vector()``);
``make_env`` looks the task up again in ``ML1(env_name, seed)`` (cached per process) and refuses to run if
the installed metaworld generates a different ``rand_vec`` (a silent change of the task distribution).

Envs. Observation: Meta-World's 39-D state (hand xyz, gripper opening, two objects' pose padded to 14,
the same 18 numbers of the previous step, then the goal xyz), float32. As in ML1 the goal is hidden: the
last 3 entries are always 0 (``partially_observable=True``). Actions: 4-D in [-1, 1] (hand xyz delta,
gripper). Horizon 500 steps (metaworld v3 ``max_path_length``; the env truncates at step 500 and raises if
stepped further; Meta-World v1 papers used 150). Episodes never terminate on success; ``info["success"]``
(bool) is set on every step and the harness scores an episode as successful if it is set at any step.
Resets are deterministic given the task (the object start and goal come from the task's ``rand_vec``).

Caveat: ``metaworld.ML1`` seeds numpy's *global* RNG while it draws goals and restores its state afterwards;
nothing else here touches a global RNG. Measured on one CPU core (metaworld 3.1.1, mujoco 3.3): ML1
construction ~0.8 s (cached), env construction ~0.09 s, reset ~6 ms, 2,900 (push, pick-place) to 6,000
(reach) random-action steps per second.
"""

from __future__ import annotations

import functools
import pickle
from dataclasses import dataclass
from importlib import metadata
from typing import Any, ClassVar, Literal

import gymnasium as gym
import metaworld
import numpy as np

from harness.registry import register_suite
from harness.suite import Split, Suite, Task

#: Goal configurations per split in Meta-World ML1 (``metaworld._N_GOALS``).
ML1_TASKS_PER_SPLIT = 50
#: Episode length of the metaworld v3 environments (``SawyerXYZEnv.max_path_length``).
MAX_PATH_LENGTH = 500

#: Observation (hand, gripper, objects, previous step, hidden goal), action and ``rand_vec`` sizes.
OBS_DIM, ACT_DIM, TASK_DIM = 39, 4, 6

RewardVersion = Literal["v1", "v2"]


@dataclass(frozen=True, kw_only=True)
class MetaWorldTask(Task):
    """One ML1 goal configuration: task ``index`` of ``split`` in ``metaworld.ML1(env_name, seed=ml1_seed)``.

    ``rand_vec`` is Meta-World's task vector: object start position (xyz, metres) then goal position (xyz).
    """

    env_name: str
    ml1_seed: int
    split: str
    index: int
    rand_vec: tuple[float, ...]

    def vector(self) -> np.ndarray:
        """The task's ``rand_vec`` as float32, shape ``[6]``."""
        return np.asarray(self.rand_vec, dtype=np.float32)


@functools.lru_cache(maxsize=16)
def ml1_benchmark(env_name: str, seed: int) -> metaworld.ML1:
    """``metaworld.ML1(env_name, seed=seed)``, built once per process (construction takes ~0.8 s)."""
    return metaworld.ML1(env_name, seed=seed)


def _split_tasks(env_name: str, seed: int, split: Split) -> list[Any]:
    bench = ml1_benchmark(env_name, seed)
    return list(bench.train_tasks if split == "train" else bench.test_tasks)


def _rand_vec(mw_task: Any) -> np.ndarray:
    """The ``rand_vec`` stored in a metaworld Task (the format metaworld's own ``set_task`` reads)."""
    return np.asarray(pickle.loads(mw_task.data)["rand_vec"], dtype=np.float64)


def ml1_tasks(env_name: str, seed: int, split: Split, n: int) -> list[Task]:
    """Task records of the first ``n`` tasks of ``split`` in ``ML1(env_name, seed)``."""
    mw_tasks = _split_tasks(env_name, seed, split)
    if n > len(mw_tasks):
        raise ValueError(f"ML1 {env_name} has only {len(mw_tasks)} {split} tasks, asked for {n}")
    return [
        MetaWorldTask(
            env_name=env_name,
            ml1_seed=seed,
            split=split,
            index=i,
            rand_vec=tuple(float(x) for x in _rand_vec(mw_task)),
        )
        for i, mw_task in enumerate(mw_tasks[:n])
    ]


def metaworld_task(task: MetaWorldTask) -> Any:
    """The metaworld ``Task`` a record refers to; raises if the installed metaworld disagrees."""
    mw_tasks = _split_tasks(task.env_name, task.ml1_seed, "train" if task.split == "train" else "test")
    mw_task = mw_tasks[task.index]
    if not np.array_equal(_rand_vec(mw_task), np.asarray(task.rand_vec, dtype=np.float64)):
        raise RuntimeError(
            f"metaworld {metadata.version('metaworld')} generates a different {task.split} task "
            f"{task.index} for ML1({task.env_name!r}, seed={task.ml1_seed}) than the one recorded "
            f"({task.rand_vec}); "
            "the installed metaworld version does not match the one the task was drawn with"
        )
    return mw_task


class MetaWorldEnv(gym.Wrapper[np.ndarray, np.ndarray, np.ndarray, np.ndarray]):
    """A metaworld v3 env with its task set, following the harness env contract.

    Casts observations to float32, adds ``info["task"]`` (the :class:`MetaWorldTask`) and turns
    ``info["success"]`` into a bool (also present after reset, as False). ``reset(seed=s)`` reseeds the
    env's RNG with ``s``. The wrapped env truncates at step 500 and raises if stepped again before a reset.
    """

    def __init__(self, env: gym.Env, task: MetaWorldTask) -> None:
        super().__init__(env)
        space = env.observation_space
        assert isinstance(space, gym.spaces.Box)
        self.observation_space = gym.spaces.Box(
            space.low.astype(np.float32), space.high.astype(np.float32), dtype=np.float32
        )
        self.task = task

    @property
    def current_task(self) -> MetaWorldTask:
        """The task governing the next step (constant within an episode)."""
        return self.task

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict]:
        if seed is not None:
            self.env.unwrapped.seed(seed)  # type: ignore[attr-defined]  # metaworld ignores reset(seed=)
        obs, info = self.env.reset()
        info["task"] = self.task
        info["success"] = False
        return np.asarray(obs, dtype=np.float32), info

    def step(self, action: np.ndarray) -> tuple[Any, float, bool, bool, dict]:
        action = np.clip(np.asarray(action, dtype=np.float32).reshape(-1), -1.0, 1.0)
        obs, reward, terminated, truncated, info = self.env.step(action)
        info["task"] = self.task
        info["success"] = bool(info["success"])
        return np.asarray(obs, dtype=np.float32), float(reward), bool(terminated), bool(truncated), info


@dataclass(frozen=True, kw_only=True)
class ML1Suite(Suite):
    """One Meta-World ML1 benchmark with a chosen reward version; see the module docstring.

    Attributes:
        env_name: metaworld v3 environment, e.g. ``reach-v3``.
        reward_version: ``v1`` (original reward) or ``v2`` (updated per-task rewards).
    """

    env_name: str
    reward_version: RewardVersion
    horizon: int = MAX_PATH_LENGTH
    n_train: int = ML1_TASKS_PER_SPLIT
    n_test: int = ML1_TASKS_PER_SPLIT
    metric: Literal["return", "success"] = "success"

    max_tasks: ClassVar[int | None] = ML1_TASKS_PER_SPLIT
    # Constants of Meta-World's Sawyer envs, declared so that ``spec`` builds no benchmark (~1 s);
    # ``tests/suites/test_contract.py`` checks them against an env.
    obs_dim: ClassVar[int | None] = OBS_DIM
    act_dim: ClassVar[int | None] = ACT_DIM
    task_dim: ClassVar[int | None] = TASK_DIM

    def _tasks(self, seed: int, n: int | None, split: Split) -> list[Task]:
        # The harness seed is the ML1 seed (not a derived stream), as in Meta-World's examples.
        return ml1_tasks(self.env_name, seed, split, self._check_request(seed, n, split))

    def sample_tasks(self, rng: np.random.Generator, n: int, split: Split) -> list[Task]:
        """``n`` tasks of ``split`` from ML1 seeded with a draw from ``rng`` (``train_tasks`` and
        ``test_tasks`` use the run seed as the ML1 seed instead)."""
        return ml1_tasks(self.env_name, int(rng.integers(0, 2**31 - 1)), split, n)

    def make_env(self, task: Task, seed: int) -> gym.Env:
        if not isinstance(task, MetaWorldTask) or task.env_name != self.env_name:
            raise ValueError(f"{self.name}: expected a MetaWorldTask of {self.env_name}, got {task!r}")
        cls = ml1_benchmark(task.env_name, task.ml1_seed).train_classes[task.env_name]
        raw = cls(reward_function_version=self.reward_version)
        if raw.max_path_length != self.horizon:
            raise RuntimeError(f"{self.env_name}: max_path_length {raw.max_path_length} != {self.horizon}")
        raw.set_task(metaworld_task(task))  # takes effect at the next reset
        env = MetaWorldEnv(raw, task)
        env.reset(seed=seed)
        return env


_ENVS: dict[str, str] = {"reach": "reach-v3", "push": "push-v3", "pick-place": "pick-place-v3"}
#: The MoSS paper's schedule on ML1 push (appendix, "Hyperparameters"): 50 training tasks x 800 initial
#: transitions + 2501 epochs x 30 tasks x 800 transitions (the paper prints none for reach and pick-place).
PAPER_BUDGETS: dict[str, int] = {"push": 50 * 800 + 2501 * 30 * 800}
_REWARD_TEXT: dict[str, str] = {"v1": "original v1 reward", "v2": "v2 reward"}


def _make_suites() -> list[ML1Suite]:
    suites = []
    for version in ("v1", "v2"):
        for short, env_name in _ENVS.items():
            suites.append(
                ML1Suite(
                    name=f"ml1-{short}-{version}",
                    group=f"metaworld-{version}",
                    env_name=env_name,
                    reward_version=version,  # type: ignore[arg-type]
                    description=f"Meta-World ML1 {env_name}, {_REWARD_TEXT[version]}, hidden goal positions",
                    paper_budget=PAPER_BUDGETS.get(short),
                )
            )
    return suites


ML1_SUITES: tuple[ML1Suite, ...] = tuple(_make_suites())
for _suite in ML1_SUITES:
    register_suite(_suite)
