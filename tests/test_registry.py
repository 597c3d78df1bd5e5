"""Suite and method registries: groups, name resolution, duplicate and unknown names."""

from __future__ import annotations

import dataclasses
import importlib.util
import subprocess
import sys

import pytest

from harness.method import Method
from harness.registry import (
    ALL,
    Registry,
    UnknownNameError,
    get_method,
    get_suite,
    list_methods,
    list_suites,
    register_method,
    register_suite,
    resolve_methods,
    resolve_suites,
    suite_groups,
)
from harness.suite import Suite

#: The suite groups and members of the design contract (/work/shared/DESIGN.md), in registration order.
DESIGN_GROUPS: dict[str, list[str]] = {
    "toy": ["point-goal", "point-goal-nonstat", "point-multi-task"],
    "parametric": ["cheetah-vel", "cheetah-dir", "ant-dir", "ant-goal", "walker-rand-params", "humanoid-dir"],
    "ood": ["cheetah-vel-ood", "ant-goal-ood"],
    "nonstationary": ["cheetah-vel-nonstat", "cheetah-dir-nonstat", "ant-dir-nonstat"],
    "multitask": ["cheetah-multi-task", "ant-multi-task"],
    "metaworld-v1": ["ml1-reach-v1", "ml1-push-v1", "ml1-pick-place-v1"],
    "metaworld-v2": ["ml1-reach-v2", "ml1-push-v2", "ml1-pick-place-v2"],
}
MUJOCO_GROUPS = ("parametric", "ood", "nonstationary", "multitask")


def _names(suites: list) -> list[str]:
    return [s.name for s in suites]


def _builtin() -> list[Suite]:
    """Suites defined in the ``suites`` package (tests may register plugin suites in the same process)."""
    return [s for s in list_suites() if type(s).__module__.startswith("suites.")]


# ------------------------------------------------------------------------------------------------ groups


def test_toy_and_metaworld_groups() -> None:
    groups = suite_groups()
    for group in ("toy", "metaworld-v1", "metaworld-v2"):
        assert groups[group] == DESIGN_GROUPS[group]
        assert _names(list_suites(group)) == DESIGN_GROUPS[group]


def test_every_design_group_exists_with_its_suites() -> None:
    if importlib.util.find_spec("suites.mujoco") is None:
        pytest.skip("suites.mujoco is not importable (MuJoCo suites not written yet)")
    groups = suite_groups()
    assert set(DESIGN_GROUPS) <= set(groups)
    for group in MUJOCO_GROUPS:
        assert sorted(groups[group]) == sorted(DESIGN_GROUPS[group]), group
    # Built-in suites belong to design groups (other tests may register plugin suites in other groups).
    assert {s.group for s in _builtin()} == set(DESIGN_GROUPS)


def test_all_is_every_suite_and_groups_partition_it() -> None:
    every = _names(list_suites())
    assert _names(list_suites(ALL)) == every
    assert len(every) == len(set(every))
    members = [n for g, names in suite_groups().items() if g != ALL for n in names]
    assert sorted(members) == sorted(every)


def test_nonstationary_flag_matches_the_group() -> None:
    for suite in _builtin():
        expected = suite.group == "nonstationary" or suite.name == "point-goal-nonstat"
        assert suite.nonstationary == expected, suite.name


def test_resolve_expands_groups_keeps_order_and_drops_duplicates() -> None:
    assert _names(resolve_suites("toy,point-goal")) == DESIGN_GROUPS["toy"]
    assert _names(resolve_suites(" point-multi-task , toy ")) == [
        "point-multi-task", "point-goal", "point-goal-nonstat",
    ]
    expected = [*DESIGN_GROUPS["metaworld-v2"], "ml1-reach-v1"]
    assert _names(resolve_suites("metaworld-v2,ml1-reach-v1")) == expected
    assert _names(resolve_suites("all")) == _names(list_suites())
    with pytest.raises(ValueError, match="no suite"):
        resolve_suites(" , ")


