"""``harness check``: list every problem of a results directory, and with ``--repair`` fix what re-running
can fix.

Problems: finished runs whose files do not read back or differ from the manifest in their ``meta.json``
(truncated, garbled, deleted, swapped), runs that did not finish (killed, failed, pruned, in progress),
stray folders (not runs written by the harness: ``seed=01``, ``seed=abc``, a config naming another run),
and temp files of interrupted writes. ``--repair`` rebuilds damaged finished runs from their final
checkpoint (or trains them again when it is damaged too), resumes killed runs, and removes leftover temp
files; failed and pruned runs, runs in progress and stray folders are left as they are. The exit code is 0
when no problem is left, else 1.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from harness.registry import load_plugins
from harness.repair import Problem, check_tree, repair_tree


def add_parser(sub: Any) -> None:
    """Register ``harness check`` on the subcommand parsers."""
    p = sub.add_parser(
        "check", help="list every problem of a results directory (--repair fixes what re-running can)",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("results", metavar="RESULTS_DIR", help="experiment directory (results/<experiment>)")
    p.add_argument("--repair", action="store_true",
                   help="rebuild or retrain damaged runs, resume killed runs, remove leftover temp files")
    p.add_argument("--device", default="auto", help="device of repairs that train (default auto)")
    p.add_argument("--plugin", dest="plugins", action="append", default=[], metavar="MODULE",
                   help="import MODULE (or FILE.py) first: the suites and methods of its runs")
    p.set_defaults(func=check_command)


def _line(root: Path, problem: Problem) -> str:
    try:
        where = problem.path.relative_to(root)
    except ValueError:
        where = problem.path
    return f"{where}: {problem.text}"


def check_command(args: argparse.Namespace) -> int:
    """Run ``harness check``; returns the exit code."""
    root = Path(args.results)
    if not root.is_dir():
        raise ValueError(f"results directory {args.results} does not exist")
    load_plugins(args.plugins)
    report = check_tree(root)
    for problem in report.problems:
        print(_line(root, problem))
    print(f"{report.runs} runs, {len(report.problems)} problem(s) under {root}")
    if not args.repair or not any(p.repairable for p in report.problems):
        return 1 if report.problems else 0
    repair_tree(report, lambda p, outcome: print(f"repair {_line(root, p).split(':', 1)[0]}: {outcome}"),
                device=args.device, plugins=tuple(args.plugins))
    left = check_tree(root).problems
    print(f"after repair: {len(left)} problem(s) left")
    return 1 if left else 0
