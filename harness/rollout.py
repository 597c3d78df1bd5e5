"""Batched rollouts: step ``N`` task environments in lock step with one policy call per step.

This is the single engine behind training collection (:class:`harness.collector.Collector`, which owns and
charges the budget: it gives :func:`run_trial` the steps left as a step limit) and evaluation
(:mod:`harness.evaluation`, no limit). Environments are never auto-reset:
an episode ends, the env waits (``active=False``) until every env of the batch has ended its episode, and
the next episode starts with an explicit ``reset(seed=...)``. No phantom "reset step" is ever taken,
stored or charged.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import gymnasium as gym
import numpy as np

from harness.agent import Agent, StepBatch
from harness.seeding import derive_seed

if TYPE_CHECKING:
    from harness.suite import Suite, Task


@dataclass
class Rollout:
    """Experience of ``N`` envs, ``T = episodes * horizon`` step slots each (padded, see ``active``).

    Attributes:
        obs: ``[N, T, obs_dim]`` float32 observations the actions were taken in.
        action: ``[N, T, act_dim]`` float32 actions.
        reward: ``[N, T]`` float32 rewards.
        next_obs: ``[N, T, obs_dim]`` float32 observations after the step.
        terminated: ``[N, T]`` bool, true terminations (no bootstrap).
        truncated: ``[N, T]`` bool, time-limit ends (bootstrap allowed).
        active: ``[N, T]`` bool, slots where a step really happened (padding is False).
        episode: ``[N, T]`` int, index of the episode within the trial (0..episodes-1).
        success: ``[N, T]`` bool, the env's success flag (False where the suite has none).
        task_ids: ``[N]`` int, index of each env's task in the collector's task list.
        switched: ``[N, T]`` bool, the first step under a new task inside an episode (the non-stationary
            wrapper's ``info["switched"]``; all False on stationary suites). It marks *segments*, the
            stretches of an episode under one task, by identity only: what the new task is stays hidden,
            as task records do. None (hand-built rollouts): no switch.
        task: ``[N, T, task_dim]`` float32, the task vector that produced each reward (zeros on padding);
            filled by the collector only for methods with ``privileged_task``, after acting, else None.
    """

    obs: np.ndarray
    action: np.ndarray
    reward: np.ndarray
    next_obs: np.ndarray
    terminated: np.ndarray
    truncated: np.ndarray
    active: np.ndarray
    episode: np.ndarray
    success: np.ndarray
    task_ids: np.ndarray
    switched: np.ndarray | None = None
    task: np.ndarray | None = None

    @property
    def num_steps(self) -> int:
        """Environment steps in the rollout (active slots)."""
        return int(self.active.sum())

    @property
    def done(self) -> np.ndarray:
        """``[N, T]`` bool: an episode ended at this slot."""
        return self.terminated | self.truncated

    def episode_returns(self) -> np.ndarray:
        """``[N, episodes]`` undiscounted return of each episode."""
        n_ep = int(self.episode.max()) + 1 if self.episode.size else 0
        out = np.zeros((self.reward.shape[0], n_ep), dtype=np.float64)
        for e in range(n_ep):
            out[:, e] = np.where(self.active & (self.episode == e), self.reward, 0.0).sum(axis=1)
        return out

    def episode_lengths(self) -> np.ndarray:
        """``[N, episodes]`` number of steps of each episode."""
        n_ep = int(self.episode.max()) + 1 if self.episode.size else 0
        return np.stack([(self.active & (self.episode == e)).sum(axis=1) for e in range(n_ep)], axis=1)

    def episode_success(self) -> np.ndarray:
        """``[N, episodes]`` bool: the success flag was set at any step of the episode."""
        n_ep = int(self.episode.max()) + 1 if self.episode.size else 0
        hit = self.success & self.active
        return np.stack([(hit & (self.episode == e)).any(axis=1) for e in range(n_ep)], axis=1)


@dataclass
class GroundTruth:
    """Per-step ground truth of a rollout, for the oracle and analysis only (never given to methods).

    Attributes:
        task_vector: ``[N, T, task_dim]`` float32, ``Task.vector()`` of the task that produced each reward.
        tasks: per env, per step slot, the :class:`Task` (None on padding).
    """

    task_vector: np.ndarray
    tasks: list[list[Task | None]] = field(default_factory=list)


class EnvPool:
    """Environments for a list of tasks, created on first use and seeded per episode.

    Every episode of env slot ``(task_id, copy)`` is reset with ``derive_seed(seed, stream, task_id,
    episode_counter)``, so a rollout is a pure function of the seed and the number of episodes already run
    on that task (which :meth:`state_dict` records for resuming).
    """

    def __init__(self, suite: Suite, tasks: Sequence[Task], seed: int, stream: str, task_obs: bool) -> None:
        self.suite = suite
        self.tasks = list(tasks)
        self.seed = seed
        self.stream = stream
        self.task_obs = task_obs
        self._envs: dict[tuple[int, int], gym.Env] = {}
        self.episodes_run = np.zeros(len(self.tasks), dtype=np.int64)

    def env(self, task_id: int, copy: int) -> gym.Env:
        key = (task_id, copy)
        if key not in self._envs:
            if not 0 <= task_id < len(self.tasks):
                raise IndexError(f"task id {task_id} out of range (0..{len(self.tasks) - 1})")
            seed = derive_seed(self.seed, self.stream, "make", task_id, copy)
            self._envs[key] = self.suite.make_env(self.tasks[task_id], seed)
        return self._envs[key]

    def observation(self, env: gym.Env, obs: Any) -> np.ndarray:
        obs = np.asarray(obs, dtype=np.float32).reshape(-1)
        if self.task_obs:
            task: Task = env.get_wrapper_attr("current_task")
            obs = np.concatenate([obs, task.vector().astype(np.float32)])
        return obs

    def observations(self, envs: Sequence[gym.Env], obs: Sequence[Any]) -> np.ndarray:
        """``[len(envs), obs_dim]``: :meth:`observation` of each env's raw observation, as rows."""
        if self.task_obs:
            return np.stack([self.observation(env, o) for env, o in zip(envs, obs, strict=True)])
        return np.asarray(obs, dtype=np.float32).reshape(len(obs), -1)

    def next_episode_seed(self, task_id: int) -> int:
        seed = derive_seed(self.seed, self.stream, "episode", task_id, int(self.episodes_run[task_id]))
        self.episodes_run[task_id] += 1
        return seed

    def close(self) -> None:
        for env in self._envs.values():
            env.close()
        self._envs.clear()

    def state_dict(self) -> dict[str, Any]:
        return {"episodes_run": self.episodes_run.copy()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.episodes_run = np.asarray(state["episodes_run"], dtype=np.int64).copy()


def run_trial(
    pool: EnvPool,
    task_ids: Sequence[int],
    agent: Agent,
    episodes: int,
    deterministic: bool,
    max_steps: int | None = None,
    record_truth: bool = False,
) -> tuple[Rollout, GroundTruth | None]:
    """Run ``episodes`` consecutive episodes on each of ``task_ids`` (one env each, in lock step).

    The agent gets ``reset(task_boundary=True)`` before the first episode and ``reset(False)`` between
    episodes. With ``max_steps``, stepping stops exactly when that many environment steps were taken (the
    remaining slots stay inactive; the last steps go to the first running envs); ``Rollout.num_steps``
    says how many were taken.

    Returns:
        The rollout ``[N, episodes * horizon, ...]`` and, with ``record_truth``, the per-step ground truth.
    """
    if episodes < 1:
        raise ValueError(f"episodes must be >= 1, got {episodes}")
    ids = np.asarray(task_ids, dtype=np.int64)
    n, horizon = len(ids), pool.suite.horizon
    copies: dict[int, int] = {}
    envs = []
    for tid in ids.tolist():
        envs.append(pool.env(tid, copies.get(tid, 0)))
        copies[tid] = copies.get(tid, 0) + 1
    spec = pool.suite.spec
    obs_dim = spec.obs_dim + (spec.task_dim if pool.task_obs else 0)
    t_max = episodes * horizon
    switched = np.zeros((n, t_max), bool)
    ro = Rollout(
        obs=np.zeros((n, t_max, obs_dim), np.float32),
        action=np.zeros((n, t_max, spec.act_dim), np.float32),
        reward=np.zeros((n, t_max), np.float32),
        next_obs=np.zeros((n, t_max, obs_dim), np.float32),
        terminated=np.zeros((n, t_max), bool),
        truncated=np.zeros((n, t_max), bool),
        active=np.zeros((n, t_max), bool),
        episode=np.zeros((n, t_max), np.int64),
        success=np.zeros((n, t_max), bool),
        task_ids=ids,
        switched=switched,
    )
    truth = (GroundTruth(np.zeros((n, t_max, spec.task_dim), np.float32), [[None] * t_max for _ in range(n)])
             if record_truth else None)
    slot = 0
    taken = 0
    for ep in range(episodes):
        if max_steps is not None and taken >= max_steps:
            break
        agent.reset(task_boundary=(ep == 0))
        obs = np.stack([pool.observation(env, env.reset(seed=pool.next_episode_seed(int(tid)))[0])
                        for env, tid in zip(envs, ids, strict=True)])
        running = np.ones(n, bool)
        for t in range(horizon):
            if max_steps is not None:
                allowed = max(max_steps - taken, 0)
                if allowed < running.sum():  # spend the last steps on the first running envs only
                    running &= np.cumsum(running) <= allowed
            if not running.any():
                break
            action = np.asarray(agent.act(obs, deterministic), dtype=np.float32).reshape(n, -1)
            # np.clip's values (NaN included) without its Python-level dispatch
            action = np.minimum(np.maximum(action, -1.0), 1.0)
            s = slot + t
            idx = np.flatnonzero(running).tolist()
            rows = list(action)
            steps = [envs[i].step(rows[i]) for i in idx]
            # One batched write per field instead of numpy scalar writes per env (same values and casts).
            next_obs = obs.copy()
            next_obs[idx] = pool.observations([envs[i] for i in idx], [st[0] for st in steps])
            reward = np.zeros(n, np.float32)
            reward[idx] = [st[1] for st in steps]
            term = np.zeros(n, bool)
            term[idx] = [bool(st[2]) for st in steps]
            trunc = np.zeros(n, bool)
            trunc[idx] = [bool(st[3]) or t == horizon - 1 for st in steps]
            trunc &= ~term
            ro.success[idx, s] = [bool(st[4].get("success", False)) for st in steps]
            switched[idx, s] = [bool(st[4].get("switched", False)) for st in steps]
            if truth is not None:
                for i, st in zip(idx, steps, strict=True):
                    task = st[4]["task"]
                    truth.tasks[i][s] = task
                    truth.task_vector[i, s] = task.vector()
            ro.obs[:, s], ro.action[:, s], ro.reward[:, s], ro.next_obs[:, s] = obs, action, reward, next_obs
            ro.terminated[:, s], ro.truncated[:, s] = term, trunc
            ro.active[:, s], ro.episode[:, s] = running, ep
            taken += len(idx)
            agent.observe(StepBatch(obs, action, reward, next_obs, term, trunc, running.copy()))
            running = running & ~(term | trunc)
            obs = next_obs
        slot += horizon
    return ro, truth
