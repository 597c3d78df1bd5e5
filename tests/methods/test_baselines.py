"""The reference baselines ``random``, ``sac-mt`` and ``sac-oracle``: registration, configs, learning on
``point-goal`` (oracle near optimal, sac-mt between random and oracle), reproducibility and resuming.

Measured on point-goal (seeds 0-2, hidden 64x64, batch 128, 1000 random warm-up steps, UTD 1):
sac-oracle after 8000 steps -5.01 / -5.01 / -5.07 (optimal about -4.5); sac-mt after 5000 steps
-16.4 / -13.8 / -15.4; random -19.5 / -19.6 / -21.3.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import pytest
import torch

from harness.collector import Collector
from harness.config import method_config
from harness.context import RunContext
from harness.evaluation import evaluate
from harness.loop import fit
from harness.method import Method
from harness.registry import get_method, get_suite, list_methods
from harness.rollout import Rollout
from methods.baselines import (
    RandomMethod,
    SacMtConfig,
    SacMultiTask,
    SacOracle,
    SacOracleConfig,
    with_current_task,
)

SUITE = get_suite("point-goal")
SMALL: dict[str, Any] = {"hidden": (64, 64), "batch_size": 128, "learning_starts": 1000}


def _train_eval(name: str, budget: int, seed: int = 0, **overrides: Any) -> tuple[Method, float]:
    cls = get_method(name)
    method = cls(cls.config_cls(**overrides))
    fit(method, SUITE, SUITE.train_tasks(seed), RunContext(seed=seed, budget=budget))
    result = evaluate(method, SUITE, SUITE.test_tasks(seed), seed, cls.eval_episodes)
    return method, result.zero_shot


def test_registered_with_flags_and_configs() -> None:
    assert {"random", "sac-mt", "sac-oracle"} <= set(list_methods())
    assert get_method("sac-mt") is SacMultiTask and get_method("sac-oracle") is SacOracle
    assert get_method("random") is RandomMethod
    assert SacOracle.sees_task and not SacMultiTask.sees_task and not RandomMethod.sees_task
    for name in ("random", "sac-mt", "sac-oracle"):
        cls = get_method(name)
        assert cls.eval_episodes == 1 and cls.published_budget(SUITE) is None
    assert SacMtConfig().utd == 1.0 and SacMtConfig().hidden == (256, 256)  # SAC-paper defaults


def test_oracle_bootstraps_within_the_current_task() -> None:
    """Where the task switches, the stored next observation keeps the step's own task (``current``, the
    default); ``next`` stores what the env returned. The suite's own observation part is never touched."""
    n, t, obs_dim, task_dim = 2, 3, 4, 1
    obs = np.zeros((n, t, obs_dim + task_dim), np.float32)
    obs[..., obs_dim] = [[1.0, 1.0, 2.0], [5.0, 5.0, 5.0]]  # row 0 switches task 1 -> 2 after step 1
    next_obs = np.concatenate([obs[:, 1:], obs[:, -1:]], axis=1) + np.eye(obs_dim + task_dim)[0]
    ro = Rollout(obs=obs, action=np.zeros((n, t, 1), np.float32), reward=np.zeros((n, t), np.float32),
                 next_obs=next_obs, terminated=np.zeros((n, t), bool), truncated=np.zeros((n, t), bool),
                 active=np.ones((n, t), bool), episode=np.zeros((n, t), int), success=np.zeros((n, t), bool),
                 task_ids=np.arange(n))
    out = with_current_task(ro, obs_dim)
    np.testing.assert_array_equal(out.next_obs[..., obs_dim], obs[..., obs_dim])
    np.testing.assert_array_equal(out.next_obs[..., :obs_dim], next_obs[..., :obs_dim])
    assert ro.next_obs[0, 1, obs_dim] == 2.0  # the collected rollout is not modified
    assert SacOracleConfig().bootstrap_task == "current"
    oracle = SacOracle(SacOracleConfig(bootstrap_task="next"))
    oracle.env_obs_dim = obs_dim
    assert oracle.stored(ro) is ro
    oracle = SacOracle()
    oracle.env_obs_dim = obs_dim
    np.testing.assert_array_equal(oracle.stored(ro).next_obs, out.next_obs)
    assert SacMultiTask().stored(ro) is ro


