"""How well runs on a non-stationary suite follow the target, from their ``traces.parquet`` alone.

Reads the final evaluation's per-step traces (no checkpoint needed, so it works on the small files shipped
under ``results/reference``) of each run directory and prints a Markdown table, one row per run:

* **return**: mean episode return of the traced episodes;
* **slope / MAE**: least-squares slope of the achieved quantity's first component (the forward velocity on
  ``cheetah-vel-nonstat``) on the target's, and their mean absolute difference, over the second half of
  every ``--period``-step block (the suite's switch period: a switch can only happen at a block's start,
  so these steps are at least ``period / 2`` after the last one); 1 and 0 = tracking;
* **after a drop / after a rise**: mean signed error (achieved - target) 20-63, 64-99 and 100+ steps after
  a switch that lowered / raised the target (:func:`harness.analysis.nonstationary.error_by_switch_phase`);
* **progress +10 / +30**: how far the achieved quantity has moved from the old target to the new one 10 and
  30 steps after a switch, for drops and rises
  (:func:`harness.analysis.nonstationary.aligned_switch_progress`; 0 = still at the old target, 1 = at the
  new one).

    python scripts/nonstat_tracking.py results/reference/bench/cheetah-vel-nonstat/*/seed=*

Runs without ``traces.parquet`` or whose traces hold no achieved quantity (written before the harness
recorded it) are skipped with a message on stderr; the exit code is 2 only when no run could be read.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from harness.analysis.nonstationary import (
    aligned_switch_progress,
    error_by_switch_phase,
    has_achieved,
    stack_column,
)

PHASE_STEPS = ("20-64", "64-100", "100+")


def episodes(traces: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``target [N, T]``, ``achieved [N, T]`` (first components) and ``reward [N, T]`` of the traced
    episodes (equal lengths), sorted by task and episode."""
    if not has_achieved(traces):
        raise ValueError("the traces hold no achieved quantity (suite without Suite.achieved?)")
    rows = traces.sort_values(["task_id", "episode", "t"], kind="stable")
    groups = [g for _, g in rows.groupby(["task_id", "episode"], sort=False)]
    target = np.stack([stack_column(g["true_task"])[:, 0] for g in groups])
    achieved = np.stack([stack_column(g["achieved"])[:, 0] for g in groups])
    reward = np.stack([g["reward"].to_numpy(dtype=float) for g in groups])
    return target, achieved, reward


def tracking(traces: pd.DataFrame, period: int = 100) -> dict[str, float]:
    """The figures of one run (see the module docstring): ``return``, ``slope``, ``mae``, ``drop_<steps>``
    and ``rise_<steps>`` (signed errors), ``drop_progress_<k>`` and ``rise_progress_<k>`` (k = 10, 30)."""
    target, achieved, reward = episodes(traces)
    late = (np.arange(target.shape[1]) % period >= period // 2)[None, :].repeat(len(target), 0)
    spread = np.ptp(target[late]) > 0
    slope = float(np.polyfit(target[late], achieved[late], 1)[0]) if spread else float("nan")
    out = {"return": float(reward.sum(axis=1).mean()), "slope": slope,
           "mae": float(np.abs(achieved[late] - target[late]).mean())}
    phases = error_by_switch_phase(achieved - target, target).set_index(["phase", "steps"])["error"]
    for name, phase in (("drop", "after a decrease"), ("rise", "after an increase")):
        for steps in PHASE_STEPS:
            out[f"{name}_{steps}"] = float(phases.get((phase, steps), np.nan))
    tagged = traces.assign(suite="", method="", seed=0)
    for name, direction in (("drop", "decrease"), ("rise", "increase")):
        progress = aligned_switch_progress(tagged, direction=direction).set_index("offset")["value"]
        for k in (10, 30):
            out[f"{name}_progress_{k}"] = float(progress.get(k, np.nan))
    return out


def _f(x: float, fmt: str) -> str:
    return "n/a" if not np.isfinite(x) else format(x, fmt)


def markdown(results: dict[str, dict[str, float]]) -> str:
    """One row per run."""
    head = ["run", "return", "slope", "MAE", "after a drop 20-63 / 64-99 / 100+",
            "after a rise 20-63 / 64-99 / 100+", "progress +10 / +30 (drop)", "progress +10 / +30 (rise)"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for run, r in results.items():
        errs = {k: " / ".join(_f(r[f"{k}_{s}"], "+.2f") for s in PHASE_STEPS) for k in ("drop", "rise")}
        prog = {k: " / ".join(_f(r[f"{k}_progress_{n}"], ".0%") for n in (10, 30)) for k in ("drop", "rise")}
        lines.append(f"| {run} | {r['return']:.0f} | {_f(r['slope'], '.2f')} | {_f(r['mae'], '.2f')} | "
                     f"{errs['drop']} | {errs['rise']} | {prog['drop']} | {prog['rise']} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("runs", type=Path, nargs="+",
                        help="run directories (<out>/<suite>/<method>/seed=<k>)")
    parser.add_argument("--period", type=int, default=100, help="the suite's switch period in steps")
    args = parser.parse_args(argv)
    results, skipped = {}, 0
    for run in args.runs:
        try:
            results[str(run)] = tracking(pd.read_parquet(run / "traces.parquet"), args.period)
        except (FileNotFoundError, ValueError) as err:
            print(f"skipped {run}: {err}", file=sys.stderr)
            skipped += 1
    if not results:
        return 2
    if skipped:
        print(f"{skipped} of {len(args.runs)} runs skipped", file=sys.stderr)
    print(markdown(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
