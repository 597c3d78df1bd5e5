"""``harness report``: one self-contained interactive HTML report of a results directory (works offline).

Sections: overview tables (raw and normalized, with CIs), aggregate metrics, probability of improvement,
performance profiles, learning curves per suite, env steps to reach a score, k-shot adaptation curves,
non-stationary tracking traces, 2-D projections of beliefs, run health (failed, unfinished and unreadable
runs with their errors) and the configs and versions used. It renders from partial results and says what
is missing. ``--static DIR`` also writes the main plots as PNG and PDF for papers (kaleido with a local
Chromium, else matplotlib).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from harness.analysis.results import load_results
from harness.analysis.stats import DEFAULT_REPS, check_reps
from harness.cli.paths import writable_dir, writable_file
from harness.report.html import write_report
from harness.report.sections import build_sections, static_figures
from harness.report.static import FORMATS, check_formats, export_static


def add_parser(sub: Any) -> None:
    """Register ``harness report`` on the subcommand parsers."""
    p = sub.add_parser(
        "report",
        help="self-contained interactive HTML report (and static figures) of a results directory",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("results", metavar="RESULTS_DIR", help="experiment directory (results/<experiment>)")
    p.add_argument("-o", "--out", default=None, help="HTML file (default RESULTS_DIR/report.html)")
    p.add_argument(
        "--static", default=None, metavar="DIR", help="also write the main plots as PNG and PDF to DIR"
    )
    p.add_argument(
        "--static-formats", default=",".join(FORMATS), help="comma-separated: png,pdf (default both)"
    )
    p.add_argument(
        "--engine",
        choices=("auto", "kaleido", "matplotlib"),
        default="auto",
        help="static export engine (default auto: kaleido, else matplotlib)",
    )
    p.add_argument(
        "--reps", type=int, default=DEFAULT_REPS, help=f"bootstrap replications (default {DEFAULT_REPS})"
    )
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
    p.set_defaults(func=report_command)


def report_command(args: argparse.Namespace) -> int:
    """Run ``harness report``; returns the exit code."""
    if not Path(args.results).is_dir():
        print(f"harness report: error: results directory {args.results} does not exist", file=sys.stderr)
        return 2
    check_reps(args.reps)
    formats = [f.strip() for f in args.static_formats.split(",") if f.strip()]
    if args.static:
        check_formats(formats)
    out = writable_file(Path(args.out) if args.out else Path(args.results) / "report.html",
                        "-o" if args.out else "RESULTS_DIR")
    if args.static:
        writable_dir(args.static, "--static")
    results = load_results(args.results)
    if not results.runs:
        print(
            f"harness report: no run directories (<suite>/<method>/seed=<k>) under {args.results}",
            file=sys.stderr,
        )
        return 1
    sections = build_sections(results, seed=args.seed, reps=args.reps)
    write_report(sections, out, args.results)
    bad = len(results.runs) - len(results.usable)
    size_mb = out.stat().st_size / 1e6
    print(
        f"report: {out} ({size_mb:.1f} MB; {len(results.usable)} usable runs, "
        f"{bad} failed/unfinished/unreadable)"
    )
    if args.static:
        paths, engine = export_static(static_figures(sections), args.static, formats, args.engine)
        print(f"static figures: {len(paths)} files in {args.static} (engine: {engine})")
    return 0
