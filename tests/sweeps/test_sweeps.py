"""Optuna sweeps on a toy suite: trials run, pruning stops a bad trial, studies resume, best exports."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest
import yaml

from harness import sweeps
from harness.cli import main
from harness.runner import Job, load_plugins, resolve_job
from harness.store import scan_results

PLUGIN = str(Path(__file__).parents[1] / "fixtures" / "sweep_plugin.py")


def spec(tmp_path: Path, **kw: object) -> sweeps.SweepSpec:
    base = dict(
        suites=("point-goal",), method="constant-mover", seeds=(0, 1), out=str(tmp_path / "sweep"),
        study="s", profile="smoke", budget=200, eval_every=40, plugins=(PLUGIN,), sampler_seed=0,
        device="cpu",
    )
    base.update(kw)
    return sweeps.SweepSpec(**base)  # type: ignore[arg-type]


def test_sweep_runs_trials_writes_results_and_resumes(tmp_path: Path) -> None:
    s = spec(tmp_path, pruner="none")
    study = sweeps.run_sweep(s, trials=3)
    assert len(study.trials) == 3
    assert all(t.state == optuna.trial.TrialState.COMPLETE for t in study.trials)
    # objective = IQM over the seeds' final scores, which the results store holds too
    records = scan_results(s.out)
    assert {r.method for r in records} == {f"constant-mover@trial-{i}" for i in range(3)}
    assert all(r.ok for r in records) and len(records) == 6
    # resuming adds trials instead of starting over
    study = sweeps.run_sweep(s, trials=2)
    assert len(study.trials) == 5
    assert [t.number for t in study.trials] == [0, 1, 2, 3, 4]


def test_pruner_stops_a_bad_trial(tmp_path: Path) -> None:
    s = spec(tmp_path, pruner="median", seeds=(0,))
    load_plugins(s.plugins)
    study = sweeps.load_study(s)
    for gain in (1.0, 0.9, -1.0):  # two good startup trials, then a deliberately bad one
        study.enqueue_trial({"gain": gain})
    study = sweeps.run_sweep(s, trials=3)
    states = [t.state for t in study.trials]
    assert states[:2] == [optuna.trial.TrialState.COMPLETE] * 2
    assert states[2] == optuna.trial.TrialState.PRUNED
    bad = [r for r in scan_results(s.out) if r.method.endswith("trial-2")]
    assert bad and bad[0].status == "pruned"
    assert bad[0].frame("eval.parquet") is not None  # evaluations before the prune are kept


def test_export_best_feeds_harness_run(tmp_path: Path) -> None:
    s = spec(tmp_path, pruner="none", seeds=(0,))
    load_plugins(s.plugins)
    study = sweeps.load_study(s)
    for gain in (-0.5, 0.5, 0.0):
        study.enqueue_trial({"gain": gain})
    study = sweeps.run_sweep(s, trials=3)
    assert study.best_trial.params["gain"] == 0.5
    best = tmp_path / "best.yaml"
    sweeps.export_best(study, "constant-mover", best)
    assert yaml.safe_load(best.read_text()) == {"methods": {"constant-mover": {"gain": 0.5}}}
    job = Job(suite="point-goal", method="constant-mover", seed=0, out=str(tmp_path / "r"), profile="smoke",
              hparams_file=str(best), plugins=(PLUGIN,))
    assert resolve_job(job).config.gain == 0.5


def test_cli_sweep_and_export(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "cli"
    args = ["sweep", "--suite", "point-goal", "--method", "constant-mover", "--trials", "2", "--seeds", "0",
            "--profile", "smoke", "--pruner", "none", "--out", str(out), "--plugin", PLUGIN,
            "--device", "cpu"]
    assert main(args) == 0
    assert "best trial" in capsys.readouterr().out
    assert main([*args, "--export-best", str(tmp_path / "b.yaml")]) == 0
    assert "constant-mover" in (tmp_path / "b.yaml").read_text()
    # a method without a search space is refused before anything runs
    assert main(["sweep", "--suite", "point-goal", "--method", "random", "--trials", "1",
                 "--out", str(tmp_path / "x")]) == 2
    assert "no search space" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_iqm_matches_rliable() -> None:
    import numpy as np
    from rliable import metrics

    x = np.array([1.0, 2.0, 3.0, 4.0, 100.0, -50.0, 7.0, 8.0])
    assert sweeps.iqm(x) == pytest.approx(metrics.aggregate_iqm(x))
