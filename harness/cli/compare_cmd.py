"""``harness compare``: a methods x suites table with confidence intervals, from a results directory.

Each cell is the IQM over seeds (runs) of a run's score, with a 95% stratified bootstrap CI; a run's score
on a suite is its mean over test tasks (return, or success rate on success suites) at the last evaluation
(``--metric final``) or averaged over training (``--metric auc``). The best method of each column is in
bold (methods that see the task, the oracle, excluded). The table is printed in ``--format`` and written in
all formats (``.md``, ``.tex``, ``.csv``) to ``-o`` (default: the results directory). Failed or
unreadable runs are left out and listed on stderr. ``--ledger`` adds the reproduction ledger: the
published numbers of these suites (``harness/analysis/published.yaml``) beside ours, with both budgets and a
verdict per row. ``--per-task`` splits each suite with at most four test tasks (ant-dir, cheetah-dir) into
one column per task, so a policy that runs one way only does not pass for one that runs both ways slowly.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from harness import store
from harness.analysis.ledger import ledger_markdown, ledger_rows, load_ledger, run_budgets
from harness.analysis.results import Results, load_results
from harness.analysis.stats import AGGREGATES, DEFAULT_REPS, check_reps
from harness.analysis.table import compare
from harness.analysis.tasks import DEFAULT_MAX_TASKS, split_by_task
from harness.cli.paths import writable_dir
from harness.report.tables import EXTENSIONS, FORMATS, render


def add_parser(sub: Any) -> None:
    """Register ``harness compare`` on the subcommand parsers."""
    p = sub.add_parser(
        "compare", help="methods x suites table with bootstrap CIs (Markdown, LaTeX, CSV)",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("results", metavar="RESULTS_DIR", help="experiment directory (results/<experiment>)")
    p.add_argument("--metric", choices=("final", "auc"), default="final",
                   help="run score: at the last evaluation, or area under the learning curve (default final)")
    p.add_argument("--normalize", action="store_true",
                   help="per suite, random = 0 and sac-oracle = 1 (suites lacking either are dropped)")
    p.add_argument("--format", choices=FORMATS, default="md", help="printed format (default md)")
    p.add_argument("--k", choices=("zero-shot", "final"), default="final",
                   help="scored episode of the evaluation trial: first, or last (k-shot) (default final)")
    p.add_argument("--stat", choices=list(AGGREGATES), default="IQM",
                   help="aggregate over seeds (default IQM)")
    p.add_argument("--reps", type=int, default=DEFAULT_REPS,
                   help=f"bootstrap replications (default {DEFAULT_REPS})")
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
    p.add_argument("-o", "--out", default=None, help="directory for the table files (default RESULTS_DIR)")
    p.add_argument("--per-task", action="store_true",
                   help=f"one column per test task on suites with at most {DEFAULT_MAX_TASKS} test tasks "
                   "(e.g. ant-dir's two directions); other suites stay whole")
    p.add_argument("--ledger", action="store_true",
                   help="also print the reproduction ledger: published numbers for these suites beside ours, "
                   "with both budgets and a verdict (written as ledger.md)")
    p.set_defaults(func=compare_command)


def table_stem(metric: str, k: str, normalized: bool, stat: str = "IQM", per_task: bool = False) -> str:
    """File name stem of a table, e.g. ``compare-final-k_final-normalized``."""
    parts = ["compare", metric, f"k_{k}"]
    if stat != "IQM":
        parts.append(stat.lower().replace(" ", "_"))
    if normalized:
        parts.append("normalized")
    if per_task:
        parts.append("per_task")
    return "-".join(parts)


def ledger_table(results: Results, cells: pd.DataFrame | None, args: argparse.Namespace) -> str:
    """The ledger rows of the suites in ``results`` as Markdown (raw final scores, not normalized)."""
    if cells is None or args.metric != "final":
        cells = compare(results.evals, np.random.default_rng(args.seed), k=args.k, reps=args.reps,
                        statistic=args.stat).cells
    entries = [e for e in load_ledger() if e.suite in results.suites]
    if not entries:
        return "The ledger lists no published number for these suites.\n"
    return ledger_markdown(ledger_rows(entries, cells, run_budgets(results.configs()))) + "\n"


def compare_command(args: argparse.Namespace) -> int:
    """Run ``harness compare``; returns the exit code (1 when no usable run was found)."""
    if not Path(args.results).is_dir():
        print(f"harness compare: error: results directory {args.results} does not exist", file=sys.stderr)
        return 2
    check_reps(args.reps)
    out = writable_dir(args.out or args.results, "-o" if args.out else "RESULTS_DIR")
    results = load_results(args.results)
    bad = [r for r in results.runs if not r.ok]
    for r in bad:
        print(f"harness compare: skipped {r.suite}/{r.method}/seed={r.seed} ({r.status}): "
              f"{'; '.join(r.problems)}", file=sys.stderr)
    for stray in results.strays:
        print(f"harness compare: skipped stray folder {stray.path}: {stray.reason}", file=sys.stderr)
    if results.evals.empty:
        print(f"harness compare: no usable runs under {args.results}", file=sys.stderr)
        return 1
    evals, split_notes = split_by_task(results.evals) if args.per_task else (results.evals, [])
    cmp = compare(evals, np.random.default_rng(args.seed), score=args.metric, k=args.k,
                  exclude_from_best=results.task_seeing_methods,
                  normalized=args.normalize, statistic=args.stat, reps=args.reps)
    cmp.notes.extend(split_notes)
    if cmp.cells.empty:
        print(f"harness compare: nothing to compare: {'; '.join(cmp.notes)}", file=sys.stderr)
        return 1
    stem = table_stem(args.metric, args.k, args.normalize, args.stat, args.per_task)
    tables = {fmt: render(cmp, fmt) for fmt in FORMATS}
    for fmt, text in tables.items():
        store.write_text(out / f"{stem}.{EXTENSIONS[fmt]}", text)
    print(tables[args.format], end="")
    if args.ledger:
        text = ledger_table(results, None if args.normalize or args.per_task else cmp.cells, args)
        store.write_text(out / "ledger.md", text)
        print("\nReproduction ledger\n\n" + text)
    print(f"written: {out / stem}.{{{','.join(EXTENSIONS[f] for f in FORMATS)}}}", file=sys.stderr)
    return 0
