"""The suite and env contract (``harness.suite`` module docstring), checked on EVERY registered suite.

One random-action episode per suite (plus a replay of it for determinism), so the file stays cheap even
with the MuJoCo and Meta-World suites: a new suite is picked up by parametrization over ``list_suites()``.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
import pytest

from harness.registry import list_suites
from harness.suite import EnvSpec, Suite, Task
from suites.toy import PointGoalSuite

SUITES = list_suites()

#: Suites whose task set is a fixed finite list (forward/backward) used for training *and* testing, the same
#: for every seed, as in the papers (PEARL/VariBAD cheetah-dir and ant-dir, and their non-stationary
#: variants). Every other suite must draw seed-dependent, disjoint train and test tasks.
FIXED_SHARED_TASKS = frozenset({"cheetah-dir", "ant-dir", "cheetah-dir-nonstat", "ant-dir-nonstat"})

N = 5


def _n(suite: Suite, n: int = N) -> int:
    return n if suite.max_tasks is None else min(n, suite.max_tasks)


def _dicts(tasks: list[Task]) -> list[dict[str, Any]]:
    return [t.as_dict() for t in tasks]


def _vectors(tasks: list[Task]) -> set[tuple[float, ...]]:
    return {tuple(t.vector().tolist()) for t in tasks}


def _marks(suite: Suite) -> list[pytest.MarkDecorator]:
    if suite.group.startswith("metaworld"):
        return [pytest.mark.metaworld]
    if suite.group in ("parametric", "ood", "nonstationary", "multitask"):
        return [pytest.mark.mujoco]
    return []


@pytest.fixture(params=[pytest.param(s, id=s.name, marks=_marks(s)) for s in SUITES])
def suite(request: pytest.FixtureRequest) -> Suite:
    return request.param


def test_every_builtin_family_is_registered() -> None:
    groups = {s.group for s in SUITES}
    assert {"toy", "metaworld-v1", "metaworld-v2"} <= groups


# ------------------------------------------------------------------------------------------------ tasks


def test_task_sampling_is_a_pure_function_of_the_seed(suite: Suite) -> None:
    n = _n(suite)
    for split in (suite.train_tasks, suite.test_tasks):
        first, again = split(0, n), split(0, n)
        assert len(first) == n
        assert _dicts(first) == _dicts(again)
        if suite.name not in FIXED_SHARED_TASKS:
            assert _dicts(split(1, n)) != _dicts(first), f"{suite.name}: seeds 0 and 1 give the same tasks"
    assert len(suite.train_tasks(0)) == suite.n_train
    assert len(suite.test_tasks(0)) == suite.n_test


def test_train_and_test_tasks_are_disjoint(suite: Suite) -> None:
    train, test = _vectors(suite.train_tasks(0, _n(suite, 20))), _vectors(suite.test_tasks(0, _n(suite, 20)))
    if suite.name in FIXED_SHARED_TASKS:
        assert train == test
    else:
        assert not train & test, f"{suite.name}: train and test share tasks"


def test_tasks_are_json_serializable_records(suite: Suite) -> None:
    tasks = suite.train_tasks(0, _n(suite)) + suite.test_tasks(0, _n(suite))
    for task in tasks:
        assert isinstance(task, Task)
        record = json.loads(json.dumps(task.as_dict()))
        assert record["kind"] == type(task).__name__
        assert isinstance(record["base_id"], int)
        vec = task.vector()
        assert vec.dtype == np.float32 and vec.shape == (suite.spec.task_dim,)
        assert np.all(np.isfinite(vec))
    with pytest.raises(dataclasses.FrozenInstanceError):
        tasks[0].base_id = 1  # type: ignore[misc]


@pytest.mark.parametrize(
    ("seed", "n", "needle"),
    [(-1, 1, "seed"), ("0", 1, "seed"), (1.5, 1, "seed"), (True, 1, "seed"),
     (0, 0, "positive integer"), (0, -2, "positive integer"), (0, 1.0, "positive integer"),
     (0, "3", "positive integer"), (0, False, "positive integer")],
)
def test_bad_task_requests_raise_value_error(suite: Suite, seed: Any, n: Any, needle: str) -> None:
    for split in (suite.train_tasks, suite.test_tasks):
        with pytest.raises(ValueError, match=needle):
            split(seed, n)


@pytest.mark.parametrize(
    "limited", [pytest.param(s, id=s.name, marks=_marks(s)) for s in SUITES if s.max_tasks is not None]
)
def test_more_tasks_than_the_benchmark_has_raise(limited: Suite) -> None:
    suite = limited
    assert suite.max_tasks is not None
    assert len(suite.train_tasks(0, suite.max_tasks)) == suite.max_tasks
    with pytest.raises(ValueError, match=f"only {suite.max_tasks}"):
        suite.train_tasks(0, suite.max_tasks + 1)
    with pytest.raises(ValueError, match=f"only {suite.max_tasks}"):
        suite.test_tasks(0, suite.max_tasks + 1)


# ------------------------------------------------------------------------------------------------- envs


def _episode(suite: Suite, task: Task, check: bool) -> tuple[list[np.ndarray], list[float]]:
    """Run one random-action episode (actions from a fixed seed); with ``check``, assert the env contract.

    Returns the observations (reset included) and rewards.
    """
    spec = suite.spec
    env = suite.make_env(task, seed=3)
    rng = np.random.default_rng(0)
    try:
        obs, info = env.reset(seed=11)
        observations, rewards = [obs], []
        if check:
            _check_spaces(suite, env)
            _check_obs(suite, obs)
            assert info["task"] == task
            assert env.current_task == task  # type: ignore[attr-defined]  # on the outermost env
        for t in range(1, suite.horizon + 1):
            upcoming = env.current_task  # type: ignore[attr-defined]
            action = rng.uniform(-1.0, 1.0, size=spec.act_dim).astype(np.float32)
            obs, reward, terminated, truncated, info = env.step(action)
            observations.append(obs)
            rewards.append(float(reward))
            if check:
                _check_step(suite, task, upcoming, obs, reward, terminated, truncated, info, t)
            if terminated or truncated:
                break
        if check:
            assert terminated or truncated, f"{suite.name}: episode did not end at the horizon"
            # Same episode seed => same first observation.
            np.testing.assert_array_equal(env.reset(seed=11)[0], observations[0])
        return observations, rewards
    finally:
        env.close()


def _check_spaces(suite: Suite, env: gym.Env) -> None:
    spec = suite.spec
    obs_space, act_space = env.observation_space, env.action_space
    assert isinstance(obs_space, gym.spaces.Box) and isinstance(act_space, gym.spaces.Box)
    assert obs_space.shape == (spec.obs_dim,) and obs_space.dtype == np.float32
    assert act_space.shape == (spec.act_dim,)
    np.testing.assert_array_equal(act_space.low, -1.0)
    np.testing.assert_array_equal(act_space.high, 1.0)


def _check_obs(suite: Suite, obs: Any) -> None:
    assert isinstance(obs, np.ndarray), type(obs)
    assert obs.shape == (suite.spec.obs_dim,) and obs.dtype == np.float32, (obs.shape, obs.dtype)
    assert np.all(np.isfinite(obs))


def _check_step(
    suite: Suite, task: Task, upcoming: Task, obs: Any, reward: Any, terminated: Any, truncated: Any,
    info: dict[str, Any], t: int,
) -> None:
    _check_obs(suite, obs)
    assert isinstance(reward, (float, np.floating)) and np.isfinite(reward)
    assert isinstance(terminated, (bool, np.bool_)) and isinstance(truncated, (bool, np.bool_))
    step_task = info["task"]
    assert isinstance(step_task, type(task)), f"info['task'] is a {type(step_task).__name__}"
    assert step_task.vector().shape == (suite.spec.task_dim,)
    # ``current_task`` before the step is the task that governs the step.
    assert step_task == upcoming, f"step {t}: current_task said {upcoming}, the step ran {step_task}"
    if not suite.nonstationary:
        assert step_task == task
    if suite.metric == "success":
        assert isinstance(info["success"], (bool, np.bool_))
    # Truncation exactly at the horizon, never before.
    assert bool(truncated) == (t == suite.horizon and not terminated), f"step {t}: truncated={truncated}"


def test_random_episode_follows_the_env_contract(suite: Suite) -> None:
    _episode(suite, suite.train_tasks(0, 1)[0], check=True)


def test_env_is_deterministic_given_seeds(suite: Suite) -> None:
    task = suite.test_tasks(0, 1)[0]
    obs_a, rew_a = _episode(suite, task, check=False)
    obs_b, rew_b = _episode(suite, task, check=False)
    assert len(obs_a) == len(obs_b)
    np.testing.assert_array_equal(np.stack(obs_a), np.stack(obs_b))
    np.testing.assert_array_equal(rew_a, rew_b)


def test_spec_and_summary(suite: Suite) -> None:
    spec = suite.spec
    task = suite.train_tasks(0, 1)[0]
    env = suite.make_env(task, seed=0)
    try:
        assert env.observation_space.shape == (spec.obs_dim,)
        assert env.action_space.shape == (spec.act_dim,)
    finally:
        env.close()
    assert spec.task_dim == task.vector().shape[0]
    row = suite.summary()
    assert row == {
        "name": suite.name, "group": suite.group, "horizon": suite.horizon, "metric": suite.metric,
        "n_train": suite.n_train, "n_test": suite.n_test, "obs_dim": spec.obs_dim, "act_dim": spec.act_dim,
        "description": suite.description,
    }
    assert suite.description, f"{suite.name} has no description"
    assert suite.metric in ("return", "success")
    assert suite.horizon > 0
    json.dumps(row)


def test_declared_dimensions_match_a_built_env(suite: Suite) -> None:
    """Built-in suites declare ``obs_dim`` and ``act_dim`` (so ``spec`` and ``harness list`` build no env),
    and no declaration may drift from what a built env measures."""
    if type(suite).__module__.startswith("suites."):
        assert suite.obs_dim is not None and suite.act_dim is not None, f"{suite.name}: declare the dims"
    measured = suite.measure_spec()
    for dim in ("obs_dim", "act_dim", "task_dim"):
        declared = getattr(suite, dim)
        assert declared is None or declared == getattr(measured, dim), (suite.name, dim, declared, measured)
    assert suite.spec == measured


def test_spec_builds_an_env_only_for_undeclared_dimensions() -> None:
    calls: list[Task] = []

    @dataclasses.dataclass(frozen=True, kw_only=True)
    class Counted(PointGoalSuite):
        def make_env(self, task: Task, seed: int) -> gym.Env:
            calls.append(task)
            return super().make_env(task, seed)

    @dataclasses.dataclass(frozen=True, kw_only=True)
    class Undeclared(Counted):
        obs_dim: ClassVar[int | None] = None

    assert Counted().spec == EnvSpec(obs_dim=2, act_dim=2, task_dim=2) and calls == []
    assert Undeclared().spec == EnvSpec(obs_dim=2, act_dim=2, task_dim=2) and len(calls) == 1

