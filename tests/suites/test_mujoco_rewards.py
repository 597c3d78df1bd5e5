"""MuJoCo rewards recomputed by hand from the env's own state (positions before/after, dt, action).

The constants below (dt, weights, bonuses) are written out from the references (PEARL, rand_param_envs,
TIGR), not imported from the suite code, so a changed formula or model timing fails here. Walker's
parameter randomization is checked at the end.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import mujoco
import numpy as np
import pytest

import suites.mujoco  # noqa: F401  (registers the suites)
from harness.registry import get_suite
from harness.suite import Task
from suites.mujoco.tasks import (
    AntMultiTask,
    CheetahMultiTask,
    DirectionTask,
    GoalTask,
    PlanarDirectionTask,
    VelocityTask,
)

pytestmark = pytest.mark.mujoco

State = dict[str, np.ndarray]
#: (data before, data after, clipped action) -> expected reward
RewardFn = Callable[[State, State, np.ndarray], float]


def _state(data: mujoco.MjData, model: mujoco.MjModel) -> State:
    mass = model.body_mass[:, None]
    return {
        "qpos": data.qpos.copy(),
        "qvel": data.qvel.copy(),
        "torso": data.body("torso").xpos.copy(),
        "com": (np.sum(mass * data.xipos, 0) / mass.sum()).copy(),
        "cfrc_ext": data.cfrc_ext.copy(),
        "ctrl": data.ctrl.copy(),
    }


def _check(suite_name: str, task: Task, expected: RewardFn, dt: float, steps: int = 30) -> list[float]:
    """Step the suite's env with random actions (some outside [-1, 1]) and compare every reward."""
    suite = get_suite(suite_name)
    env = suite.make_env(task, seed=0)
    inner: Any = env.unwrapped
    assert inner.dt == pytest.approx(dt)
    rng = np.random.default_rng(1)
    env.reset(seed=0)
    rewards = []
    for _ in range(steps):
        action = rng.uniform(-1.5, 1.5, size=env.action_space.shape)
        before = _state(inner.data, inner.model)
        _, reward, terminated, _, _ = env.step(action)
        after = _state(inner.data, inner.model)
        assert reward == pytest.approx(expected(before, after, np.clip(action, -1, 1)), rel=1e-9, abs=1e-9)
        rewards.append(float(reward))
        if terminated:
            break
    return rewards


def _contact(s: State) -> float:
    return 0.5e-3 * float(np.sum(np.clip(s["cfrc_ext"], -1, 1) ** 2))


@pytest.mark.parametrize("v", [0.5, 2.5])
def test_cheetah_vel(v: float) -> None:
    def expected(b: State, a: State, u: np.ndarray) -> float:
        return -abs((a["qpos"][0] - b["qpos"][0]) / 0.05 - v) - 0.05 * float(np.sum(u**2))

    _check("cheetah-vel", VelocityTask(velocity=v), expected, dt=0.05)


@pytest.mark.parametrize("d", [1.0, -1.0])
def test_cheetah_dir(d: float) -> None:
    def expected(b: State, a: State, u: np.ndarray) -> float:
        return d * (a["qpos"][0] - b["qpos"][0]) / 0.05 - 0.05 * float(np.sum(u**2))

    _check("cheetah-dir", DirectionTask(direction=d), expected, dt=0.05)


@pytest.mark.parametrize("angle", [0.0, np.pi])
def test_ant_dir(angle: float) -> None:
    direction = np.array([np.cos(angle), np.sin(angle)])

    def expected(b: State, a: State, u: np.ndarray) -> float:
        velocity = (a["torso"][:2] - b["torso"][:2]) / 0.05
        return float(velocity @ direction) - 0.5 * float(np.sum(u**2)) - _contact(a) + 1.0

    _check("ant-dir", PlanarDirectionTask(angle=angle), expected, dt=0.05)


def test_ant_goal_and_contact_forces_are_computed() -> None:
    goal = np.array([1.5, -2.0])
    contacts: list[float] = []

    def expected(b: State, a: State, u: np.ndarray) -> float:
        contacts.append(_contact(a))
        return -float(np.sum(np.abs(a["torso"][:2] - goal))) - 0.1 * float(np.sum(u**2)) - _contact(a)

    _check("ant-goal", GoalTask(gx=1.5, gy=-2.0), expected, dt=0.05)
    assert max(contacts) > 0.0, "cfrc_ext is never computed (mj_rnePostConstraint missing)"


def test_walker_reward() -> None:
    suite = get_suite("walker-rand-params")
    task = suite.train_tasks(0, 1)[0]

    def expected(b: State, a: State, u: np.ndarray) -> float:
        return (a["qpos"][0] - b["qpos"][0]) / 0.008 + 1.0 - 1e-3 * float(np.sum(u**2))

    _check("walker-rand-params", task, expected, dt=0.008)


def test_humanoid_dir_reward_and_action_scaling() -> None:
    angle = 2.0
    direction = np.array([np.cos(angle), np.sin(angle)])

    def expected(b: State, a: State, u: np.ndarray) -> float:
        np.testing.assert_allclose(a["ctrl"], 0.4 * u)  # [-1, 1] scaled onto ctrlrange [-0.4, 0.4]
        progress = 0.25 * float((a["com"][:2] - b["com"][:2]) @ direction) / 0.003
        impact = min(5e-7 * float(np.sum(a["cfrc_ext"] ** 2)), 10.0)
        return progress - 0.1 * float(np.sum(a["ctrl"] ** 2)) - impact + 5.0

    rewards = _check("humanoid-dir", PlanarDirectionTask(angle=angle), expected, dt=0.015)
    assert len(rewards) >= 5


