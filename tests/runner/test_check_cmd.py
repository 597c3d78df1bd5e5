"""``harness check RESULTS`` lists every problem of a tree; ``--repair`` fixes what re-running can fix."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from harness import store
from harness.cli import main
from harness.repair import check_tree
from harness.runner import Job, run_job
from tests.runner.runner_scripted import PLUGIN  # importing it registers the scripted methods


def job(out: Path, seed: int, **kw: object) -> Job:
    base = dict(suite="point-goal-nonstat", method="scripted-linear", seed=seed, out=str(out),
                profile="smoke", budget=400, eval_every=200, device="cpu", plugins=(PLUGIN,))
    base.update(kw)
    return Job(**base)  # type: ignore[arg-type]


def test_check_lists_every_problem_and_repair_fixes_what_rerunning_can(tmp_path: Path, capsys) -> None:
    root = tmp_path / "exp"
    for seed in (0, 1, 2, 3):
        assert run_job(job(root, seed)).status == store.FINISHED
    assert run_job(job(root, 4, sets=("raise_at=0",))).status == store.FAILED
    rd = {seed: job(root, seed).run_dir for seed in range(5)}
    data = (rd[0] / store.EVAL_FILE).read_bytes()
    (rd[0] / store.EVAL_FILE).write_bytes(data[: len(data) // 2])  # truncated
    (rd[1] / store.CONFIG_FILE).unlink()  # lost: the checkpoint still says which run it is
    store.write_json(rd[2] / store.META_FILE, {"status": store.RUNNING})  # killed
    (rd[3] / ".eval.parquet.x1y2.tmp").write_bytes(b"half")  # a write interrupted by a kill
    shutil.copytree(rd[3], rd[3].parent / "seed=03")  # a stray copy
    assert main(["check", str(root)]) == 1
    out = capsys.readouterr().out
    rel = "point-goal-nonstat/scripted-linear"
    for line in (f"{rel}/seed=0: eval.parquet corrupt", f"{rel}/seed=1: config.yaml missing",
                 f"{rel}/seed=2: did not finish (killed)", f"{rel}/seed=3/.eval.parquet.x1y2.tmp: temp file",
                 f"{rel}/seed=4: run failed: RuntimeError: scripted failure",
                 f"{rel}/seed=03: stray folder: folder name is not seed="):
        assert line in out, out
    assert "5 runs, 7 problem(s)" in out  # seed=03 holds a temp file too

    assert main(["check", str(root), "--repair", "--plugin", PLUGIN, "--device", "cpu"]) == 1
    out = capsys.readouterr().out
    assert f"repair {rel}/seed=0: finished: repaired: eval.parquet corrupt" in out
    assert f"repair {rel}/seed=1: finished: repaired: config.yaml missing" in out
    assert f"repair {rel}/seed=2: finished" in out
    assert "after repair: 2 problem(s) left" in out  # the failed run and the stray are left alone
    assert {p.path.name for p in check_tree(root).problems} == {"seed=4", "seed=03"}
    assert all(r.ok for r in store.scan_results(root) if r.seed != 4)

    shutil.rmtree(rd[3].parent / "seed=03")
    shutil.rmtree(rd[4])
    assert main(["check", str(root)]) == 0
    assert "4 runs, 0 problem(s)" in capsys.readouterr().out


def test_check_of_a_missing_directory_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", str(tmp_path / "nope")]) == 2
    assert "does not exist" in capsys.readouterr().err
