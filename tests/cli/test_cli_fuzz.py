"""Malformed ``harness`` invocations (generated, in-process): every one ends with one error line and exit
code 2, never a traceback, and writes nothing (not even an empty directory or a study journal)."""

from __future__ import annotations

import io
import itertools
import shutil
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest

from harness.cli import main

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "results"
RUN = ["run", "--suite", "point-goal", "--profile", "smoke", "--device", "cpu"]
SAC_SETS = [
    "gamma=5", "gamma=0", "gamma=-1", "gamma=.nan", "gamma=[1]", "actor_lr=-1", "actor_lr=.nan",
    "actor_lr=.inf", "actor_lr=0", "critic_lr=-1e-3", "batch_size=0", "batch_size=1e100", "batch_size=-3",
    "batch_size=2.5", "hidden=[]", "hidden=[0]", "hidden=[-4, 8]", "hidden=abc", "buffer_size=-1",
    "buffer_size=1e12", "tasks_per_step=0", "episodes_per_task=0", "utd=0", "tau=2", "tau=0",
    "learning_starts=-1", "alpha=-1", "init_alpha=0", "target_update_interval=0", "nope=1", "gamma",
    "=3", "sac-mt.gamma=2", "sac-m.gamma=0.9",
]
RUN_OPTIONS = [
    ["--seeds", "18446744073709551616"], ["--seeds", "4294967296"], ["--seeds", "-1"], ["--seeds", "x"],
    ["--seeds", "3-1"], ["--seeds", "0-999999999"], ["--seeds", ","], ["--eval-episodes", "1000000000"],
    ["--eval-episodes", "0"], ["--eval-episodes", "-1"], ["--eval-every", "0"], ["--budget", "0"],
    ["--budget", "1e400"], ["--budget", "lots"], ["--budget", "1e12"], ["--budget", "19"],
    ["--workers", "0"], ["--workers", "-1"], ["--workers", "100000"], ["--threads", "0"],
    ["--threads", "1000"], ["--task-seed", "-1"], ["--task-seed", "4294967296"], ["--device", "tpu"],
    ["--device", "cuda:0"], ["--executor", "slurm"], ["--hparams", "missing.yaml"],
    ["--hparams", "{bad_hparams}"], ["--plugin", "{bad_syntax}"], ["--plugin", "{raising}"],
    ["--plugin", "no_such_module_xyz"], ["--plugin", "missing_plugin.py"], ["--out", "{afile}"],
    ["--out", "{afile}/sub"], ["--out", "/dev/null"], ["--out", "/proc/harness-fuzz"],
    ["--out", "/proc/self/harness-fuzz/x"], ["--suite", "nope"], ["--method", "nope"],
    ["--profile", "nope"], ["--workers", "abc"], ["--seeds"],
]
COMPARE = [
    ["-o", "{afile}"], ["-o", "/dev/null"], ["-o", "/proc/harness-fuzz"], ["--reps", "0"],
    ["--reps", "-5"], ["--reps", "1000000000"], ["--stat", "nope"], ["--metric", "nope"],
]
REPORT = [
    ["-o", "{tree}"], ["-o", "/dev/null"], ["-o", "{afile}/r.html"], ["-o", "/proc/harness-fuzz/r.html"],
    ["-o", "{tmp}/r.html", "--static", "{tmp}/static", "--static-formats", "gif"],
    ["-o", "{tmp}/r.html", "--static", "{tmp}/static", "--static-formats", ","],
    ["-o", "{tmp}/r.html", "--static", "{afile}"], ["--reps", "0"], ["--engine", "nope"],
]
SWEEP = ["sweep", "--suite", "point-goal", "--method", "sac-mt", "--profile", "smoke", "--trials", "1"]
SWEEP_OPTIONS = [
    ["--storage", "not-a-url"], ["--storage", "sqlite:////nonexistent/dir/x.db"],
    ["--storage", "postgresql+psycopg2://u:p@127.0.0.1:1/db"],
    ["--export-best", "{tmp}/best.yaml", "--out", "{tmp}/sweeps/none"],
    ["--export-best", "{tmp}/best.yaml", "--storage", "sqlite:///{tmp}/none.db"],
    ["--export-best", "/dev/null"], ["--trials", "-1"], ["--workers", "0"], ["--suite", "nope"],
    ["--method", "nope"], ["--set", "gamma=5"], ["--set", "batch_size=0"], ["--out", "{afile}"],
    ["--seeds", "x"], ["--plugin", "{bad_syntax}"], ["--budget", "published"], ["--pruner", "nope"],
    ["--device", "tpu"],
]
CHECK = [["check", "{tmp}/nope"], ["check", "{afile}"], ["check", "{tree}", "--plugin", "{bad_syntax}"]]


