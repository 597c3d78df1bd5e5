"""Velocity tracking on HalfCheetah velocity suites, loading trained runs back, and the tracking script."""

from __future__ import annotations

import json
import math
from pathlib import Path
from types import ModuleType

import numpy as np
import pandas as pd
import pytest

from harness import store
from harness.evaluation import evaluate
from harness.registry import get_suite
from harness.runner import Job, run_job
from harness.trained import load_run
from suites.mujoco.tasks import VelocityTask
from suites.mujoco.velocity_tracking import VelocityTracking, velocity_tracking
from tests.helpers import load_script


class _ConstantAgent:
    """Applies one fixed action in every env (a scripted gait)."""

    def __init__(self, n: int, action: np.ndarray) -> None:
        self.action = np.tile(action.astype(np.float32), (n, 1))

    def reset(self, task_boundary: bool) -> None:
        pass

    def act(self, obs: np.ndarray, deterministic: bool) -> np.ndarray:
        return self.action

    def observe(self, step: object) -> None:
        pass

    def belief(self) -> None:
        return None


class _ConstantMethod:
    sees_task = False

    def __init__(self, action: np.ndarray) -> None:
        self.action = action

    def agent(self, n: int) -> _ConstantAgent:
        return _ConstantAgent(n, self.action)


def test_achieved_velocity_matches_the_reward() -> None:
    suite = get_suite("cheetah-vel")
    # targets far above what a still / pushing cheetah reaches: |v - target| = target - v at every step
    tasks = [VelocityTask(velocity=v) for v in (2.5, 3.0, 3.5)]
    method = _ConstantMethod(np.array([0.3, -0.2, 0.1, 0.0, 0.2, -0.1]))
    tr = velocity_tracking(method, suite, tasks, seed=0)  # type: ignore[arg-type]
    assert tr.target.shape == tr.achieved.shape == tr.abs_error.shape == (3, suite.horizon)
    np.testing.assert_allclose(tr.target[:, 0], [2.5, 3.0, 3.5])
    assert (tr.target == tr.target[:, :1]).all()
    # the torso-displacement velocity agrees with the reward's velocity over an episode
    np.testing.assert_allclose((tr.target - tr.achieved).mean(axis=1), tr.abs_error.mean(axis=1), atol=0.03)
    s = tr.summary()
    assert s["mae"] == pytest.approx(float(np.mean(tr.target[:, 0] - tr.achieved.mean(axis=1))))
    assert s["step_mae"] == pytest.approx(float(tr.abs_error.mean()))
    # the same gait in every task: the achieved velocity does not follow the target
    assert np.ptp(tr.achieved.mean(axis=1)) < 0.05


class _KnowingAgent(_ConstantAgent):
    """Reports a belief whose first coordinate is the task's velocity (plus a useless one)."""

    def __init__(self, n: int, velocities: list[float]) -> None:
        super().__init__(n, np.zeros(6))
        self.mean = np.stack([velocities, np.ones(n)], axis=1).astype(np.float32)

    def belief(self) -> dict[str, np.ndarray]:  # type: ignore[override]
        return {"mean": self.mean}


def test_traces_record_the_achieved_velocity() -> None:
    """Evaluation traces of a cheetah velocity suite carry ``achieved`` (the forward velocity), the same
    numbers the tracking measurement reads; suites without such a quantity write no column."""
    suite = get_suite("cheetah-vel")
    tasks = [VelocityTask(velocity=v) for v in (1.0, 2.0)]
    method = _ConstantMethod(np.array([0.3, -0.2, 0.1, 0.0, 0.2, -0.1]))
    res = evaluate(method, suite, tasks, 0, 1, record_traces=True)  # type: ignore[arg-type]
    assert res.traces is not None
    achieved = np.stack(res.traces.sort_values(["task_id", "t"])["achieved"].to_numpy())
    assert achieved.shape == (2 * suite.horizon, 1)
    tr = velocity_tracking(method, suite, tasks, seed=0)  # type: ignore[arg-type]
    np.testing.assert_allclose(achieved[:, 0].reshape(2, -1), tr.achieved, rtol=1e-5, atol=1e-4)
    point = get_suite("point-goal")
    res = evaluate(_ConstantMethod(np.zeros(2)), point, point.test_tasks(0, 2), 0, 1,  # type: ignore[arg-type]
                   record_traces=True)
    assert res.traces is not None and "achieved" not in res.traces


def test_belief_read_out() -> None:
    suite = get_suite("cheetah-vel")
    velocities = [0.5, 1.0, 2.0, 2.5]
    tasks = [VelocityTask(velocity=v) for v in velocities]
    method = _ConstantMethod(np.zeros(6))
    method.agent = lambda n: _KnowingAgent(n, velocities)  # type: ignore[method-assign]
    tr = velocity_tracking(method, suite, tasks, seed=0)  # type: ignore[arg-type]
    assert tr.belief_mean is not None and tr.belief_mean.shape == (4, suite.horizon, 2)
    assert tr.summary(start=100)["belief_r2"] == pytest.approx(1.0)
    no_belief = velocity_tracking(_ConstantMethod(np.zeros(6)), suite, tasks, seed=0)  # type: ignore[arg-type]
    assert no_belief.belief_mean is None and math.isnan(no_belief.summary()["belief_r2"])


