"""Achieved versus target velocity of a trained agent on the HalfCheetah velocity suites.

It runs agents and reads the HalfCheetah observation layout, so it lives with the cheetah suites (the
analysis layer only reads results); ``scripts/cheetah_vel_tracking.py`` drives it on trained runs.

For ``cheetah-vel``, ``cheetah-vel-ood`` and ``cheetah-vel-nonstat`` the task is a target forward velocity,
so how well a method infers the task can be read directly off its gait: run the agent zero-shot on test
tasks and compare the velocity it reaches with the one it was asked for.

How the achieved velocity is measured, without touching the env: every cheetah observation ends with the
torso's world position (``obs[17]`` = torso x, see :mod:`suites.mujoco.cheetah`), so the forward velocity
of step t is ``(next_obs[t, 17] - obs[t, 17]) / dt`` with ``dt`` = 0.05 s. (MuJoCo's body positions lag the
joint positions by one 0.01 s physics substep, so this is the reward's velocity shifted by 0.01 s: single
steps of a jerky gait can differ from it by a few 0.1 m/s, episode means agree to about 0.01 m/s.) The
per-step absolute error that the reward penalises is read from the reward itself:
``|v_t - target_t| = -(r_t + 0.05 |a_t|^2)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from harness.analysis.nonstationary import linear_readout
from harness.evaluation import BeliefRecorder
from harness.rollout import EnvPool, run_trial
from suites.mujoco.cheetah import CTRL_WEIGHT, forward_velocity

if TYPE_CHECKING:
    from harness.method import Method
    from harness.suite import Suite, Task



@dataclass
class VelocityTracking:
    """Zero-shot velocity tracking on a list of tasks.

    Attributes:
        target: ``[N, T]`` target velocity of each step (m/s); constant per row except on non-stationary
            suites.
        achieved: ``[N, T]`` forward velocity of each step (m/s), from the torso displacement.
        abs_error: ``[N, T]`` ``|v_t - target_t|`` (m/s), exact, from the reward.
        belief_mean: ``[N, T, D]`` the agent's belief mean after each step (None for agents without one).
    """

    target: np.ndarray
    achieved: np.ndarray
    abs_error: np.ndarray
    belief_mean: np.ndarray | None = None

    def per_task(self, start: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """``(target [N], achieved [N])``: mean target and mean velocity over steps ``start..T-1``."""
        return self.target[:, start:].mean(axis=1), self.achieved[:, start:].mean(axis=1)

    def summary(self, start: int = 0) -> dict[str, float]:
        """Scalar figures over steps ``start..T-1`` of every task.

        Keys: ``corr`` (Pearson correlation over tasks of mean target and mean achieved velocity; NaN with
        fewer than 2 tasks or no spread), ``slope`` (least-squares slope of mean achieved on target velocity:
        1 = tracking, 0 = one speed for every task; read it next to ``corr``, which is scale-free and can be
        high for a cheetah that barely moves), ``mae`` (mean over tasks of ``|mean achieved - target|``, m/s),
        ``step_corr`` (correlation over all steps of target and achieved velocity), ``step_mae`` (mean of
        the per-step ``|v_t - target_t|``, m/s; the reward's velocity term), ``mean_target`` and
        ``mean_achieved`` (m/s), and for agents with a belief ``belief_r2``: R^2 of a least-squares linear
        read-out of the target from the belief mean over the steps (in-sample, descriptive: does the belief
        know the velocity, whether or not the policy uses it).
        """
        target, achieved = self.per_task(start)
        tgt_steps = self.target[:, start:].ravel()
        ach_steps = self.achieved[:, start:].ravel()
        return {
            "corr": _corr(target, achieved),
            "slope": _slope(target, achieved),
            "mae": float(np.mean(np.abs(achieved - target))),
            "step_corr": _corr(tgt_steps, ach_steps),
            "step_mae": float(self.abs_error[:, start:].mean()),
            "mean_target": float(target.mean()),
            "mean_achieved": float(achieved.mean()),
            "belief_r2": self.belief_r2(start),
        }

    def belief_r2(self, start: int = 0) -> float:
        """R^2 of the linear read-out ``[belief_mean, 1] -> target`` over steps ``start..T-1`` (NaN: none)."""
        if self.belief_mean is None:
            return float("nan")
        z = self.belief_mean[:, start:].reshape(-1, self.belief_mean.shape[-1])
        y = self.target[:, start:].reshape(-1)
        if len(y) < 2 or np.var(y) == 0:
            return float("nan")
        return float(1.0 - np.mean((linear_readout(z, y) - y) ** 2) / np.var(y))


def _corr(x: np.ndarray, y: np.ndarray) -> float:
    if len(x) < 2 or np.std(x) == 0 or np.std(y) == 0:
        return float("nan")
    return float(np.corrcoef(x, y)[0, 1])


def _slope(x: np.ndarray, y: np.ndarray) -> float:
    if len(x) < 2 or np.var(x) == 0:
        return float("nan")
    return float(np.cov(x, y, bias=True)[0, 1] / np.var(x))


def velocity_tracking(
    method: Method, suite: Suite, tasks: list[Task], seed: int, deterministic: bool = True,
) -> VelocityTracking:
    """Run one zero-shot episode of ``method``'s agent on each of ``tasks`` and measure its velocity.

    Uses the evaluation protocol's env stream (``eval``), so the episodes start from the same states as the
    run's own evaluations.

    Args:
        method: a trained method (e.g. ``harness.trained.load_run(dir).method``).
        suite: a HalfCheetah velocity suite (its tasks have a ``velocity`` field).
        tasks: the tasks to run (one env each, in parallel).
        seed: the run's seed.
        deterministic: greedy actions (the evaluation protocol's default).

    Raises:
        ValueError: the suite is not a HalfCheetah velocity suite.
    """
    if not tasks or not all(hasattr(t, "velocity") for t in tasks) or suite.spec.obs_dim != 20:
        raise ValueError(
            f"velocity tracking needs a HalfCheetah velocity suite (cheetah-vel, cheetah-vel-ood, "
            f"cheetah-vel-nonstat); got {suite.name!r}"
        )
    pool = EnvPool(suite, tasks, seed, "eval", task_obs=method.sees_task)
    recorder = BeliefRecorder(method.agent(len(tasks)))
    try:
        rollout, truth = run_trial(pool, list(range(len(tasks))), recorder, 1,  # type: ignore[arg-type]
                                   deterministic, record_truth=True)
    finally:
        pool.close()
    assert truth is not None
    active = rollout.active
    if not active.all():
        raise ValueError("an episode ended before the horizon; velocity suites never terminate early")
    target = np.array([[float(t.velocity) for t in row] for row in truth.tasks])  # type: ignore[union-attr]
    achieved = forward_velocity(rollout.obs, rollout.next_obs)
    ctrl = CTRL_WEIGHT * np.square(np.clip(rollout.action, -1.0, 1.0)).sum(axis=-1)
    abs_error = -(rollout.reward.astype(np.float64) + ctrl)
    beliefs = recorder.beliefs
    belief_mean = None
    if beliefs and all(b is not None and "mean" in b for b in beliefs):
        belief_mean = np.stack([np.asarray(b["mean"], dtype=np.float64) for b in beliefs],  # type: ignore[index]
                               axis=1).reshape(len(tasks), len(beliefs), -1)
    return VelocityTracking(target=target, achieved=achieved, abs_error=abs_error, belief_mean=belief_mean)
