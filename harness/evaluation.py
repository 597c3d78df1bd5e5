"""The evaluation protocol, owned by the harness and identical for every method.

For each test task (all tasks in parallel, one env each) a fresh agent runs a *trial* of ``episodes``
consecutive episodes: ``reset(task_boundary=True)`` before the first, ``reset(False)`` between episodes, so
the belief is carried across the trial. Episode 0 is the zero-shot return; episode ``k-1`` the k-shot
return. Evaluation steps are never charged to the training budget, and evaluation envs are seeded from
their own stream (``eval``) so that evaluating does not change training.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from harness.rollout import EnvPool, run_trial

if TYPE_CHECKING:
    from harness.method import Method
    from harness.suite import Suite, Task


@dataclass
class EvalResult:
    """Scores of one evaluation.

    Attributes:
        returns: ``[n_tasks, episodes]`` undiscounted return per test task and episode index.
        success: ``[n_tasks, episodes]`` bool, success flag set at any step of the episode.
        lengths: ``[n_tasks, episodes]`` episode lengths in steps.
        traces: per-step frame (task_id, episode, t, reward, task vector, ``achieved`` where the suite
            defines :meth:`Suite.achieved`, and belief columns) when asked for.
    """

    returns: np.ndarray
    success: np.ndarray
    lengths: np.ndarray
    traces: pd.DataFrame | None = None

    def rows(self, tasks: list[Task], eval_index: int, env_steps: int, metric: str) -> list[dict[str, Any]]:
        """The ``eval.parquet`` rows of this evaluation: one per (test task, episode), task-major.

        Args:
            tasks: the test tasks evaluated (in the order of the result's rows).
            eval_index: which evaluation of the run this is.
            env_steps: training env steps consumed when it ran.
            metric: the suite's metric (written to every row).
        """
        rows = []
        for i, task in enumerate(tasks):
            task_json = json.dumps(task.as_dict())
            for e in range(self.returns.shape[1]):
                rows.append({
                    "eval_index": eval_index,
                    "env_steps": env_steps,
                    "task_id": i,
                    "task": task_json,
                    "episode": e,
                    "return": float(self.returns[i, e]),
                    "success": bool(self.success[i, e]),
                    "length": int(self.lengths[i, e]),
                    "metric": metric,
                })
        return rows

    @property
    def zero_shot(self) -> float:
        """Mean return of the first episode over tasks."""
        return float(self.returns[:, 0].mean())

    @property
    def final_episode(self) -> float:
        """Mean return of the last episode of the trial over tasks."""
        return float(self.returns[:, -1].mean())


class BeliefRecorder:
    """Wraps an agent to record ``belief()`` after every ``observe`` (for traces)."""

    def __init__(self, agent: object) -> None:
        self.agent = agent
        self.beliefs: list[dict[str, np.ndarray] | None] = []

    def reset(self, task_boundary: bool) -> None:
        self.agent.reset(task_boundary)  # type: ignore[attr-defined]

    def act(self, obs: np.ndarray, deterministic: bool) -> np.ndarray:
        return self.agent.act(obs, deterministic)  # type: ignore[attr-defined]

    def observe(self, step: object) -> None:
        self.agent.observe(step)  # type: ignore[attr-defined]
        b = self.agent.belief()  # type: ignore[attr-defined]
        self.beliefs.append(None if b is None else {k: np.array(v, copy=True) for k, v in b.items()})


def _trace_frame(rollout: object, truth: object, beliefs: list, suite: Suite) -> pd.DataFrame:
    from harness.rollout import GroundTruth, Rollout

    assert isinstance(rollout, Rollout) and isinstance(truth, GroundTruth)
    horizon = suite.horizon
    achieved = suite.achieved(rollout.obs, rollout.next_obs)  # [N, T, task_dim] or None
    n, t_max = rollout.reward.shape
    rows = []
    step_of_slot = {}  # slot -> index into beliefs (beliefs are appended once per executed slot)
    k = 0
    for s in range(t_max):
        if rollout.active[:, s].any():
            step_of_slot[s] = k
            k += 1
    for i in range(n):
        for s in range(t_max):
            if not rollout.active[i, s]:
                continue
            row: dict[str, object] = {
                "task_id": int(rollout.task_ids[i]),
                "episode": int(rollout.episode[i, s]),
                "t": int(s % horizon),
                "reward": float(rollout.reward[i, s]),
                "true_task": truth.task_vector[i, s].tolist(),
                "base_id": int(getattr(truth.tasks[i][s], "base_id", 0)),
            }
            if achieved is not None:
                row["achieved"] = achieved[i, s].tolist()
            b = beliefs[step_of_slot[s]] if s in step_of_slot and step_of_slot[s] < len(beliefs) else None
            if b is not None:
                for key, value in b.items():
                    row[f"belief_{key}"] = np.asarray(value[i], dtype=np.float32)  # list<float> in parquet
            rows.append(row)
    return pd.DataFrame(rows)


#: Most Meta-World envs alive at once in an evaluation (each holds its own Sawyer model, about 30 MB
#: resident): the 50 test tasks run in chunks of this many; other suites' envs are small and run all at once.
METAWORLD_EVAL_ENVS = 10


def eval_chunk_size(suite: Suite, n_tasks: int) -> int:
    """Test tasks evaluated at once on ``suite`` (all of them, except on Meta-World)."""
    from harness.profiles import suite_family

    return min(n_tasks, METAWORLD_EVAL_ENVS) if suite_family(suite) == "metaworld" else n_tasks


def evaluate(
    method: Method,
    suite: Suite,
    tasks: list[Task],
    seed: int,
    episodes: int,
    eval_index: int = 0,
    record_traces: bool = False,
    deterministic: bool = True,
    max_envs: int | None = None,
) -> EvalResult:
    """Run one evaluation trial of ``episodes`` episodes on every task of ``tasks``.

    Args:
        method: the trained method (its ``agent(len(tasks))`` is driven).
        suite: the suite the tasks belong to.
        tasks: test tasks (or training tasks, for diagnostics).
        seed: the run's seed.
        episodes: k, the episodes of a trial (belief carried across them).
        eval_index: which evaluation of the run this is (kept for callers' bookkeeping). Env seeds do
            not depend on it: every evaluation of a run (and every method run with the same seed) starts
            its test episodes from the same states, so scores differ only by what the agent does.
        record_traces: also return the per-step trace frame (reward, true task, belief).
        deterministic: greedy actions (the protocol's default).
        max_envs: most tasks (envs) run at once; more tasks run in consecutive chunks, each with a fresh
            agent and the same env seeds (default :func:`eval_chunk_size`: all at once except on
            Meta-World). A deterministic agent scores each task as in one batch, up to float rounding of
            batched products of another batch size; an agent drawing random numbers for all its envs at
            once (PEARL's prior z, the random policy) draws per chunk.
    """
    chunk = max(1, max_envs if max_envs is not None else eval_chunk_size(suite, len(tasks)))
    pool = EnvPool(suite, tasks, seed, "eval", task_obs=method.sees_task)
    parts: list[EvalResult] = []
    try:
        for lo in range(0, len(tasks), chunk):
            ids = list(range(lo, min(lo + chunk, len(tasks))))
            agent = method.agent(len(ids))
            recorder = BeliefRecorder(agent) if record_traces else None
            rollout, truth = run_trial(
                pool, ids, recorder or agent, episodes, deterministic,  # type: ignore[arg-type]
                record_truth=record_traces,
            )
            pool.close()  # this chunk's envs (the next chunk builds its own)
            traces = None
            if record_traces and recorder is not None:
                traces = _trace_frame(rollout, truth, recorder.beliefs, suite)
            parts.append(EvalResult(rollout.episode_returns(), rollout.episode_success(),
                                    rollout.episode_lengths(), traces))
    finally:
        pool.close()
    if len(parts) == 1:
        return parts[0]
    frames = [p.traces for p in parts if p.traces is not None]
    return EvalResult(np.concatenate([p.returns for p in parts]), np.concatenate([p.success for p in parts]),
                      np.concatenate([p.lengths for p in parts]),
                      pd.concat(frames, ignore_index=True) if frames else None)