def test_summary_on_constructed_tracking() -> None:
    target = np.repeat(np.array([[0.5], [1.5], [2.5]]), 4, axis=1)
    perfect = VelocityTracking(target, target.copy(), np.zeros_like(target))
    assert perfect.summary()["corr"] == pytest.approx(1.0)
    assert perfect.summary()["mae"] == 0.0
    offset = VelocityTracking(target, target + 0.5, np.full_like(target, 0.5))
    assert offset.summary()["corr"] == pytest.approx(1.0)
    assert offset.summary()["mae"] == pytest.approx(0.5)
    assert perfect.summary()["slope"] == pytest.approx(1.0)
    assert offset.summary()["slope"] == pytest.approx(1.0)
    timid = VelocityTracking(target, 0.1 * target, 0.9 * target)  # follows the target, barely moving
    assert timid.summary()["corr"] == pytest.approx(1.0) and timid.summary()["slope"] == pytest.approx(0.1)
    flat = VelocityTracking(target, np.ones_like(target), np.abs(1 - target))
    assert math.isnan(flat.summary()["corr"])  # no spread in the achieved velocity
    late = np.concatenate([np.zeros((3, 2)), target[:, :2]], axis=1)
    assert VelocityTracking(target, late, np.zeros_like(target)).summary(start=2)["mae"] == 0.0


def test_velocity_tracking_rejects_other_suites() -> None:
    suite = get_suite("point-goal")
    with pytest.raises(ValueError, match="cheetah-vel"):
        velocity_tracking(_ConstantMethod(np.zeros(2)), suite, suite.test_tasks(0, 2), 0)  # type: ignore[arg-type]


@pytest.mark.parametrize("method", ["sac-mt", "moss"])
def test_load_run_reproduces_the_final_evaluation(tmp_path: Path, method: str) -> None:
    job = Job(suite="point-goal", method=method, seed=3, out=str(tmp_path), profile="smoke")
    assert run_job(job).status == "finished"
    run = load_run(job.run_dir, device="cpu")
    assert run.env_steps == run.record["budget"] and run.seed == 3
    expected = get_suite("point-goal").test_tasks(0, 2)
    assert [t.as_dict() for t in run.test_tasks] == [t.as_dict() for t in expected]
    res = evaluate(run.method, run.suite, run.test_tasks, run.seed, int(run.record["eval_episodes"]))
    evals = pd.read_parquet(job.run_dir / store.EVAL_FILE)
    last = evals[evals["eval_index"] == evals["eval_index"].max()].sort_values(["task_id", "episode"])
    np.testing.assert_allclose(res.returns.ravel(), last["return"].to_numpy(), rtol=1e-5, atol=1e-5)


def test_load_run_errors(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_run(tmp_path / "nope")
    with pytest.raises(FileNotFoundError, match=r"config\.yaml"):
        load_run(tmp_path)
    job = Job(suite="point-goal", method="random", seed=0, out=str(tmp_path), profile="smoke")
    run_job(job)
    (job.run_dir / store.CHECKPOINT_FILE).unlink()
    with pytest.raises(FileNotFoundError, match=r"checkpoint\.pt"):
        load_run(job.run_dir)


def _script() -> ModuleType:
    return load_script("cheetah_vel_tracking")


def test_tracking_script_on_a_smoke_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    job = Job(suite="cheetah-vel", method="sac-mt", seed=0, out=str(tmp_path), profile="smoke")
    assert run_job(job).status == "finished"
    script = _script()
    out_json = tmp_path / "rows.json"
    assert script.main([str(job.run_dir), "--tasks", "3", "--json", str(out_json)]) == 0
    text = capsys.readouterr().out
    assert f"| {job.run_dir} | 800 | 3 |" in text
    assert "collect (s/it)" in text
    rows = json.loads(out_json.read_text())
    assert rows[0]["tasks"] == 3 and rows[0]["env_steps"] == 800 and rows[0]["split"] == "test"
    train = script.measure(job.run_dir, 2, 100, "cpu", split="train")
    assert train["tasks"] == 2 and train["split"] == "train"
    assert train["mean_target"] != rows[0]["mean_target"]  # other velocities: the training tasks
    with pytest.raises(ValueError, match="'test' or 'train'"):
        script.measure(job.run_dir, 2, 100, "cpu", split="valid")
    assert script.main([str(tmp_path / "missing")]) == 2
    assert "does not exist" in capsys.readouterr().err
