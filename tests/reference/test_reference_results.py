"""The shipped reference results (``results/reference/``): small, complete, readable, and compared.

Every run folder committed there holds the small files of a finished run (config, meta, eval and train
parquet, traces for methods with a belief) and never a checkpoint; the whole folder stays under
:data:`MAX_BYTES` and its ``bench`` part under :data:`MAX_BENCH_BYTES`; ``harness compare`` reads every run
and puts each method in the table.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from harness.analysis.results import load_results
from harness.analysis.table import compare

ROOT = Path(__file__).resolve().parents[2] / "results" / "reference"
#: The bench reference results (issue 13: under 20 MB) and everything under results/reference (bench plus
#: the diagnostic runs the READMEs cite).
MAX_BENCH_BYTES = 20 * 2**20
MAX_BYTES = 56 * 2**20  # 40 MiB until stop 27, 48 until stop 29: the non-stationary runs need their traces
ALLOWED = {"config.yaml", "meta.json", "eval.parquet", "train.parquet", "traces.parquet"}


def tracked_files() -> list[Path]:
    """Files under results/reference that git tracks (what a fresh clone has)."""
    out = subprocess.run(["git", "ls-files", "-z", str(ROOT)], capture_output=True, check=False,
                         cwd=ROOT.parents[1])
    if out.returncode != 0:  # not a git checkout (e.g. an sdist): everything on disk
        return [p for p in ROOT.rglob("*") if p.is_file()]
    return [ROOT.parents[1] / p for p in out.stdout.decode().split("\0") if p]


def test_reference_folder_is_small_and_holds_no_checkpoints() -> None:
    files = tracked_files()
    assert sum(p.stat().st_size for p in files) < MAX_BYTES
    bench = ROOT / "bench"
    assert sum(p.stat().st_size for p in files if bench in p.parents) < MAX_BENCH_BYTES
    run_files = [p for p in files if p.parent.name.startswith("seed=")]
    assert all(p.name in ALLOWED for p in run_files), sorted({p.name for p in run_files} - ALLOWED)


def experiments() -> list[Path]:
    return sorted({p.parents[3] for p in tracked_files() if p.name == "eval.parquet"})


@pytest.mark.parametrize("experiment", experiments(), ids=lambda p: p.name)
def test_every_reference_run_is_finished_and_compared(experiment: Path) -> None:
    results = load_results(experiment)
    shipped = {p.parent for p in tracked_files() if p.name == "eval.parquet"}
    runs = [r for r in results.runs if r.path.resolve() in shipped]  # not runs in progress on this machine
    assert runs and not results.strays
    assert all(r.ok for r in runs), [(r.method, r.seed, r.problems) for r in runs if not r.ok]
    cmp = compare(results.evals, np.random.default_rng(0), exclude_from_best=results.task_seeing_methods)
    assert {r.method for r in runs} <= set(cmp.cells.method)


def test_compare_cli_prints_the_reference_table(tmp_path: Path) -> None:
    bench = ROOT / "bench"
    if not (bench / "cheetah-vel").is_dir():
        pytest.skip("no bench reference results")
    out = subprocess.run([sys.executable, "-m", "harness", "compare", str(bench), "-o", str(tmp_path)],
                         capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr
    assert "| sac-oracle |" in out.stdout and "cheetah-vel" in out.stdout


def test_the_index_names_every_reference_folder() -> None:
    """``results/reference/README.md`` describes every folder shipped there (a new folder needs a line)."""
    index = (ROOT / "README.md").read_text(encoding="utf-8")
    folders = {p.relative_to(ROOT).parts[0] for p in tracked_files() if len(p.relative_to(ROOT).parts) > 1}
    assert folders, "no reference folder tracked"
    assert sorted(f for f in folders if f"`{f}/`" not in index) == []