def invocations() -> list[list[str]]:
    runs = [[*RUN, "--method", "sac-mt", "--set", s, "--out", "{tmp}/exp"] for s in SAC_SETS]
    runs += [[*RUN, "--method", "random", "--out", "{tmp}/exp", *o] for o in RUN_OPTIONS]
    runs += [[*RUN, "--method", "random", *o] for o in RUN_OPTIONS[:10]]  # default --out (results/smoke)
    compares = [["compare", "{tree}", *o] for o in COMPARE]
    compares += [["compare", path] for path in ("{tmp}/nope", "{afile}", "/proc")]
    reports = [["report", "{tree}", *o] for o in REPORT] + [["report", "/proc"], ["report", "{tmp}/nope"]]
    sweeps = [[*SWEEP, *o] for o in SWEEP_OPTIONS]
    return [*runs, *compares, *reports, *sweeps, *CHECK]


def snapshot(root: Path) -> set[tuple[str, int]]:
    return {(str(p.relative_to(root)), p.stat().st_size if p.is_file() else -1) for p in root.rglob("*")}


@pytest.fixture()
def sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.chdir(tmp_path)  # default outputs (results/...) would land here
    tree = tmp_path / "tree"
    shutil.copytree(FIXTURE / "point-goal" / "random", tree / "point-goal" / "random")
    (tmp_path / "afile").write_text("a file, not a directory\n")
    (tmp_path / "bad_syntax.py").write_text("def broken(:\n")
    (tmp_path / "raising.py").write_text("raise RuntimeError('plugin failed on import')\n")
    (tmp_path / "bad_hparams.yaml").write_text("gamma: 5\n")
    return {"tmp": str(tmp_path), "tree": str(tree), "afile": str(tmp_path / "afile"),
            "bad_syntax": str(tmp_path / "bad_syntax.py"), "raising": str(tmp_path / "raising.py"),
            "bad_hparams": str(tmp_path / "bad_hparams.yaml")}


def call(argv: list[str]) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as exc:  # argparse usage errors
            code = int(exc.code or 0)
    return code, out.getvalue() + err.getvalue()


def test_malformed_invocations_exit_2_with_one_line_and_write_nothing(sandbox: dict[str, str]) -> None:
    cases = invocations()
    assert len(cases) >= 100
    tmp = Path(sandbox["tmp"])
    before = snapshot(tmp)
    failures = []
    for template in cases:
        argv = [a.format(**sandbox) for a in template]
        code, text = call(argv)
        after = snapshot(tmp)
        if code != 2 or "Traceback" in text or "error" not in text or after != before:
            failures.append((argv, code, text[-500:], sorted(after ^ before)[:5]))
            for path in sorted(after - before, reverse=True):  # keep the next cases independent
                p = tmp / path[0]
                shutil.rmtree(p) if p.is_dir() else p.unlink(missing_ok=True)
    assert not failures, "\n\n".join(map(str, failures))


def test_error_lines_name_the_field_value_and_range(sandbox: dict[str, str]) -> None:
    expected = {
        "gamma=5": "SacMtConfig.gamma = 5 is out of range (valid range: 0 < x <= 1; got 5.0)",
        "actor_lr=.nan": "SacMtConfig.actor_lr = nan is out of range (expected a finite number",
        "batch_size=1e100": "SacMtConfig.batch_size = '1e100' is out of range (valid range: an integer "
                            "1 .. 1000000 (memory); got 1e+100)",
        "hidden=[]": "SacMtConfig.hidden = [] is out of range (expected a non-empty list",
    }
    for item, message in expected.items():
        code, text = call([*RUN, "--method", "sac-mt", "--set", item, "--out", f"{sandbox['tmp']}/exp"])
        assert code == 2 and message in text, text
    code, text = call([*RUN, "--method", "random", "--seeds", "18446744073709551616"])
    assert code == 2 and "--seeds: expected seeds in 0..2**32-1" in text
    code, text = call([*RUN, "--method", "random", "--eval-episodes", "1000000000"])
    assert code == 2 and "eval episodes must be in 1..1000" in text
    code, text = call(["compare", sandbox["tree"], "--reps", "0"])
    assert code == 2 and "--reps must be in 1..200000" in text
    code, text = call([*RUN, "--method", "random", "--plugin", sandbox["bad_syntax"]])
    assert code == 2 and "SyntaxError" in text and len(text.strip().splitlines()) == 1


def test_generated_cases_are_distinct() -> None:
    cases = [tuple(c) for c in invocations()]
    assert len(set(cases)) == len(cases)
    assert all(isinstance(a, str) for a in itertools.chain.from_iterable(cases))
