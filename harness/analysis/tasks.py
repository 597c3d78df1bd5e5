"""Per-task columns for suites with a few fixed test tasks (``harness compare --per-task``).

A suite's cell averages its test tasks, so on a two-task suite such as ant-dir or cheetah-dir a policy that
runs one way well and stands in the other direction scores like one that runs both ways slowly. Splitting
such a suite into one column per test task shows which it is. Only suites whose runs share at most
``max_tasks`` distinct test tasks are split (a 30-task velocity suite is left whole: thirty columns of one
velocity each say less than their mean).
"""

from __future__ import annotations

import json

import pandas as pd

#: Suites with at most this many distinct test tasks are split by ``--per-task`` (default).
DEFAULT_MAX_TASKS = 4
#: Fields of a task's JSON description that say nothing about what the task asks.
_IGNORED_FIELDS = {"kind", "base_id"}


def task_label(task: str, task_id: int) -> str:
    """Short readable name of a test task from its JSON description (``eval.parquet``'s ``task`` column).

    ``{"kind": "PlanarDirectionTask", "base_id": 0, "angle": 3.14159}`` gives ``angle=3.14``; numbers are
    printed with 3 significant digits (also inside lists: ``goal=[0.443, 0.955]``); a description that is
    not a JSON object gives ``task <task_id>``.
    """
    try:
        fields = json.loads(task)
    except (TypeError, ValueError):
        return f"task {task_id}"
    if not isinstance(fields, dict):
        return f"task {task_id}"
    parts = []
    for key, value in fields.items():
        if key in _IGNORED_FIELDS:
            continue
        parts.append(f"{key}={_short(value)}")
    return ", ".join(parts) if parts else f"task {task_id}"


def _short(value: object) -> str:
    """A JSON value with its numbers at 3 significant digits (lists element by element)."""
    if isinstance(value, float):
        return f"{value:.3g}"
    if isinstance(value, list):
        return "[" + ", ".join(_short(v) for v in value) + "]"
    return str(value)


def split_by_task(
    evals: pd.DataFrame, max_tasks: int = DEFAULT_MAX_TASKS, min_tasks: int = 1
) -> tuple[pd.DataFrame, list[str]]:
    """Evaluation rows with each small suite renamed per test task, e.g. ``ant-dir (angle=0)``.

    Args:
        evals: the evaluation frame of many runs (columns ``suite, task_id, task`` among others).
        max_tasks: a suite is split when its runs together have at most this many distinct test tasks
            (told apart by their description, so runs that drew different task sets are not mixed up).
        min_tasks: a suite with fewer distinct test tasks is left whole too (2 keeps one-task suites whole).

    Returns:
        ``(frame, notes)``: the frame with ``suite`` replaced by ``"<suite> (<task label>)"`` on split suites
        (every other column unchanged) and one note per suite left whole, saying why.
    """
    if not 1 <= min_tasks <= max_tasks:
        raise ValueError(f"need 1 <= min_tasks <= max_tasks, got {min_tasks} and {max_tasks}")
    if evals.empty:
        return evals, []
    frame = evals.copy()
    frame["suite"] = frame["suite"].astype(str)
    notes: list[str] = []
    for suite, rows in frame.groupby("suite", sort=True):
        tasks = rows[["task_id", "task"]].drop_duplicates()
        n_tasks = rows["task"].nunique()
        if n_tasks > max_tasks:
            notes.append(f"{suite} kept whole: {n_tasks} test tasks (split only up to {max_tasks})")
            continue
        if n_tasks < min_tasks:
            notes.append(f"{suite} kept whole: {n_tasks} test task(s) (split only from {min_tasks})")
            continue
        labels = {row.task: task_label(row.task, int(row.task_id)) for row in tasks.itertuples()}
        if len(set(labels.values())) < len(labels):  # two descriptions read alike: number them instead
            labels = {t: f"task {i}" for i, t in enumerate(sorted(labels))}
        frame.loc[rows.index, "suite"] = [f"{suite} ({labels[t]})" for t in rows["task"]]
    return frame, notes
