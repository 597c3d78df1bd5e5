"""The ``harness`` command: a thin dispatch to one module per subcommand.

Each subcommand module in this package defines ``add_parser(subparsers)`` (registering its arguments and
``set_defaults(func=...)``) and a function taking the parsed namespace and returning an exit code.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from harness.cli.errors import EXPECTED, error_text

#: Subcommand modules, in ``--help`` order (a module not written yet is skipped).
SUBCOMMANDS: tuple[str, ...] = ("run", "list", "compare", "report", "sweep", "check")


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The argument parser of ``harness``: every subcommand, or only ``command`` (then no other subcommand
    module is imported: ``harness list`` does not pay for the imports of ``harness run``)."""
    parser = argparse.ArgumentParser(
        prog="harness", description="Benchmark and evaluation harness for meta-reinforcement learning."
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in SUBCOMMANDS if command is None else (command,):
        try:
            module = importlib.import_module(f"harness.cli.{name}_cmd")
        except ModuleNotFoundError as err:
            if err.name != f"harness.cli.{name}_cmd":
                raise
            continue
        module.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the process exit code.

    Every expected failure (bad input, unusable paths, storage URLs, plugins: see
    :mod:`harness.cli.errors`) ends with one line on stderr and exit code 2, never a traceback; each
    command checks its input and outputs before it writes, so such a failure leaves nothing behind.
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    # The first word is the subcommand (``harness`` has no options of its own besides --help); anything
    # else (--help, a typo) gets the full parser and its message.
    first = next((a for a in argv if not a.startswith("-")), None)
    parser = build_parser(first if first in SUBCOMMANDS else None)
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print(f"harness {args.command}: interrupted", file=sys.stderr)
        return 130
    except EXPECTED as err:
        print(f"harness {args.command}: error: {error_text(err)}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
