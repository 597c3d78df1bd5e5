"""``harness list``: suites and methods as a table and as JSON, in-process and via ``python -m harness``."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys

import pytest

from harness.cli import main
from harness.cli.list_cmd import format_table
from harness.registry import get_method, list_methods, list_suites


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["list", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_suite_table_has_a_row_per_suite(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys)
    assert code == 0
    lines = out.splitlines()
    header = ["suite", "group", "horizon", "metric", "train", "test", "obs", "act", "description"]
    assert lines[0].split() == header
    assert set(lines[1]) <= {"-", " "}
    rows = {line.split()[0]: line.split() for line in lines[2:]}
    assert list(rows) == [s.name for s in list_suites()]
    for suite in list_suites():
        row = rows[suite.name]
        spec = suite.spec
        assert row[1:8] == [suite.group, str(suite.horizon), suite.metric, str(suite.n_train),
                            str(suite.n_test), str(spec.obs_dim), str(spec.act_dim)]
    assert rows["ml1-push-v2"][1:8] == ["metaworld-v2", "500", "success", "50", "50", "39", "4"]
    assert rows["point-goal"][1:8] == ["toy", "20", "return", "40", "20", "2", "2"]


def test_suite_json_is_the_suite_summaries(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "--json")
    assert code == 0
    assert json.loads(out) == [s.summary() for s in list_suites()]


def test_group_filter(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "--group", "metaworld-v1", "--json")
    assert code == 0
    assert [row["name"] for row in json.loads(out)] == ["ml1-reach-v1", "ml1-push-v1", "ml1-pick-place-v1"]
    code, out, _ = _run(capsys, "--group", "toy")
    assert [line.split()[0] for line in out.splitlines()[2:]] == [
        "point-goal", "point-goal-nonstat", "point-multi-task",
    ]


def test_unknown_group_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(capsys, "--group", "metaworld")
    assert code == 2 and out == ""
    assert "Unknown suite group 'metaworld'" in err and "metaworld-v1" in err
    code, _, err = _run(capsys, "--methods", "--group", "toy")
    assert code == 2 and "--group" in err


def test_methods_table_and_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "--methods")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split()[:2] == ["method", "config"]
    assert [line.split()[0] for line in lines[2:]] == list_methods()
    code, out, _ = _run(capsys, "--methods", "--json")
    assert code == 0
    rows = json.loads(out)
    assert [row["name"] for row in rows] == list_methods()
    for row in rows:
        cls = get_method(row["name"])
        module, _, qualname = row["config"].rpartition(".")
        assert getattr(importlib.import_module(module), qualname) is cls.config_cls
        assert row["eval_episodes"] == cls.eval_episodes and row["sees_task"] == cls.sees_task
        assert "\n" not in row["description"]
        if cls.__module__.startswith("methods."):  # built-ins are documented (tests may register others)
            assert row["description"], row["name"]
    by_name = {row["name"]: row for row in rows}
    assert by_name["random"]["sees_task"] is False
    if "sac-oracle" in by_name:
        assert by_name["sac-oracle"]["sees_task"] is True


def test_format_table_aligns_columns() -> None:
    table = format_table([{"a": "x", "b": True}, {"a": "longer", "b": None}], [("a", "A"), ("b", "B")])
    assert table.splitlines() == ["A       B", "------  ---", "x       yes", "longer  -"]


def test_python_dash_m_harness_list_json() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "harness", "list", "--json"], capture_output=True, text=True, timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(proc.stdout)
    # Other tests in this process may have registered plugin suites: compare the built-in ones.
    builtin = [s.name for s in list_suites() if type(s).__module__.startswith("suites.")]
    assert [row["name"] for row in rows if row["name"] in builtin] == builtin
    assert len(builtin) >= 9 and all(set(row) == set(list_suites()[0].summary()) for row in rows)


def test_plain_list_imports_neither_torch_nor_the_methods() -> None:
    """``python -m harness list`` reads the suites only: no torch, no method package, no runner."""
    code = (
        "import runpy, sys\n"
        "sys.argv = ['harness', 'list']\n"
        "try:\n"
        "    runpy.run_module('harness', run_name='__main__', alter_sys=True)\n"
        "except SystemExit as stop:\n"
        "    assert stop.code == 0, stop.code\n"
        "heavy = ['torch', 'methods', 'harness.runner', 'pandas']\n"
        "print('LOADED', *[m for m in heavy if m in sys.modules])\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[-1] == "LOADED"
