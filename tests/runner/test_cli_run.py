"""``harness run`` end to end (in-process): validation before writing, exit codes, summary, options."""

from __future__ import annotations

import io
import json
import sys

import pandas as pd
import pytest
import yaml

from harness import store
from harness.cli import main
from harness.cli.run_cmd import parse_budget, parse_seeds
from harness.config import sets_for_method
from harness.progress import ProgressEvent, ProgressPrinter
from harness.registry import UnknownNameError
from tests.runner.runner_scripted import PLUGIN  # importing it registers the scripted methods

BASE = ["run", "--plugin", PLUGIN, "--device", "cpu", "--profile", "smoke"]


def run(tmp_path, *args: str) -> int:
    return main([*BASE, "--out", str(tmp_path / "exp"), *args])


def table_rows(out: str, status: str) -> int:
    """Summary-table rows (they start with the suite name) with ``status``."""
    return sum(line.startswith("point-goal ") and f" {status} " in line for line in out.splitlines())


@pytest.mark.parametrize(("args", "message"), [
    (["--suite", "point-gaol", "--method", "scripted-linear"],
     "Unknown suite 'point-gaol'. Did you mean 'point-goal'"),
    (["--suite", "toy", "--method", "scripted-lin"], "Did you mean 'scripted-linear'"),
    (["--suite", "toy", "--method", "scripted-linear", "--set", "lr"], "--set 'lr': expected key=value"),
    (["--suite", "toy", "--method", "scripted-linear", "--set", "hiden=3"], "Did you mean 'hidden'"),
    (["--suite", "toy", "--method", "scripted-linear", "--set", "hidden=abc"],
     "LinearConfig.hidden (type int)"),
    (["--suite", "point-goal", "--method", "scripted-linear", "--budget", "19"], "below one episode"),
    (["--suite", "point-goal", "--method", "scripted-linear", "--budget", "lots"], "--budget"),
    (["--suite", "point-goal", "--method", "scripted-linear", "--seeds", "0,x"], "--seeds"),
    (["--suite", "point-goal", "--method", "scripted-linear", "--executor", "slurm"], "Unknown executor"),
    (["--suite", "point-goal", "--method", "scripted-linear", "--plugin", "no_such_mod"], "cannot import"),
    (["--suite", "point-goal", "--method", "scripted-linear", "--device", "tpu"], "unknown device"),
    (["--suite", "point-goal", "--method", "scripted-linear", "--eval-episodes", "0"], "eval episodes"),
])
def test_bad_input_exits_2_and_writes_nothing(tmp_path, capsys, args, message):
    assert run(tmp_path, *args) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "exp").exists()


def test_run_summary_failures_and_skips(tmp_path, capsys):
    args = ["--suite", "point-goal", "--method", "scripted-linear,scripted-probe", "--seeds", "0-1",
            "--budget", "120"]
    assert run(tmp_path, *args) == 0
    out = capsys.readouterr().out
    assert "4 jobs: 4 new, 0 to resume, 0 finished" in out
    assert "suite       method           seed  status    env steps  zero-shot" in out
    assert table_rows(out, "finished") == 4 and f"results: {tmp_path / 'exp'}" in out
    # same command again: everything is skipped
    assert run(tmp_path, *args) == 0
    assert table_rows(capsys.readouterr().out, "skipped") == 4
    # a different config in the same --out is refused before anything runs
    assert run(tmp_path, *args, "--set", "tasks_per_step=2") == 2
    assert "different configuration" in capsys.readouterr().err
    # a failing job: exit 1, named, the other jobs complete
    args2 = ["--suite", "point-goal", "--method", "scripted-linear", "--seeds", "5,6", "--budget", "120"]
    assert run(tmp_path, *args2, "--set", "raise_at=0", "--out", str(tmp_path / "fail")) == 1
    err = capsys.readouterr().err
    assert "2 job(s) failed" in err
    assert "point-goal/scripted-linear/seed=5: RuntimeError: scripted failure" in err
    records = store.scan_results(tmp_path / "exp")
    assert len(records) == 4 and all(r.ok for r in records)


def test_hparams_file_published_budget_and_tensorboard(tmp_path, capsys):
    hp = tmp_path / "best.yaml"
    hp.write_text(yaml.safe_dump({"methods": {"scripted-linear": {"hidden": 5, "lr": 0.2}}}))
    args = ["--suite", "point-goal", "--method", "scripted-linear", "--budget", "published",
            "--hparams", str(hp), "--set", "lr=0.3", "--eval-episodes", "3", "--tensorboard"]
    assert run(tmp_path, *args) == 0
    out = capsys.readouterr().out
    assert "warning: scripted-linear has no published budget for point-goal" in out
    rd = store.run_dir(tmp_path / "exp", "point-goal", "scripted-linear", 0)
    cfg = yaml.safe_load((rd / store.CONFIG_FILE).read_text())
    assert cfg["config"]["hidden"] == 5 and cfg["config"]["lr"] == 0.3  # --set beats --hparams
    assert cfg["budget"] == 80 and cfg["budget_mode"] == "profile" and cfg["eval_episodes"] == 3
    assert pd.read_parquet(rd / store.EVAL_FILE)["episode"].max() == 2
    assert any((rd / "tb").iterdir())
    assert json.loads((rd / store.META_FILE).read_text())["warnings"]


def test_parsers():
    assert parse_seeds("0-2,5,1") == [0, 1, 2, 5]
    assert parse_budget("2e5") == 200_000 and parse_budget("published") == "published"
    with pytest.raises(ValueError):
        parse_budget("0")
    sets = ["a=1", "scripted-linear.b=2", "scripted-probe.c=3"]
    assert sets_for_method(sets, "scripted-linear") == {"a": 1, "b": 2}
    with pytest.raises(UnknownNameError, match="Did you mean 'scripted-probe'"):
        sets_for_method(["scripted-prob.c=3"], "scripted-linear")


def test_tensorboard_missing_is_a_clear_error(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # import now raises ImportError
    assert run(tmp_path, "--suite", "point-goal", "--method", "scripted-linear", "--tensorboard") == 2
    assert "pip install 'metarl-harness[tensorboard]'" in capsys.readouterr().err
    assert not (tmp_path / "exp").exists()


def test_progress_lines():
    printer_out = io.StringIO()
    printer = ProgressPrinter(printer_out, interval=3600)
    key = "point-goal/moss/seed=0"
    printer(ProgressEvent("start", key, budget=1000))
    printer(ProgressEvent("progress", key, env_steps=100, budget=1000, steps_per_s=50.0, eta_s=18.0))
    printer(ProgressEvent("eval", key, env_steps=500, budget=1000, steps_per_s=50.0, eta_s=10.0,
                          eval_index=0, zero_shot=-12.5, k_shot=-8.25))
    printer(ProgressEvent("end", key, env_steps=1000, budget=1000, status="finished"))
    lines = printer_out.getvalue().splitlines()
    assert lines == [
        "[point-goal/moss/seed=0] start  budget 1000 env steps",
        "[point-goal/moss/seed=0] 500/1000 (50.0%)  50 steps/s  ETA 10s  eval 0: zero-shot -12.5, last -8.25"
        " (return)",
        "[point-goal/moss/seed=0] finished  1000/1000 env steps",
    ]  # the progress line was throttled (interval), start/eval/end always print
