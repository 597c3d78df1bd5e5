"""Config loading: layer precedence, --set typing, unknown keys and bad values fail loudly."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import pytest

from harness.config import (
    ConfigError,
    config_from_dict,
    config_to_dict,
    load_config,
    parse_set,
    parse_sets,
    read_hparams_file,
)
from harness.profiles import PROFILES, get_profile
from harness.registry import UnknownNameError, get_method, get_suite, list_suites


@dataclass(frozen=True, kw_only=True)
class Cfg:
    """Test config with one field of each supported type."""

    lr: float = 3e-4
    """float"""
    hidden: int = 256
    """int"""
    layers: tuple[int, ...] = (256, 256)
    """tuple"""
    pair: tuple[int, float] = (1, 2.0)
    """fixed tuple"""
    names: list[str] | None = None
    """optional list"""
    use_gmm: bool = True
    """bool"""
    kind: Literal["a", "b"] = "a"
    """literal"""
    clip: float | None = None
    """optional float"""
    tag: str = "x"
    """str"""


SCOPES = ["point-goal", "point-goal-nonstat", "toy", "parametric"]

HPARAMS = {
    "default": {"hidden": 1, "lr": 1.0},
    "toy": {"hidden": 2, "layers": [8]},
    "point-goal": {"hidden": 3},
    "parametric": {"hidden": 99},
    "profiles": {
        "quick": {"default": {"hidden": 4, "tag": "q"}, "toy": {"hidden": 5}, "point-goal": {"hidden": 6}},
        "smoke": {"default": {"hidden": 7}},
    },
}


def load(**kw):
    base = dict(hparams=HPARAMS, suite="point-goal", group="toy", profile="quick", scopes=SCOPES)
    base.update(kw)
    return load_config(Cfg, **base)


def test_precedence_of_every_layer():
    assert load_config(Cfg).hidden == 256
    assert load(profile="paper").hidden == 3  # suite beats group beats default
    assert load(profile="paper", suite="point-goal-nonstat").hidden == 2
    assert load(profile="paper", suite="point-goal-nonstat").layers == (8,)
    assert load(profile="paper", suite="point-goal-nonstat", group="parametric").hidden == 99
    assert load(profile="smoke").hidden == 7  # profile default beats the suite section
    assert load(suite="point-goal-nonstat").hidden == 5  # profile group
    cfg = load()
    assert (cfg.hidden, cfg.tag, cfg.lr) == (6, "q", 1.0)  # profile suite; untouched keys fall through
    assert load(file_overrides={"hidden": 8}).hidden == 8
    assert load(file_overrides={"hidden": 8}, trial={"hidden": 9}).hidden == 9
    assert load(file_overrides={"hidden": 8}, trial={"hidden": 9}, sets={"hidden": 10}).hidden == 10


@pytest.mark.parametrize(("item", "field", "value"), [
    ("lr=1e-3", "lr", 0.001),  # YAML reads 1e-3 as a string: coerced
    ("lr=1", "lr", 1.0),
    ("hidden=1e3", "hidden", 1000),
    ("hidden=64.0", "hidden", 64),
    ("layers=[64, 64]", "layers", (64, 64)),
    ("pair=[3, 4]", "pair", (3, 4.0)),
    ("use_gmm=false", "use_gmm", False),
    ("kind=b", "kind", "b"),
    ("clip=none", "clip", None),
    ("clip=0.5", "clip", 0.5),
    ("tag=123", "tag", "123"),
    ("names=[a, b]", "names", ["a", "b"]),
])
def test_set_values_are_parsed_and_coerced(item, field, value):
    cfg = load_config(Cfg, sets=parse_sets([item]))
    assert getattr(cfg, field) == value and type(getattr(cfg, field)) is type(value)


@pytest.mark.parametrize(("item", "pattern"), [
    ("hiden=3", r"unknown config key 'hiden'\. Did you mean 'hidden'\?.*Valid keys: clip, hidden"),
    ("hidden=3.5", r"Cfg.hidden \(type int\): 3.5"),
    ("hidden=true", r"Cfg.hidden \(type int\): True"),
    ("use_gmm=1", r"Cfg.use_gmm \(type bool\): 1"),
    ("kind=c", r"Cfg.kind .*'c' \(expected one of \['a', 'b'\]"),
    ("lr=fast", r"Cfg.lr \(type float\): 'fast'"),
    ("layers=3", r"Cfg.layers .*expected a list"),
    ("pair=[1, 2, 3]", r"Cfg.pair .*expected 2 items"),
])
def test_bad_set_fails_naming_field_type_and_value(item, pattern):
    with pytest.raises(ConfigError, match=pattern):
        load_config(Cfg, sets=parse_sets([item]))


@pytest.mark.parametrize("item", ["novalue", "=3", "x=[1,"])
def test_malformed_set(item):
    with pytest.raises(ConfigError, match="--set"):
        parse_set(item)


def test_unknown_yaml_keys_and_sections_fail_whatever_suite_runs():
    bad_key = {**HPARAMS, "parametric": {"hiddne": 1}}
    with pytest.raises(ConfigError, match=r"\[parametric\]: unknown config key 'hiddne'.*'hidden'"):
        load(hparams=bad_key)  # running point-goal: the parametric section is still checked
    with pytest.raises(ConfigError, match=r"unknown section 'pointgoal'.*'point-goal'"):
        load(hparams={"pointgoal": {"hidden": 1}})
    with pytest.raises(ConfigError, match=r"\[profiles\]: unknown section 'quik'.*'quick'"):
        load(hparams={"profiles": {"quik": {}}})
    with pytest.raises(ConfigError, match=r"\[profiles.quick.toy\].*Cfg.lr"):
        load(hparams={"profiles": {"quick": {"toy": {"lr": "abc"}}}})


def test_hparams_file_forms(tmp_path):
    flat = tmp_path / "flat.yaml"
    flat.write_text("hidden: 32\nlr: 1e-3\n")
    assert read_hparams_file(flat) == {"*": {"hidden": 32, "lr": "1e-3"}}
    per = tmp_path / "per.yaml"
    per.write_text("methods:\n  moss: {hidden: 16}\n  pearl: {lr: 0.1}\n")
    assert read_hparams_file(per) == {"moss": {"hidden": 16}, "pearl": {"lr": 0.1}}
    bad = tmp_path / "bad.yaml"
    bad.write_text("methods: {moss: 3}\n")
    with pytest.raises(ConfigError, match="must map method names"):
        read_hparams_file(bad)


def test_config_dict_round_trip():
    cfg = load_config(Cfg, sets={"layers": [1, 2], "clip": 0.5})
    d = config_to_dict(cfg)
    assert d["layers"] == [1, 2] and d["clip"] == 0.5
    assert config_from_dict(Cfg, d) == cfg


def test_profiles_numbers():
    goal, cheetah = get_suite("point-goal"), get_suite("cheetah-vel")
    smoke, quick, paper = (get_profile(n) for n in ("smoke", "quick", "paper"))
    assert smoke.budget(goal) == 4 * goal.horizon and smoke.num_tasks(cheetah) == (2, 2)
    assert smoke.eval_every(goal, smoke.budget(goal)) == smoke.budget(goal)  # one evaluation, at the end
    assert quick.budget(goal) == 30_000 and quick.eval_every(goal, 30_000) == 3_000
    assert quick.num_tasks(goal) == (goal.n_train, goal.n_test)
    assert quick.num_tasks(cheetah) == (10, 5) and quick.budget(cheetah) == 50_000
    assert paper.num_tasks(cheetah) == (cheetah.n_train, cheetah.n_test)
    assert paper.budget(cheetah) == 3_026_000 and paper.budget(goal) == 2_000_000
    bench = get_profile("bench")
    assert bench.budget(cheetah) == 200_000 and bench.num_tasks(cheetah) == (cheetah.n_train, cheetah.n_test)
    assert bench.eval_every(cheetah, 200_000) == 20_000
    assert sorted(PROFILES) == ["bench", "paper", "quick", "smoke"]
    with pytest.raises(UnknownNameError, match="Did you mean 'quick'"):
        get_profile("quik")


def test_paper_budgets_are_declared_by_the_suites_and_match_the_moss_schedules():
    """The ``paper`` profile reads each suite's declared ``paper_budget`` (2M steps where none is declared);
    the declared numbers are the MoSS paper's schedules, as ``Moss.published_budget`` computes them."""
    paper, moss = get_profile("paper"), get_method("moss")
    declared = {s.name: s.paper_budget for s in list_suites() if s.paper_budget is not None}
    assert declared == {"cheetah-vel": 3_026_000, "cheetah-multi-task": 42_028_000,
                        "ml1-push-v1": 60_064_000, "ml1-push-v2": 60_064_000}
    for suite in list_suites():
        assert paper.budget(suite) == declared.get(suite.name, 2_000_000)
        assert moss.published_budget(suite) == suite.paper_budget


