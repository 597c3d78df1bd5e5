"""``harness run``: train and evaluate methods on suites over seeds, into a results directory.

Every (suite, method, seed) job is resolved and checked before anything is written (unknown names, bad
or out-of-range ``--set`` values, budgets below one episode, an ``--out`` that cannot be written, a
results directory holding a run with another config): any problem ends the command with exit code 2.
Then the jobs run (resuming killed runs, repairing damaged ones, skipping finished ones unless
``--force``), progress lines stream to stdout, and a summary table closes the output. The exit code is 1
when a job failed.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path
from typing import Any

from harness.cli.errors import error_text
from harness.cli.paths import writable_dir
from harness.config import ConfigError, parse_sets
from harness.context import resolve_device
from harness.executors import EXECUTORS, get_executor
from harness.jobs import PUBLISHED, Job, JobResult, ResolvedJob, job_grid, resolve_job
from harness.profiles import PROFILES
from harness.progress import ProgressPrinter, format_seconds
from harness.registry import load_plugins, resolve_methods, resolve_suites
from harness.runner import existing_state
from harness.seeding import SEED_LIMIT
from harness.tensorboard import make_summary_writer

#: Default ``--out`` is ``results/<profile>``: re-running the same command resumes or skips its runs.
DEFAULT_OUT_ROOT = Path("results")
#: Most seeds one ``--seeds`` range may expand to, and most ``--workers``.
MAX_SEEDS = 100_000
MAX_WORKERS = 1024


def add_parser(sub: Any) -> None:
    """Register ``harness run`` on the subcommand parsers."""
    p = sub.add_parser(
        "run",
        help="train and evaluate methods on suites (suite x method x seed jobs)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--suite", required=True,
                   help="suite or group names, comma-separated (e.g. toy,cheetah-vel)")
    p.add_argument("--method", required=True, help="method names, comma-separated (e.g. moss,pearl)")
    p.add_argument("--seeds", default="0", help="comma-separated seeds or ranges: 0,1,2 or 0-4 (default 0)")
    p.add_argument("--profile", default="quick", choices=sorted(PROFILES),
                   help="budget profile (default quick)")
    p.add_argument("--budget", default=None,
                   help="env steps per run for every method (e.g. 20000 or 2e5), or 'published' for each "
                        "method's published budget on the suite (default: the profile's)")
    p.add_argument("--out", default=None, help="experiment directory (default results/<profile>)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N (default auto)")
    p.add_argument("--workers", type=int, default=1, help="jobs in parallel (default 1: in-process)")
    p.add_argument("--threads", type=int, default=None, metavar="N",
                   help="torch threads of every job, whatever --workers is (default 1; part of the config, "
                        "recorded in config.yaml)")
    p.add_argument("--set", dest="sets", action="extend", nargs="+", default=[], metavar="KEY=VALUE",
                   help="config override (YAML value), highest precedence; KEY applies to every method, "
                        "METHOD.KEY to one method only")
    p.add_argument("--hparams", default=None, metavar="FILE",
                   help="YAML of config overrides (e.g. from harness sweep --export-best)")
    p.add_argument("--eval-episodes", type=int, default=None, metavar="K",
                   help="episodes per evaluation trial (default: each method's paper value)")
    p.add_argument("--eval-every", type=int, default=None, metavar="N",
                   help="env steps between evaluations (default: the profile's)")
    p.add_argument("--task-seed", type=int, default=0, help="seed of the train/test task split (default 0)")
    p.add_argument("--force", action="store_true", help="re-run finished runs from scratch")
    p.add_argument("--tensorboard", action="store_true", help="also write TensorBoard events to <run>/tb")
    p.add_argument("--executor", default="local",
                   help=f"where jobs run: {', '.join(EXECUTORS)} (default local)")
    p.add_argument("--plugin", dest="plugins", action="append", default=[], metavar="MODULE",
                   help="import MODULE (or FILE.py) first; it may register suites and methods")
    p.set_defaults(func=run_command)


def parse_seeds(spec: str) -> list[int]:
    """``"0,1,2"`` or ``"0-4"`` (inclusive) or a mix -> sorted unique seeds."""
    seeds: list[int] = []
    for part in (p.strip() for p in spec.split(",") if p.strip()):
        try:
            if "-" in part:
                lo, hi = (int(x) for x in part.split("-", 1))
                if hi < lo or hi - lo >= MAX_SEEDS:
                    raise ValueError
                seeds.extend(range(lo, hi + 1))
            else:
                seeds.append(int(part))
        except ValueError:
            raise ValueError(f"--seeds: cannot parse {part!r}; use e.g. 0,1,2 or 0-4") from None
    if not seeds or min(seeds) < 0 or max(seeds) >= SEED_LIMIT:
        raise ValueError(f"--seeds: expected seeds in 0..2**32-1, got {spec!r}")
    return list(dict.fromkeys(seeds))


def parse_budget(text: str | None) -> int | str | None:
    """``None``, ``"published"`` or a positive integer (``2e5`` accepted)."""
    if text is None or text == PUBLISHED:
        return text
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not value.is_integer() or value < 1:
        raise ValueError(f"--budget: expected a positive number of env steps or 'published', got {text!r}")
    return int(value)


def build_jobs(args: argparse.Namespace) -> list[Job]:
    """Expand the arguments into jobs (suite-major), checking names and syntax."""
    load_plugins(args.plugins)
    suites = [s.name for s in resolve_suites(args.suite)]
    methods = [m.name for m in resolve_methods(args.method)]
    seeds = parse_seeds(args.seeds)
    parse_sets(args.sets)
    if args.hparams is not None and not Path(args.hparams).is_file():
        raise ValueError(f"--hparams: no such file {args.hparams!r}")
    if not 1 <= args.workers <= MAX_WORKERS:
        raise ValueError(f"--workers must be in 1..{MAX_WORKERS}, got {args.workers}")
    resolve_device(args.device)
    out = str(args.out if args.out is not None else DEFAULT_OUT_ROOT / args.profile)
    common = {
        "out": out, "profile": args.profile, "budget": parse_budget(args.budget), "sets": tuple(args.sets),
        "hparams_file": args.hparams, "device": args.device, "eval_episodes": args.eval_episodes,
        "eval_every": args.eval_every, "task_seed": args.task_seed, "force": args.force,
        "tensorboard": args.tensorboard, "plugins": tuple(args.plugins), "threads": args.threads,
    }
    return job_grid(suites, methods, seeds, **common)


def validate(jobs: list[Job], args: argparse.Namespace) -> tuple[list[ResolvedJob], list[str]]:
    """Resolve every job (raising on the first problem); return the resolved jobs (what the executor
    runs: each config is built here, once) and the plan lines to print."""
    if args.executor not in EXECUTORS:
        get_executor(args.executor, args.workers)  # raises with the valid names
    if args.tensorboard:
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            make_summary_writer(Path(tmp)).close()
    lines = []
    counts = {"new": 0, "resume": 0, "finished": 0, "repair": 0, "restart": 0}
    budgets: dict[tuple[str, str], tuple[int, str, int, int]] = {}
    resolved = []
    for job in jobs:
        r = resolve_job(job)
        resolved.append(r)
        counts[existing_state(r)] += 1
        budgets[(job.suite, job.method)] = (r.budget, r.budget_mode, r.eval_every, r.eval_episodes)
        lines += [f"warning: {w}" for w in r.warnings if f"warning: {w}" not in lines]
    for (suite, method), (budget, mode, every, k) in budgets.items():
        lines.append(f"  {suite:<22} {method:<20} budget {budget} ({mode}), eval every {every}, k={k}")
    damaged = counts["repair"] + counts["restart"]
    lines.append(
        f"{len(jobs)} jobs: {counts['new']} new, {counts['resume']} to resume, "
        f"{counts['finished']} finished (skipped{'' if not args.force else ', forced'})"
        + (f", {damaged} damaged (to repair)" if damaged else "")
    )
    writable_dir(jobs[0].out, "--out")  # last: it creates the directory
    return resolved, lines


def summary_table(results: list[JobResult]) -> str:
    """The closing table: one line per job."""
    head = ("suite", "method", "seed", "status", "env steps", "zero-shot", "last ep.", "metric", "time")
    rows = [head]
    for r in results:
        rows.append((
            r.suite, r.method, str(r.seed), r.status, f"{r.env_steps}/{r.budget}",
            f"{r.zero_shot:.4g}", f"{r.k_shot:.4g}" + (f" (k={r.eval_episodes})" if r.eval_episodes else ""),
            r.metric, format_seconds(r.seconds),
        ))
    widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def run_command(args: argparse.Namespace) -> int:
    """``harness run``: validate everything, run the jobs, print the summary; return the exit code."""
    try:
        jobs = build_jobs(args)
        resolved, plan = validate(jobs, args)
    except (ConfigError, KeyError, ValueError, TypeError, OSError) as err:
        print(f"harness run: error: {error_text(err)}", file=sys.stderr)
        return 2
    out = jobs[0].out
    print(f"harness run: {out}")
    for line in plan:
        print(line)
    start = time.perf_counter()
    executor = get_executor(args.executor, args.workers)
    try:
        results = executor.run(resolved, ProgressPrinter())
    except KeyboardInterrupt:
        print(f"\ninterrupted: re-run the same command to resume from the last checkpoints in {out}",
              file=sys.stderr)
        return 130
    print()
    print(summary_table(results))
    for r in results:
        if r.warning:
            print(f"warning: {r.key}: {r.warning}", file=sys.stderr)
    failed = [r for r in results if r.status == "failed"]
    print(f"\nresults: {out}  ({len(results)} jobs, {format_seconds(time.perf_counter() - start)})")
    if failed:
        print(f"{len(failed)} job(s) failed:", file=sys.stderr)
        for r in failed:
            print(f"  {r.key}: {r.error} (see {r.run_dir}/meta.json)", file=sys.stderr)
        return 1
    return 0