def test_list_suites_of_a_group() -> None:
    nonstat = list_suites("nonstationary")
    assert nonstat and all(s.nonstationary for s in nonstat)
    assert all(s.metric == "success" for s in list_suites("metaworld-v1") + list_suites("metaworld-v2"))


# --------------------------------------------------------------------------------------- unknown names


def test_unknown_suite_names_the_closest_match_and_the_valid_names() -> None:
    with pytest.raises(UnknownNameError) as info:
        get_suite("point-gaol")
    message = str(info.value)
    assert "Unknown suite 'point-gaol'" in message
    assert "Did you mean 'point-goal'?" in message
    for name in ("point-goal", "point-multi-task", "ml1-push-v2", "toy", "metaworld-v1"):
        assert name in message  # suites and groups are valid names
    assert isinstance(info.value, KeyError)  # callers catching KeyError keep working


def test_unknown_names_in_groups_resolve_and_methods() -> None:
    with pytest.raises(UnknownNameError, match=r"suite group 'nonstat'\. Did you mean 'nonstationary'"):
        list_suites("nonstat")
    with pytest.raises(UnknownNameError, match=r"Did you mean 'ml1-push-v1'\?"):
        resolve_suites("toy,ml1-psh-v1")
    with pytest.raises(UnknownNameError, match=r"Unknown method 'radnom'\. Did you mean 'random'"):
        get_method("radnom")
    with pytest.raises(UnknownNameError, match=r"Valid methods: .*random"):
        resolve_methods("random,zzzzzzzz")


def test_unknown_name_without_close_match_still_lists_valid_names() -> None:
    with pytest.raises(UnknownNameError) as info:
        get_suite("qqqqqqqqqqqq")
    assert "Did you mean" not in str(info.value)
    assert "Valid suites: " in str(info.value) and "point-goal" in str(info.value)


# ------------------------------------------------------------------------------------------- duplicates


def test_duplicate_suite_registration_raises() -> None:
    before = _names(list_suites())
    with pytest.raises(ValueError, match="'point-goal' is already registered"):
        register_suite(get_suite("point-goal"))
    with pytest.raises(ValueError, match="collides with a group name"):
        register_suite(dataclasses.replace(get_suite("point-goal"), name="toy"))
    assert _names(list_suites()) == before


def test_duplicate_method_registration_raises() -> None:
    name = list_methods()[0]
    with pytest.raises(ValueError, match=f"method {name!r} is already registered"):
        register_method(name)(type("Clone", (Method,), {}))
    assert get_method(name).name == name


def test_registry_object() -> None:
    reg: Registry[int] = Registry("widget")
    reg.add("a", 1)
    assert reg.get("a") == 1 and "a" in reg and reg.names() == ["a"]
    with pytest.raises(ValueError, match="widget 'a' is already registered"):
        reg.add("a", 2)
    with pytest.raises(UnknownNameError, match=r"Unknown widget 'b'\. Valid widgets: a"):
        reg.get("b")


def test_methods_resolve_in_order() -> None:
    names = list_methods()
    assert "random" in names and len(names) == len(set(names))
    picked = resolve_methods(f"{names[-1]}, random ,{names[-1]}")
    assert [m.name for m in picked] == [names[-1], "random"]
    with pytest.raises(ValueError, match="no method"):
        resolve_methods("")


def test_listing_order_does_not_depend_on_import_order() -> None:
    """A program that imports suites.mujoco before the registry loads the built-ins lists the same order."""
    code = (
        "import suites.mujoco, methods.moss\n"
        "from harness.registry import list_suites, list_methods\n"
        "print([s.name for s in list_suites()]); print(list_methods())"
    )
    plain = "from harness.registry import list_suites, list_methods\n" + code.split("\n", 1)[1]
    outs = [subprocess.run([sys.executable, "-c", c], capture_output=True, text=True, check=True).stdout
            for c in (code, plain)]
    assert outs[0] == outs[1]
    assert outs[1].startswith("['point-goal'")
