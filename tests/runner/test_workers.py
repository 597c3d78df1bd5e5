"""Same command, same numbers, whatever ``--workers`` is: each job pins its own torch threads."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import torch
import yaml

from harness import store
from harness.cli import main
from harness.runner import DEFAULT_TORCH_THREADS
from tests.runner.runner_scripted import PLUGIN  # importing it registers the scripted methods

GRID = ["run", "--plugin", PLUGIN, "--suite", "point-goal", "--method", "scripted-linear",
        "--seeds", "0,1", "--profile", "smoke", "--budget", "120", "--eval-every", "60", "--device", "cpu"]


def frame(out: Path, seed: int, name: str) -> pd.DataFrame:
    df = pd.read_parquet(store.run_dir(out, "point-goal", "scripted-linear", seed) / name)
    return df.drop(columns=[c for c in store.TIMING_COLUMNS if c in df.columns])


def test_one_and_two_workers_give_the_same_numbers(tmp_path: Path) -> None:
    before = torch.get_num_threads()
    torch.set_num_threads(2)  # what an in-process run inherits on a machine with several cores
    try:
        assert main([*GRID, "--workers", "1", "--out", str(tmp_path / "w1")]) == 0
        assert torch.get_num_threads() == 2  # restored after the jobs
    finally:
        torch.set_num_threads(before)
    assert main([*GRID, "--workers", "2", "--out", str(tmp_path / "w2")]) == 0
    for seed in (0, 1):
        for name in (store.EVAL_FILE, store.TRAIN_FILE):
            one, two = frame(tmp_path / "w1", seed, name), frame(tmp_path / "w2", seed, name)
            pd.testing.assert_frame_equal(one, two, obj=name)
        threads = frame(tmp_path / "w1", seed, store.TRAIN_FILE)["torch_threads"]
        assert (threads == DEFAULT_TORCH_THREADS).all()
        config = yaml.safe_load((store.run_dir(tmp_path / "w2", "point-goal", "scripted-linear", seed)
                                 / store.CONFIG_FILE).read_text())
        assert config["torch_threads"] == DEFAULT_TORCH_THREADS


def test_threads_option_is_part_of_the_config(tmp_path: Path, capsys) -> None:
    out = ["--out", str(tmp_path / "exp")]
    assert main([*GRID, "--seeds", "0", "--threads", "2", *out]) == 0
    train = frame(tmp_path / "exp", 0, store.TRAIN_FILE)
    assert (train["torch_threads"] == 2).all()
    assert main([*GRID, "--seeds", "0", *out]) == 2  # 1 thread would give other numbers: refused
    assert "different configuration (torch_threads)" in capsys.readouterr().err
