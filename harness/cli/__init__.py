"""The ``harness`` command: a thin dispatch to one module per subcommand.

Each subcommand module in this package defines ``add_parser(subparsers)`` (registering its arguments and
``set_defaults(func=...)``) and a function taking the parsed namespace and returning an exit code.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

#: Subcommand modules, in ``--help`` order (a module not written yet is skipped).
SUBCOMMANDS: tuple[str, ...] = ("run", "list", "compare", "report", "sweep")


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser of ``harness``."""
    parser = argparse.ArgumentParser(
        prog="harness", description="Benchmark and evaluation harness for meta-reinforcement learning."
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in SUBCOMMANDS:
        try:
            module = importlib.import_module(f"harness.cli.{name}_cmd")
        except ModuleNotFoundError as err:
            if err.name != f"harness.cli.{name}_cmd":
                raise
            continue
        module.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (KeyError, ValueError) as err:
        # Bad input (unknown names, malformed values) ends with one clear line, not a traceback.
        print(f"harness: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
