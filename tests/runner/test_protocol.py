"""Protocol tests with scripted agents: budget accounting, resets per trial, evaluation not charged."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from harness.evaluation import evaluate
from harness.registry import get_method, get_suite
from harness.runner import Job, run_job
from tests.runner import runner_scripted as rs

PLUGINS = (rs.PLUGIN,)


def job(tmp_path, **kw) -> Job:
    base = dict(suite="counting-goal", method="scripted-probe", seed=0, out=str(tmp_path), profile="smoke",
                device="cpu", plugins=PLUGINS)
    base.update(kw)
    return Job(**base)


def test_budget_is_exact_and_no_phantom_step_is_taken(tmp_path):
    # 47 is not a multiple of the horizon (10) nor of a collect call's size; episodes terminate early.
    rs.STEP_CALLS["n"] = 0
    result = run_job(job(tmp_path, budget=47, eval_every=20))
    assert result.status == "finished", result.traceback
    train = pd.read_parquet(tmp_path / "counting-goal/scripted-probe/seed=0/train.parquet")
    evals = pd.read_parquet(tmp_path / "counting-goal/scripted-probe/seed=0/eval.parquet")
    assert result.env_steps == 47
    assert train["env_steps"].iloc[-1] == 47
    assert train["steps"].sum() == 47  # steps the method received == steps charged
    assert train["method_update_seconds"].eq(-1.0).all() and train["update_seconds"].ge(0.0).all()
    assert train["env_steps"].diff().dropna().eq(train["steps"].iloc[1:].to_numpy()).all()
    # every env.step() call is either charged (training) or an evaluation step: nothing else
    assert rs.STEP_CALLS["n"] == 47 + evals["length"].sum()
    assert evals["length"].max() == 3  # early termination at step 3, no reset step counted as a step


def test_evaluation_is_not_charged_and_does_not_change_training(tmp_path):
    linear = dict(method="scripted-linear", suite="point-goal", budget=200)
    many = run_job(job(tmp_path / "a", eval_every=20, **linear))
    once = run_job(job(tmp_path / "b", **linear))
    assert many.status == once.status == "finished"
    rd = "point-goal/scripted-linear/seed=0"
    ta = pd.read_parquet(tmp_path / "a" / rd / "train.parquet").drop(columns=["wall_time", "collect_seconds",
                                                                              "update_seconds"])
    tb = pd.read_parquet(tmp_path / "b" / rd / "train.parquet").drop(columns=["wall_time", "collect_seconds",
                                                                              "update_seconds"])
    pd.testing.assert_frame_equal(ta, tb)
    ea = pd.read_parquet(tmp_path / "a" / rd / "eval.parquet")
    eb = pd.read_parquet(tmp_path / "b" / rd / "eval.parquet")
    assert ea["eval_index"].nunique() == len(ta) == 4 and eb["eval_index"].nunique() == 1
    assert (ea["env_steps"].diff().dropna() >= 0).all() and ea["env_steps"].max() == 200


@pytest.mark.parametrize("k", [1, 3])
def test_k_shot_trial_resets(k):
    suite = get_suite("counting-goal")
    method = get_method("scripted-probe")(get_method("scripted-probe").config_cls())
    tasks = suite.test_tasks(0, 4)
    rs.PROBE_LOG.clear()
    res = evaluate(method, suite, tasks, seed=0, episodes=k)
    resets = [e for e in rs.PROBE_LOG if e[0] == "reset"]
    # one reset(True) per trial (all tasks in one batch), then reset(False) between the k episodes
    assert resets == [("reset", True, 4)] + [("reset", False, 4)] * (k - 1)
    assert rs.PROBE_LOG[0] == ("reset", True, 4)
    assert res.returns.shape == (4, k) and (res.lengths == 3).all()
    observes = [e for e in rs.PROBE_LOG if e[0] == "observe"]
    assert len(observes) == 3 * k  # no observe for padding after every env terminated


def test_training_collection_resets_belief_only_at_task_boundaries(tmp_path):
    rs.PROBE_LOG.clear()
    result = run_job(job(tmp_path, budget=36, eval_episodes=2))  # two full collect calls of 18 steps
    assert result.status == "finished"
    train_resets = [e for e in rs.PROBE_LOG if e[0] == "reset" and e[2] == 3]  # training batches have 3 envs
    eval_resets = [e for e in rs.PROBE_LOG if e[0] == "reset" and e[2] == 2]  # smoke: 2 test tasks
    # episodes_per_step=2: each collect call is one trial of 2 episodes on the same tasks
    assert train_resets[0::2] == [("reset", True, 3)] * (len(train_resets) // 2)
    assert train_resets[1::2] == [("reset", False, 3)] * (len(train_resets) // 2)
    assert eval_resets == [("reset", True, 2), ("reset", False, 2)]


@pytest.mark.parametrize("method_name", ["moss", "sac-mt"])
def test_evaluation_in_chunks_scores_each_task_as_all_at_once(method_name):
    """``max_envs`` (Meta-World's memory bound) leaves a deterministic agent's scores as in one batch of
    every task: same env seeds; only float rounding of batched products of another batch size differs."""
    from harness.config import method_config
    from harness.context import RunContext

    suite = get_suite("point-goal")
    cls = get_method(method_name)
    method = cls(method_config(cls, suite, "smoke"))
    method.setup(suite, suite.train_tasks(0, 2), RunContext(seed=0))
    tasks = suite.test_tasks(0, 7)
    whole = evaluate(method, suite, tasks, seed=3, episodes=2, record_traces=True)
    chunked = evaluate(method, suite, tasks, seed=3, episodes=2, record_traces=True, max_envs=3)
    np.testing.assert_allclose(chunked.returns, whole.returns, rtol=1e-5, atol=1e-4)
    assert (whole.lengths == chunked.lengths).all()
    assert whole.traces is not None and chunked.traces is not None
    cols = ["task_id", "episode", "t", "reward"]
    key = whole.traces.sort_values(cols[:3])[cols].reset_index(drop=True)
    pd.testing.assert_frame_equal(key, chunked.traces.sort_values(cols[:3])[cols].reset_index(drop=True),
                                  rtol=1e-5, atol=1e-4)


def test_rollout_marks_task_switches_by_identity_only() -> None:
    """``Rollout.switched`` is True exactly where the ground truth's task changes inside an episode (the
    non-stationary wrapper's ``info["switched"]``) and never on a stationary suite."""
    from harness.rollout import EnvPool, run_trial

    class Still:
        def reset(self, task_boundary: bool) -> None: ...
        def act(self, obs: np.ndarray, deterministic: bool) -> np.ndarray:
            return np.zeros((len(obs), 2), np.float32)
        def observe(self, step: object) -> None: ...

    for name, switches in (("point-goal-nonstat", True), ("point-goal", False)):
        suite = get_suite(name)
        pool = EnvPool(suite, suite.test_tasks(0, 4), 0, "eval", task_obs=False)
        ro, truth = run_trial(pool, [0, 1, 2, 3], Still(), 2, True, record_truth=True)  # type: ignore[arg-type]
        pool.close()
        assert truth is not None and ro.switched is not None
        changed = np.zeros_like(ro.switched)
        changed[:, 1:] = np.abs(np.diff(truth.task_vector, axis=1)).sum(-1) > 0
        changed &= ro.episode == np.roll(ro.episode, 1, axis=1)  # not an episode start
        assert np.array_equal(ro.switched, changed), name
        assert bool(ro.switched.any()) == switches, name