@pytest.mark.parametrize("profile", ["smoke", "quick", "paper"])
@pytest.mark.parametrize("suite", ["point-goal", "point-goal-nonstat"])
def test_hparams_yaml_loads_for_every_profile(profile: str, suite: str) -> None:
    for name in ("random", "sac-mt", "sac-oracle"):
        config = method_config(get_method(name), get_suite(suite), profile)
        assert isinstance(config, get_method(name).config_cls)
    smoke = method_config(SacMultiTask, SUITE, "smoke")
    assert smoke.hidden == (32, 32) and smoke.batch_size <= 32


def test_random_consumes_budget_exactly_and_scores_low() -> None:
    method, score = _train_eval("random", 1010)
    assert -23.0 < score < -17.0  # a still robot gets -20
    col = Collector(SUITE, SUITE.train_tasks(0), 0, 5)
    method.train_step(col)
    assert col.steps_used == 5 and col.exhausted
    a, b = method.agent(3), method.agent(3)
    obs = np.zeros((3, 2), np.float32)
    act = a.act(obs, True)
    assert act.shape == (3, 2) and np.all(np.abs(act) <= 1) and not np.array_equal(act, b.act(obs, True))


def test_oracle_near_optimal_mt_between_random_and_oracle() -> None:
    _, oracle = _train_eval("sac-oracle", 8000, **SMALL)
    _, mt = _train_eval("sac-mt", 5000, **SMALL)
    _, rand = _train_eval("random", 5000)
    assert oracle > -6.5, oracle  # optimal is about -4.5
    assert rand < -17.0, rand
    assert rand + 2.0 < mt < oracle - 5.0, (rand, mt, oracle)


def test_same_seed_same_eval_returns() -> None:
    cfg = {"hidden": (32, 32), "batch_size": 64, "learning_starts": 300}
    _, s1 = _train_eval("sac-oracle", 1000, seed=3, **cfg)
    _, s2 = _train_eval("sac-oracle", 1000, seed=3, **cfg)
    assert s1 == s2
    _, s3 = _train_eval("sac-oracle", 1000, seed=4, **cfg)
    assert s3 != s1


def _steps(method: Method, collector: Collector, n: int) -> list[dict[str, float]]:
    return [method.train_step(collector) for _ in range(n)]


def test_state_dict_round_trip_continues_identically() -> None:
    cfg = SacOracleConfig(hidden=(32, 32), batch_size=64, learning_starts=200, utd=0.5)
    tasks = SUITE.train_tasks(0)
    ctx = RunContext(seed=0, budget=2000)

    def fresh() -> tuple[SacOracle, Collector]:
        m = SacOracle(cfg)
        m.setup(SUITE, tasks, ctx)
        return m, Collector(SUITE, tasks, 0, 2000, task_obs=True)

    torch.manual_seed(0)
    a, col_a = fresh()
    _steps(a, col_a, 5)  # past warm-up: updates have run
    buf = io.BytesIO()
    state = {"method": a.state_dict(), "collector": col_a.state_dict(), "torch": torch.get_rng_state()}
    torch.save(state, buf)
    stats_a = _steps(a, col_a, 4)

    torch.manual_seed(99)
    b, col_b = fresh()
    buf.seek(0)
    state = torch.load(buf, weights_only=False)
    b.load_state_dict(state["method"])
    col_b.load_state_dict(state["collector"])
    torch.set_rng_state(state["torch"])
    stats_b = _steps(b, col_b, 4)
    assert stats_a == stats_b and "critic_loss" in stats_a[-1]
    test = SUITE.test_tasks(0)
    ra = evaluate(a, SUITE, test, 0, 1).returns
    rb = evaluate(b, SUITE, test, 0, 1).returns
    np.testing.assert_array_equal(ra, rb)