@pytest.mark.parametrize(
    ("variant", "base_id", "target", "value"),
    [
        ("velocity_backward", 0, -3.0, lambda s: s["qvel"][0]),
        ("goal_forward", 1, 12.0, lambda s: s["qpos"][0]),
        ("stand_back", 2, -1.2, lambda s: s["qpos"][2]),
        ("jump", 3, 2.0, lambda s: abs(s["qvel"][1])),
    ],
)
def test_cheetah_multi_task(variant: str, base_id: int, target: float, value: Callable[[State], Any]) -> None:
    task = CheetahMultiTask(base_id=base_id, variant=variant, target=target)

    def expected(b: State, a: State, u: np.ndarray) -> float:
        return -abs(value(a) - target) / abs(target) - 0.05 * float(np.sum(u**2))

    _check("cheetah-multi-task", task, expected, dt=0.05)


@pytest.mark.parametrize(
    "task",
    [
        AntMultiTask(base_id=0, variant="velocity_up", x=0.0, y=2.0, z=0.0),
        AntMultiTask(base_id=1, variant="goal_left", x=-7.0, y=0.0, z=0.0),
        AntMultiTask(base_id=2, variant="jump", x=0.0, y=0.0, z=1.2),
    ],
)
def test_ant_multi_task(task: AntMultiTask) -> None:
    target = np.array([task.x, task.y])

    def expected(b: State, a: State, u: np.ndarray) -> float:
        ctrl = 0.05 * float(np.sum(u**2))
        if task.base_id == 2:
            return -abs(abs(a["qvel"][2]) - task.z) / task.z - ctrl
        value = a["qvel"][:2] if task.base_id == 0 else a["qpos"][:2]
        return -float(np.sum((value - target) ** 2) / np.sum(target**2)) - ctrl

    _check("ant-multi-task", task, expected, dt=0.05)


def test_actions_are_clipped() -> None:
    suite = get_suite("cheetah-vel")
    task = VelocityTask(velocity=1.0)
    a, b = suite.make_env(task, 0), suite.make_env(task, 0)
    a.reset(seed=3)
    b.reset(seed=3)
    big = np.array([3.0, -2.0, 1.5, 0.2, -0.7, 9.0])
    out_a, out_b = a.step(big), b.step(np.clip(big, -1, 1))
    np.testing.assert_array_equal(out_a[0], out_b[0])
    assert out_a[1] == out_b[1]


# --------------------------------------------------------------------------------- walker rand params

PARAMS = {"body_mass": 1.5, "body_inertia": 1.5, "dof_damping": 1.3, "geom_friction": 1.5}


def test_walker_model_parameters_follow_task() -> None:
    suite = get_suite("walker-rand-params")
    t1, t2 = suite.train_tasks(0, 2)
    env: Any = suite.make_env(t1, 0)
    model = env.unwrapped.model
    defaults = {name: getattr(mujoco.MjModel.from_xml_path(_walker_xml()), name).copy() for name in PARAMS}

    def check(task: Task) -> None:
        for name, base in PARAMS.items():
            u = np.asarray(getattr(task, name)).reshape(defaults[name].shape)
            np.testing.assert_array_equal(getattr(model, name), defaults[name] * base**u)

    check(t1)
    masses_1 = model.body_mass.copy()
    env.step(np.ones(6))
    qpos = env.unwrapped.data.qpos.copy()
    env.unwrapped.set_task(t2)
    check(t2)
    np.testing.assert_array_equal(env.unwrapped.data.qpos, qpos)  # mid-episode switch keeps the state
    assert model.body_subtreemass[0] == pytest.approx(model.body_mass.sum())  # derived constants redone
    assert not np.allclose(model.body_mass[1:], masses_1[1:])
    env.unwrapped.set_task(t1)  # exact round trip from the saved defaults
    check(t1)
    np.testing.assert_array_equal(model.body_mass, masses_1)


def _walker_xml() -> str:
    import os

    import gymnasium

    return os.path.join(os.path.dirname(gymnasium.__file__), "envs", "mujoco", "assets", "walker2d_v5.xml")


def test_walker_dynamics_differ_between_tasks() -> None:
    suite = get_suite("walker-rand-params")
    t1, t2 = suite.train_tasks(0, 2)
    rng = np.random.default_rng(0)
    qpos = np.array([0.0, 1.25, 0.05, -0.1, -0.2, 0.1, 0.1, -0.2, 0.1])
    qvel = rng.normal(0, 0.5, size=9)
    actions = rng.uniform(-1, 1, size=(5, 6))

    def rollout(task: Task) -> np.ndarray:
        env: Any = suite.make_env(task, 0)
        env.reset(seed=0)
        env.unwrapped.set_state(qpos, qvel)
        return np.stack([env.step(a)[0] for a in actions])

    same_a, same_b, other = rollout(t1), rollout(t1), rollout(t2)
    np.testing.assert_array_equal(same_a, same_b)
    assert np.abs(same_a - other).max() > 1e-2