def test_bench_runs_warn_where_the_oracle_does_not_learn_at_the_budget(tmp_path, monkeypatch) -> None:
    """A suite in ``BENCH_UNMET`` warns at the bench profile's own budget (and the warning names the
    suite and what was measured), not at a budget the user chose, and not on suites whose criterion is met."""
    from harness.profiles import BENCH_BUDGETS, BENCH_CRITERIA, BENCH_UNMET
    from harness.runner import Job, resolve_job

    def warnings(suite: str, budget: int | None) -> tuple[str, ...]:
        job = Job(suite=suite, method="random", seed=0, out=str(tmp_path), profile="bench", budget=budget)
        return resolve_job(job).warnings

    assert set(BENCH_UNMET) <= set(BENCH_CRITERIA)
    for suite in BENCH_CRITERIA:
        assert (warnings(suite, None) != ()) == (suite in BENCH_UNMET), suite
    monkeypatch.setitem(BENCH_UNMET, "cheetah-dir", "measured: it stood still")
    (caveat,) = warnings("cheetah-dir", None)
    assert "does not reliably learn cheetah-dir" in caveat and "it stood still" in caveat
    assert "--per-task" in caveat
    assert f"{BENCH_BUDGETS['cheetah-dir']} env steps" in caveat
    assert warnings("cheetah-dir", 1_000_000) == ()
