"""``harness list``: the registered suites (or, with ``--methods``, methods) as a table or as JSON.

Suites: name, group, horizon (steps per episode), metric, default train/test task counts, observation and
action dimensions, description. ``--group G`` keeps one group (``harness list --group nonstationary``).
Methods: name, config class, episodes per evaluation trial, whether it sees the true task (oracle), and
the first line of its docstring. ``--json`` prints the same rows as a JSON list; for methods each row also
has ``fields``: every config field with its ``name``, ``type``, ``default``, ``doc`` and ``aliases`` (other
names ``--set`` and ``hparams.yaml`` accept for it, e.g. a paper's name).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from typing import Any

from harness.config_fields import field_rows
from harness.registry import get_method, list_methods, list_suites, load_plugins

#: Table columns of ``harness list``: (row key, header).
SUITE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("name", "suite"), ("group", "group"), ("horizon", "horizon"), ("metric", "metric"),
    ("n_train", "train"), ("n_test", "test"), ("obs_dim", "obs"), ("act_dim", "act"),
    ("description", "description"),
)
METHOD_COLUMNS: tuple[tuple[str, str], ...] = (
    ("name", "method"), ("config", "config"), ("eval_episodes", "eval episodes"), ("sees_task", "sees task"),
    ("description", "description"),
)


def add_parser(sub: Any) -> None:
    """Register ``harness list`` on the subcommand parsers."""
    p = sub.add_parser(
        "list", help="list registered suites (or methods)", description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--group", default=None, help="only the suites of this group (e.g. toy, metaworld-v2)")
    p.add_argument("--methods", action="store_true", help="list methods instead of suites")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.add_argument("--plugin", dest="plugins", action="append", default=[], metavar="MODULE",
                   help="import MODULE (or FILE.py) first; it may register suites and methods")
    p.set_defaults(func=list_command)


def suite_rows(group: str | None = None) -> list[dict[str, Any]]:
    """``Suite.summary()`` of every registered suite (or those of ``group``), in registration order."""
    return [suite.summary() for suite in list_suites(group)]


def method_rows(fields: bool = False) -> list[dict[str, Any]]:
    """One row per registered method: name, config class path, eval episodes, sees_task, doc line, and
    with ``fields`` its config fields (:func:`harness.config_fields.field_rows`)."""
    rows: list[dict[str, Any]] = []
    for name in list_methods():
        cls = get_method(name)
        config = getattr(cls, "config_cls", None)
        doc = (cls.__doc__ or "").strip()
        rows.append({
            "name": name,
            "config": f"{config.__module__}.{config.__qualname__}" if config is not None else None,
            "eval_episodes": cls.eval_episodes,
            "sees_task": cls.sees_task,
            "description": doc.splitlines()[0] if doc else "",
        })
        if fields:
            rows[-1]["fields"] = field_rows(config) if config is not None else []
    return rows


def format_table(rows: Sequence[dict[str, Any]], columns: Sequence[tuple[str, str]]) -> str:
    """Left-aligned text table of ``rows`` with a header and a rule; the last column is not padded."""
    cells = [[header for _, header in columns]]
    cells += [[_cell(row[key]) for key, _ in columns] for row in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(columns))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip() for line in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _cell(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if value is None:
        return "-"
    return str(value)


def list_command(args: argparse.Namespace) -> int:
    """Print the suite or method listing; returns the exit code."""
    if args.plugins:
        load_plugins(args.plugins)
    if args.methods:
        if args.group is not None:
            raise ValueError("--group selects suites; it cannot be combined with --methods")
        rows, columns = method_rows(fields=args.json), METHOD_COLUMNS
    else:
        rows, columns = suite_rows(args.group), SUITE_COLUMNS
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    if args.methods:  # the table shows the config class name, JSON its full path
        rows = [{**row, "config": (row["config"] or "-").rsplit(".", 1)[-1]} for row in rows]
    print(format_table(rows, columns))
    return 0
