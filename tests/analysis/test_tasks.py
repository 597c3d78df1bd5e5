"""Per-task columns (``harness compare --per-task``): labels, which suites are split, and the table."""

from __future__ import annotations

import io
import json
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from harness.analysis.table import compare
from harness.analysis.tasks import split_by_task, task_label
from harness.cli import main

REFERENCE = Path(__file__).resolve().parents[2] / "results" / "reference" / "bench"


def _task(angle: float) -> str:
    return json.dumps({"kind": "PlanarDirectionTask", "base_id": 0, "angle": angle})


def _evals(suite: str, tasks: list[str], scores: dict[tuple[str, int], list[float]]) -> pd.DataFrame:
    """One evaluation (index 0) of each (method, seed): ``scores[(method, seed)][i]`` on ``tasks[i]``."""
    rows = []
    for (method, seed), values in scores.items():
        for task_id, (task, value) in enumerate(zip(tasks, values, strict=True)):
            rows.append({"suite": suite, "method": method, "seed": seed, "eval_index": 0, "env_steps": 100,
                         "task_id": task_id, "task": task, "episode": 0, "return": value, "success": False,
                         "length": 10, "metric": "return"})
    return pd.DataFrame(rows)


def test_task_label_names_the_task_by_what_it_asks() -> None:
    assert task_label(_task(3.141592653589793), 1) == "angle=3.14"
    velocity = json.dumps({"kind": "VelocityTask", "base_id": 0, "velocity": 1.5})
    assert task_label(velocity, 0) == "velocity=1.5"
    assert task_label(json.dumps({"kind": "X", "base_id": 2}), 4) == "task 4"
    goal = json.dumps({"goal": [0.44271, -0.9551], "name": "reach"})
    assert task_label(goal, 0) == "goal=[0.443, -0.955], name=reach"
    assert task_label("not json", 2) == "task 2"
    assert task_label("[1, 2]", 3) == "task 3"


def test_two_task_suite_splits_and_a_one_way_walker_no_longer_looks_like_a_two_way_one() -> None:
    tasks = [_task(0.0), _task(np.pi)]
    # one-way: 600 forward, 0 backward (mean 300); two-way: 300 both ways (mean 300)
    evals = _evals("ant-dir", tasks, {("one-way", 0): [600.0, 0.0], ("one-way", 1): [600.0, 0.0],
                                      ("two-way", 0): [300.0, 300.0], ("two-way", 1): [300.0, 300.0]})
    whole = compare(evals, np.random.default_rng(0), reps=200).cells.set_index("method")
    assert whole.loc["one-way", "point"] == pytest.approx(whole.loc["two-way", "point"])
    split, notes = split_by_task(evals)
    assert notes == []
    assert sorted(split["suite"].unique()) == ["ant-dir (angle=0)", "ant-dir (angle=3.14)"]
    cells = compare(split, np.random.default_rng(0), reps=200).cells.set_index(["method", "column"])
    assert cells.loc[("one-way", "ant-dir (angle=3.14)"), "point"] == pytest.approx(0.0)
    assert cells.loc[("two-way", "ant-dir (angle=3.14)"), "point"] == pytest.approx(300.0)
    assert bool(cells.loc[("two-way", "ant-dir (angle=3.14)"), "best"])
    assert bool(cells.loc[("one-way", "ant-dir (angle=0)"), "best"])
    pd.testing.assert_frame_equal(split.drop(columns="suite"), evals.drop(columns="suite"))


def test_suites_with_many_tasks_stay_whole_with_a_note() -> None:
    many = _evals("cheetah-vel", [json.dumps({"velocity": v / 10}) for v in range(6)], {("m", 0): [1.0] * 6})
    few = _evals("ant-dir", [_task(0.0), _task(np.pi)], {("m", 0): [1.0, 2.0]})
    split, notes = split_by_task(pd.concat([many, few], ignore_index=True), max_tasks=4)
    assert set(split["suite"]) == {"cheetah-vel", "ant-dir (angle=0)", "ant-dir (angle=3.14)"}
    assert notes == ["cheetah-vel kept whole: 6 test tasks (split only up to 4)"]
    with pytest.raises(ValueError, match="max_tasks"):
        split_by_task(few, max_tasks=0)
    with pytest.raises(ValueError, match="min_tasks"):
        split_by_task(few, min_tasks=5)


def test_suites_below_min_tasks_stay_whole_with_a_note() -> None:
    one = _evals("reach", [json.dumps({"goal": [0.1, 0.2]})], {("m", 0): [1.0]})
    two = _evals("ant-dir", [_task(0.0), _task(np.pi)], {("m", 0): [1.0, 2.0]})
    split, notes = split_by_task(pd.concat([one, two], ignore_index=True), min_tasks=2)
    assert set(split["suite"]) == {"reach", "ant-dir (angle=0)", "ant-dir (angle=3.14)"}
    assert notes == ["reach kept whole: 1 test task(s) (split only from 2)"]


def test_tasks_that_read_alike_are_numbered_not_merged() -> None:
    clash = [json.dumps({"kind": "A", "w": 1.00001}), json.dumps({"kind": "A", "w": 1.00002})]  # both "w=1"
    split, _ = split_by_task(_evals("s", clash, {("m", 0): [1.0, 2.0]}))
    assert sorted(split["suite"].unique()) == ["s (task 0)", "s (task 1)"]


@pytest.mark.skipif(not REFERENCE.is_dir(), reason="no ant-dir reference results")
def test_compare_per_task_on_the_shipped_ant_dir_runs(tmp_path: Path) -> None:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(["compare", str(REFERENCE), "--per-task", "-o", str(tmp_path), "--reps", "300"])
    assert code == 0, err.getvalue()
    row = next(line for line in out.getvalue().splitlines() if line.startswith("| sac-oracle"))
    # seed 0 walks backward only (185 / 629), seed 1 both ways (455 / 463): per direction the means
    assert row.startswith("| sac-oracle | 320 ") and "| 546 " in row
    assert (tmp_path / "compare-final-k_final-per_task.md").is_file()
