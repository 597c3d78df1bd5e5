"""Does a trained MoSS encoder read the task from the rewards, or the behaviour?

For a ``moss`` run (checkpoint needed), windows from its replay are relabelled with the decoder's rewards
under another window's belief (``methods.moss.diagnostics.relabel_gap``), and the belief read from the
relabelled window is compared with that window's:

    python scripts/moss_relabel_gap.py results/reference/bench/cheetah-vel-nonstat/moss/seed=0 [RUN ...]

``ratio`` near 0: the belief follows the rewards whatever the behaviour; near 1: it reads the behaviour
(the relabelled window is read as the window it came from). ``--json F`` also writes the figures. Exit code
2 on a path that is not a MoSS run with a checkpoint. About 20 seconds per run on cheetah-vel-nonstat.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

import numpy as np
import torch

from harness.trained import load_run
from methods.moss.diagnostics import relabel_gap


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", type=Path, nargs="+",
                        help="MoSS run directories (<out>/<suite>/<method>/seed=<k>)")
    parser.add_argument("--windows", type=int, default=1024, help="encoder windows to sample")
    parser.add_argument("--seed", type=int, default=0, help="seed of the window draws")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures to this JSON file")
    args = parser.parse_args(argv)
    rows = {}
    for run_dir in args.runs:
        if not (run_dir / "checkpoint.pt").is_file():
            print(f"error: {run_dir} has no checkpoint.pt (a run directory with its checkpoint is needed)",
                  file=sys.stderr)
            return 2
        run = load_run(run_dir, device="cpu")
        if not hasattr(run.method, "inference"):
            print(f"error: {run_dir} is not a MoSS run (method {run.record['method']!r})", file=sys.stderr)
            return 2
        torch.manual_seed(args.seed)
        run.method.rng = np.random.default_rng(args.seed)
        gap = relabel_gap(run.method, args.windows)
        rows[str(run_dir)] = dataclasses.asdict(gap)
    print("| run | gap | spread | ratio | mean distance relabelled / own (latent units) "
          "| decoder reward RMSE / reward std |")
    print("|---|---|---|---|---|---|")
    for name, g in rows.items():
        print(f"| {name} | {g['gap']:.3f} | {g['spread']:.3f} | {g['ratio']:.2f} | "
              f"{g['mean_distance']:.2f} / {g['own_distance']:.2f} "
              f"| {g['reward_rmse']:.3f} / {g['reward_std']:.3f} |")
    if args.json is not None:
        args.json.write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
