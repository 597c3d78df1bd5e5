"""Load a trained method back from a run directory (for analyses that need the agent, not just the frames).

``load_run(run_dir)`` rebuilds exactly what the runner trained: the suite and method from ``config.yaml``
(the resolved config, not today's defaults), the same train / test task split (``task_seed``), and the
method's parameters from ``checkpoint.pt`` (the state after the last completed iteration: for a finished
run, the final one). Example::

    run = load_run("results/quick/cheetah-vel/moss/seed=0")
    res = evaluate(run.method, run.suite, run.test_tasks, run.seed, episodes=1)
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from harness import store
from harness.agent import Agent
from harness.checkpoint import load_run_checkpoint
from harness.config import config_from_dict
from harness.context import RunContext, resolve_device
from harness.method import Method
from harness.registry import get_method, get_suite
from harness.rollout import EnvPool, Rollout, run_trial
from harness.suite import Suite, Task


@dataclass
class TrainedRun:
    """A run rebuilt from its directory.

    Attributes:
        run_dir: the run directory.
        record: the content of ``config.yaml``.
        suite: the suite the run trained on.
        method: the method, set up on the run's training tasks, with the checkpoint's parameters loaded.
        train_tasks: the run's training tasks.
        test_tasks: the run's test tasks (the ones its evaluations used).
        seed: the run's seed.
        env_steps: env steps the checkpoint had consumed.
    """

    run_dir: Path
    record: dict[str, Any]
    suite: Suite
    method: Method
    train_tasks: list[Task]
    test_tasks: list[Task]
    seed: int
    env_steps: int


def load_run(run_dir: str | Path, device: str = "auto") -> TrainedRun:
    """Rebuild the method of ``run_dir`` with its checkpointed parameters.

    Args:
        run_dir: ``<out>/<suite>/<method>/seed=<k>`` as written by ``harness run``.
        device: ``auto``, ``cpu``, ``cuda`` or ``cuda:N`` (checkpoints load on any of them).

    Raises:
        FileNotFoundError: the directory, its ``config.yaml`` or its ``checkpoint.pt`` is missing (a run
            killed before its first evaluation has no checkpoint yet).
        UnknownNameError: the suite or method is not registered (a plugin not imported).
        CheckpointError: ``checkpoint.pt`` is damaged, from an older harness, or not a harness checkpoint
            (it is read with ``weights_only=True``: nothing in it can run code).
    """
    path = Path(run_dir)
    config_path = path / store.CONFIG_FILE
    ckpt_path = path / store.CHECKPOINT_FILE
    if not path.is_dir():
        raise FileNotFoundError(f"run directory {str(path)!r} does not exist")
    if not config_path.is_file():
        raise FileNotFoundError(f"{str(path)!r} is not a run directory: it has no {store.CONFIG_FILE}")
    if not ckpt_path.is_file():
        raise FileNotFoundError(
            f"run {str(path)!r} has no {store.CHECKPOINT_FILE} (killed before its first evaluation?)"
        )
    record = store.read_yaml_file(config_path)
    if record is None:
        raise ValueError(f"{str(config_path)!r} is unreadable or not a YAML mapping")
    suite = get_suite(str(record["suite"]))
    method_cls = get_method(str(record["method"]))
    config = config_from_dict(method_cls.config_cls, record["config"])
    seed = int(record["seed"])
    task_seed = int(record.get("task_seed", 0))
    train_tasks = suite.train_tasks(task_seed, int(record["n_train_tasks"]))
    test_tasks = suite.test_tasks(task_seed, int(record["n_test_tasks"]))
    dev = resolve_device(device)
    ctx = RunContext(seed=seed, device=dev, run_dir=path, profile=str(record.get("profile", "quick")),
                     budget=int(record.get("budget", 0)))
    method = method_cls(config)
    method.setup(suite, train_tasks, ctx)
    ckpt = load_run_checkpoint(ckpt_path, dev)  # weights_only: a crafted checkpoint cannot run code
    method.load_state_dict(ckpt.method)
    return TrainedRun(
        run_dir=path, record=record, suite=suite, method=method, train_tasks=train_tasks,
        test_tasks=test_tasks, seed=seed, env_steps=ckpt.env_steps,
    )


def greedy_episodes(
    run: TrainedRun, tasks: list[Task], agent: Agent | None = None
) -> tuple[Rollout, np.ndarray]:
    """One greedy episode per task of a trained run, zero-shot, on the run's evaluation env seeds.

    ``agent`` acts in place of the run's own (e.g. its policy fed other beliefs, for an intervention); it
    must act on the same observations (with the task where the run sees it).

    A run that sees the task gets it in its observations as in training; the returned observations are cut
    to the suite's own ``obs_dim``, so rollouts of different methods on the same tasks compare (the env
    seeds and, on non-stationary suites, the switch schedule depend only on the run seed and the tasks).

    Returns:
        The rollout (``[N, T, ...]`` arrays, ``N = len(tasks)``) and the task vector in force at every step,
        ``[N, T, P]``.
    """
    pool = EnvPool(run.suite, tasks, run.seed, "eval", task_obs=bool(getattr(run.method, "sees_task", False)))
    try:
        acting = run.method.agent(len(tasks)) if agent is None else agent
        rollout, truth = run_trial(pool, list(range(len(tasks))), acting, 1, True, record_truth=True)
    finally:
        pool.close()
    if truth is None:  # record_truth=True always returns it
        raise RuntimeError("run_trial returned no task record")
    obs_dim = run.suite.spec.obs_dim
    return dataclasses.replace(rollout, obs=rollout.obs[..., :obs_dim],
                               next_obs=rollout.next_obs[..., :obs_dim]), truth.task_vector
