"""Results store: atomic writes and readers that tolerate missing, partial and corrupt runs."""

from __future__ import annotations

import pandas as pd
import pytest

from harness import store


def test_atomic_write_keeps_old_file_when_writing_fails(tmp_path):
    path = tmp_path / "x.json"
    store.write_json(path, {"a": 1})

    def boom(f):
        f.write(b'{"half": ')
        raise RuntimeError("killed mid-write")

    with pytest.raises(RuntimeError):
        store.atomic_write(path, boom)
    assert store.read_json(path) == {"a": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["x.json"]  # no temp file left behind


def _finished_run(root, suite, method, seed):
    rd = store.run_dir(root, suite, method, seed)
    store.write_yaml(rd / store.CONFIG_FILE, {"method": method, "suite": suite, "seed": seed})
    store.write_json(rd / store.META_FILE, {"status": store.FINISHED})
    store.write_parquet(rd / store.TRAIN_FILE, pd.DataFrame({"iteration": [0], "env_steps": [10]}))
    store.write_parquet(rd / store.EVAL_FILE, pd.DataFrame({"eval_index": [0], "return": [1.5]}))
    return rd


def test_scan_results_reports_problems(tmp_path):
    _finished_run(tmp_path, "point-goal", "moss", 0)
    _finished_run(tmp_path, "point-goal", "moss", 1)
    (store.run_dir(tmp_path, "point-goal", "moss", 1) / store.EVAL_FILE).write_bytes(b"not parquet")
    rd = _finished_run(tmp_path, "point-goal", "pearl", 0)
    (rd / store.TRAIN_FILE).unlink()
    rd = _finished_run(tmp_path, "point-goal", "rl2", 0)
    (rd / store.META_FILE).unlink()
    rd = _finished_run(tmp_path, "point-goal", "varibad", 0)
    store.write_json(rd / store.META_FILE, {"status": store.RUNNING})
    store.run_dir(tmp_path, "cheetah-vel", "moss", 0).mkdir(parents=True)  # empty directory

    recs = {(r.suite, r.method, r.seed): r for r in store.scan_results(tmp_path)}
    assert len(recs) == 5  # the empty directory is a stray, not a run (see test_stray_folders_...)
    assert recs["point-goal", "moss", 0].ok and recs["point-goal", "moss", 0].experiment == tmp_path.name
    assert recs["point-goal", "moss", 1].problems == ["eval.parquet corrupt"]
    assert recs["point-goal", "pearl", 0].problems == ["train.parquet missing"]
    assert recs["point-goal", "rl2", 0].status == store.INCOMPLETE
    assert "did not finish" in recs["point-goal", "varibad", 0].problems[0]
    assert [s.path.name for s in store.scan_tree(tmp_path)[1]] == ["seed=0"]
    frame = store.load_frames(recs.values())
    assert frame[["suite", "method", "seed", "return"]].values.tolist() == [["point-goal", "moss", 0, 1.5]]
    assert len(store.load_frames(recs.values(), only_ok=False)) == 4  # all readable eval files
    assert store.load_frames([]).empty
