"""Scaling over cores: ``harness run --workers 2`` on two jobs against one job alone.

Runs ``harness run`` as a subprocess, first with one seed (``--workers 1``), then with two seeds and
``--workers 2`` (one spawned process per job), each into a fresh temporary results directory, and
compares the env steps per wall-clock second of the whole command (interpreter start, training,
evaluation, writing). Every job runs on ``--threads`` torch threads (default 1, the harness default), so two
workers on two cores do not fight over threads. The target is a ratio of at least 1.8 on an otherwise idle
machine with two free cores; wall time on a machine shared with other jobs measures them too. Per-job CPU
seconds are printed as well (they should not grow with the second worker). Usage::

    python -m benchmarks.bench_workers                        # moss, cheetah-vel, smoke profile, 2000 steps
    python -m benchmarks.bench_workers --method sac-mt --budget 5000
    python -m benchmarks.bench_workers --smoke                # seconds: toy suite (tests)
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence


def run_cli(args: argparse.Namespace, seeds: str, workers: int) -> tuple[float, float]:
    """Wall seconds and children's CPU seconds of one ``harness run`` command."""
    with tempfile.TemporaryDirectory(prefix="bench-workers-") as out:
        cmd = [sys.executable, "-m", "harness", "run", "--suite", args.suite, "--method", args.method,
               "--profile", args.profile, "--budget", str(args.budget), "--seeds", seeds, "--out", out,
               "--workers", str(workers), "--threads", str(args.threads), "--device", "cpu"]
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "PYTHONHASHSEED": "0"})
        wall = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    fmt = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=fmt)
    parser.add_argument("--suite", default="cheetah-vel")
    parser.add_argument("--method", default="moss")
    parser.add_argument("--profile", default="smoke")
    parser.add_argument("--budget", type=int, default=2000, help="env steps per job")
    parser.add_argument("--threads", type=int, default=1, help="torch threads per job")
    parser.add_argument("--smoke", action="store_true", help="seconds: point-goal, random policy (tests)")
    args = parser.parse_args(argv)
    if args.smoke:
        args.suite, args.method, args.budget = "point-goal", "random", 80
    return args


def main(argv: Sequence[str] | None = None) -> dict[str, float]:
    args = parse_args(argv)
    one_wall, one_cpu = run_cli(args, "0", 1)
    two_wall, two_cpu = run_cli(args, "0,1", 2)
    one_rate, two_rate = args.budget / one_wall, 2 * args.budget / two_wall
    print(f"harness run --suite {args.suite} --method {args.method} --profile {args.profile} "
          f"--budget {args.budget} --threads {args.threads}")
    print(f"  1 job,  --workers 1: {one_wall:7.1f} s wall, {one_cpu:7.1f} s CPU, {one_rate:8.0f} env steps/s")
    print(f"  2 jobs, --workers 2: {two_wall:7.1f} s wall, {two_cpu / 2:7.1f} s CPU per job, "
          f"{two_rate:8.0f} env steps/s")
    ratio = two_rate / one_rate
    print(f"  ratio: {ratio:.2f} (target >= 1.8 with two free cores; {os.cpu_count()} cores here, "
          f"load average {os.getloadavg()[0]:.1f})")
    return {"one_rate": one_rate, "two_rate": two_rate, "ratio": ratio, "one_cpu": one_cpu,
            "two_cpu_per_job": two_cpu / 2}


if __name__ == "__main__":
    main()
