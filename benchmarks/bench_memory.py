"""Memory of a long run: resident memory of a paper-profile cheetah-vel MoSS run, projected to its budget.

Sets MoSS up as ``harness run --profile paper`` does, runs ``--iterations`` iterations (the first collects
``n_train x 200`` steps, each later one 30 x 200; SAC and encoder steps cut to ``--sac-steps`` /
``--encoder-steps``: they allocate nothing that grows), then prints

* the resident set now and at its peak (``/proc/self/status`` ``VmRSS`` / ``VmHWM``),
* the replay's allocated bytes per stored transition (packed float32 rows plus the int64 bookkeeping,
  including the slack of buffers that grow by doubling),
* the peak while a checkpoint is written (``torch.save`` of ``state_dict()``, as the runner does),
* the projection at the full budget: the replay at the full budget (``budget / n_train`` transitions per
  task, each buffer grown by doubling from 1,024 rows, so at most twice what it holds) counted three times
  (live, the copy ``state_dict`` makes, the bytes ``torch.save`` pickles while a checkpoint is written), on
  top of the resident set now minus the replay now. Target: <= 4 GiB.

With ``--metaworld`` it also builds the 50 test envs of ``ml1-reach-v2`` at once, as an evaluation does,
and prints the resident memory they add. Usage::

    python -m benchmarks.bench_memory
    python -m benchmarks.bench_memory --iterations 4 --metaworld
    python -m benchmarks.bench_memory --smoke
"""

from __future__ import annotations

import argparse
import gc
import tempfile
from collections.abc import Sequence
from pathlib import Path

import torch

from benchmarks.bench_iteration import build

GIB = 2**30


def rss() -> tuple[int, int]:
    """``(current, peak)`` resident bytes of this process (Linux ``/proc/self/status``)."""
    values = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0]) * 1024
    return values["VmRSS"], values["VmHWM"]


def replay_bytes(replay: object) -> tuple[int, int]:
    """``(allocated bytes, stored transitions)`` of a :class:`MultiTaskReplay`."""
    total = stored = 0
    for buf in replay._buffers.values():  # type: ignore[attr-defined]
        total += sum(getattr(buf, n).nbytes for n in ("_data", "_gid", "_ep_start", "_trial_start"))
        stored += len(buf)
    return total, stored


def replay_at(transitions_per_task: int, tasks: int, capacity: int, row_bytes: int) -> int:
    """Allocated bytes of ``tasks`` buffers holding ``transitions_per_task`` each (doubling from 1,024)."""
    rows = min(capacity, 1024)
    while rows < min(transitions_per_task, capacity):
        rows = min(capacity, 2 * rows)
    return tasks * rows * row_bytes


def metaworld_eval_bytes(n: int) -> int:
    """Resident bytes added by building the ``n`` test envs of ``ml1-reach-v2`` (as one evaluation)."""
    import suites  # noqa: F401
    from harness.registry import get_suite
    from harness.rollout import EnvPool

    suite = get_suite("ml1-reach-v2")
    gc.collect()
    before = rss()[0]
    pool = EnvPool(suite, suite.test_tasks(0, n), 0, "eval", False)
    for i in range(n):
        pool.env(i, 0)
    after = rss()[0]
    pool.close()
    return after - before


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    fmt = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=fmt)
    parser.add_argument("--iterations", type=int, default=3)
    parser.add_argument("--sac-steps", type=int, default=8)
    parser.add_argument("--encoder-steps", type=int, default=2)
    parser.add_argument("--profile", default="paper")
    parser.add_argument("--metaworld", action="store_true", help="also measure 50 Meta-World eval envs")
    parser.add_argument("--smoke", action="store_true", help="seconds: tiny run (tests)")
    args = parser.parse_args(argv)
    args.suite, args.device, args.full = "cheetah-vel", "cpu", False
    if args.smoke:
        args.iterations, args.profile = 2, "smoke"
    return args


def main(argv: Sequence[str] | None = None) -> dict[str, float]:
    args = parse_args(argv)
    torch.set_num_threads(1)
    start_rss = rss()[0]
    method, collector = build("moss", args)
    for _ in range(args.iterations):
        method.train_step(collector)
    now, peak = rss()
    alloc, stored = replay_bytes(method.replay)
    per = alloc / max(stored, 1)
    with tempfile.TemporaryDirectory() as tmp:
        torch.save(method.state_dict(), Path(tmp) / "ckpt.pt")
    ckpt_peak = rss()[1]
    budget = collector.budget.total
    collector.close()
    buf0 = method.replay.buffer(0)
    row_bytes = 4 * buf0.width + 3 * 8  # packed float32 row + gid, episode and trial starts (int64)
    full = replay_at(budget // method.num_tasks, method.num_tasks, buf0.capacity, row_bytes)
    projected = max(peak, ckpt_peak) - alloc + 3 * full
    print(f"MoSS on cheetah-vel, profile {args.profile}: {args.iterations} iterations, {stored} transitions "
          f"stored of a {budget} step budget")
    print(f"  resident at start {start_rss / GIB:.2f} GiB, now {now / GIB:.2f} GiB, "
          f"peak {peak / GIB:.2f} GiB, peak with a checkpoint written {ckpt_peak / GIB:.2f} GiB")
    print(f"  replay: {alloc / 2**20:.1f} MiB allocated, {per:.0f} bytes per stored transition "
          f"({4 * method.replay.buffer(0).width} in the packed float32 row)")
    print(f"  replay at the full budget: {full / GIB:.2f} GiB ({full / budget:.0f} bytes per transition); "
          f"projected peak with a checkpoint written: {projected / GIB:.2f} GiB (target <= 4 GiB)")
    out = {"peak": float(peak), "ckpt_peak": float(ckpt_peak), "bytes_per_transition": per,
           "full_replay": float(full), "projected": projected}
    if args.metaworld:
        n = 50
        added = metaworld_eval_bytes(n)
        print(f"  Meta-World ml1-reach-v2: {n} eval envs at once add {added / GIB:.2f} GiB "
              f"({added / n / 2**20:.0f} MiB per env)")
        out["metaworld_eval"] = float(added)
    return out


if __name__ == "__main__":
    main()
