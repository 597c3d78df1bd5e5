"""Achieved vs target velocity, and time per training iteration, of trained runs on HalfCheetah velocity.

Loads each run directory's checkpoint, runs its agent zero-shot (one greedy episode) on test tasks of the
run's suite, and prints a Markdown table: correlation over tasks of target and achieved mean velocity and the
slope of achieved on target (1 = tracking; a cheetah that barely moves can still correlate well), their
mean absolute error, the per-step error the reward penalises, how much of the target a linear read-out of
the agent's belief recovers (R^2; methods with a belief), and the mean seconds per training iteration
split into collection, encoder and policy updates (from ``train.parquet``; methods without an encoder
report their whole update as ``update``).

    harness run --suite cheetah-vel --method moss,sac-mt --profile quick --out results/cv --workers 2
    python scripts/cheetah_vel_tracking.py results/cv/cheetah-vel/*/seed=0 --tasks 30

``--tasks N`` evaluates on the suite's first N test tasks of the run's task split (default: the run's own
test tasks); cheetah-vel has 30. ``--split train`` uses the run's training tasks instead (first N with
``--tasks``): on ``cheetah-vel-ood`` the test velocities lie outside the training range, and whether the
method learned the suite at all is read on the training velocities.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import Any

import pandas as pd

from harness import store
from harness.registry import load_plugins
from harness.trained import load_run
from suites.mujoco.velocity_tracking import velocity_tracking


def timing(run_dir: Path) -> dict[str, float]:
    """Mean seconds per training iteration (collect / encoder / policy / update) and env steps each."""
    frame = pd.read_parquet(run_dir / store.TRAIN_FILE)
    out = {"iterations": float(len(frame))}
    if len(frame):
        out["env_steps_per_iteration"] = float(frame["env_steps"].diff().fillna(frame["env_steps"]).median())
    for col, key in [("collect_seconds", "collect_s"), ("encoder_seconds", "encoder_s"),
                     ("policy_seconds", "policy_s"), ("update_seconds", "update_s")]:
        out[key] = float(frame[col].mean()) if col in frame and len(frame) else math.nan
    return out


def measure(
    run_dir: Path, n_tasks: int | None, start: int, device: str, split: str = "test"
) -> dict[str, Any]:
    """Velocity-tracking summary (whole episode and from step ``start``) plus timing of one run, on its
    test tasks or (``split="train"``) its training tasks, the first ``n_tasks`` of them if given."""
    if split not in ("test", "train"):
        raise ValueError(f"split must be 'test' or 'train', got {split!r}")
    run = load_run(run_dir, device=device)
    if split == "train":
        tasks = run.train_tasks[:n_tasks]
    else:
        tasks = run.test_tasks if n_tasks is None else run.suite.test_tasks(
            int(run.record.get("task_seed", 0)), n_tasks)
    tracking = velocity_tracking(run.method, run.suite, tasks, run.seed)
    row: dict[str, Any] = {
        "run": str(run_dir),
        "env_steps": run.env_steps,
        "tasks": len(tasks),
        "split": split,
    }
    row.update(tracking.summary())
    row.update({f"late_{k}": v for k, v in tracking.summary(start).items()
                if k in ("corr", "mae", "belief_r2")})
    row.update(timing(run_dir))
    return row


def markdown(rows: list[dict[str, Any]], start: int) -> str:
    """The rows as two Markdown tables (tracking, timing)."""
    lines = [
        f"| run | env steps | tasks | corr | slope | MAE (m/s) | corr, t>={start} | MAE, t>={start} | "
        f"step MAE | mean target | mean achieved | belief R^2, t>={start} |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['run']} | {r['env_steps']} | {r['tasks']} | {r['corr']:.2f} | {r['slope']:.2f} | "
            f"{r['mae']:.2f} | "
            f"{r['late_corr']:.2f} | {r['late_mae']:.2f} | {r['step_mae']:.2f} | {r['mean_target']:.2f} | "
            f"{r['mean_achieved']:.2f} | {r['late_belief_r2']:.2f} |"
        )
    lines += ["", "| run | iterations | env steps / it | collect (s/it) | encoder (s/it) | policy (s/it) | "
              "update (s/it) |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(
            f"| {r['run']} | {r['iterations']:.0f} | {r.get('env_steps_per_iteration', math.nan):.0f} | "
            f"{r['collect_s']:.2f} | {r['encoder_s']:.2f} | {r['policy_s']:.2f} | {r['update_s']:.2f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", type=Path,
                        help="run directories (<out>/<suite>/<method>/seed=<k>)")
    parser.add_argument("--tasks", type=int, default=None, help="test tasks to run (default: the run's own)")
    parser.add_argument("--split", choices=("test", "train"), default="test",
                        help="the run's test tasks (default) or its training tasks")
    parser.add_argument("--start", type=int, default=100,
                        help="first step of the 'late' columns (after acceleration; default 100 of 200)")
    parser.add_argument("--device", default="cpu", help="auto, cpu, cuda or cuda:N (default cpu)")
    parser.add_argument("--json", type=Path, default=None, help="also write the rows as JSON here")
    parser.add_argument("--plugin", action="append", default=[],
                        help="import MODULE (or FILE.py) first, e.g. the plugin that registered the method")
    args = parser.parse_args(argv)
    if args.tasks is not None and args.tasks < 1:
        parser.error(f"--tasks must be >= 1, got {args.tasks}")
    try:
        load_plugins(args.plugin)
        rows = [measure(d, args.tasks, args.start, args.device, args.split) for d in args.runs]
    except (FileNotFoundError, ValueError, KeyError, ImportError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(markdown(rows, args.start))
    if args.json is not None:
        store.write_json(args.json, rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
