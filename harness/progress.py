"""Progress events of running jobs, and a plain line printer for them.

Events are small frozen dataclasses of plain values (picklable), so they travel unchanged from a worker
process (or a Ray actor) to the process that prints them. The printer writes one line per event worth
showing (job start and end, every evaluation, and a throttled step count), readable when piped to a file.
"""

from __future__ import annotations

import math
import sys
import time
from dataclasses import dataclass
from typing import Literal, TextIO

EventKind = Literal["start", "progress", "eval", "end"]


@dataclass(frozen=True)
class ProgressEvent:
    """Where one job stands.

    Attributes:
        kind: ``start`` (job began or resumed), ``progress`` (training steps), ``eval`` (an evaluation
            finished), ``end`` (finished, failed, skipped or pruned).
        key: job key ``<suite>/<method>/seed=<k>``.
        env_steps: environment steps used so far.
        budget: environment-step budget of the run.
        steps_per_s: env steps per second of wall time in this session of the run (evaluation included).
        eta_s: estimated seconds to the end of the budget (NaN when unknown).
        eval_index: index of the latest evaluation (-1 before the first).
        zero_shot: latest zero-shot score (metric of the first episode, mean over test tasks; NaN before).
        k_shot: latest score of the last episode of the trial (NaN before the first evaluation).
        metric: ``return`` or ``success``.
        status: for ``end``: finished | failed | skipped | pruned; else ``running``.
        message: free text (error line, "resumed at ...").
    """

    kind: EventKind
    key: str
    env_steps: int = 0
    budget: int = 0
    steps_per_s: float = math.nan
    eta_s: float = math.nan
    eval_index: int = -1
    zero_shot: float = math.nan
    k_shot: float = math.nan
    metric: str = "return"
    status: str = "running"
    message: str = ""


def format_seconds(seconds: float) -> str:
    """``75`` -> ``1m15s``; NaN -> ``?``."""
    if not math.isfinite(seconds):
        return "?"
    seconds = round(seconds)
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    if h:
        return f"{h}h{m:02d}m"
    if m:
        return f"{m}m{s:02d}s"
    return f"{s}s"


def format_event(event: ProgressEvent) -> str:
    """One human-readable line for ``event``."""
    head = f"[{event.key}]"
    if event.kind == "start":
        return f"{head} start  budget {event.budget} env steps {event.message}".rstrip()
    if event.kind == "end":
        tail = f": {event.message}" if event.message else ""
        return f"{head} {event.status}  {event.env_steps}/{event.budget} env steps{tail}"
    pct = 100.0 * event.env_steps / max(event.budget, 1)
    line = (
        f"{head} {event.env_steps}/{event.budget} ({pct:4.1f}%)  {event.steps_per_s:,.0f} steps/s"
        f"  ETA {format_seconds(event.eta_s)}"
    )
    if event.eval_index >= 0:
        line += f"  eval {event.eval_index}: zero-shot {event.zero_shot:.4g}, last {event.k_shot:.4g}"
        line += f" ({event.metric})"
    return line


class ProgressPrinter:
    """Callable event sink printing lines: start, end and eval always; ``progress`` at most every
    ``interval`` seconds per job."""

    def __init__(self, stream: TextIO | None = None, interval: float = 15.0) -> None:
        self.stream = stream if stream is not None else sys.stdout
        self.interval = interval
        self._last: dict[str, float] = {}

    def __call__(self, event: ProgressEvent) -> None:
        now = time.monotonic()
        if event.kind == "progress":
            if now - self._last.get(event.key, -math.inf) < self.interval:
                return
        self._last[event.key] = now
        print(format_event(event), file=self.stream, flush=True)
