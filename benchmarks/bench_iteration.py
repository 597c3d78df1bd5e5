"""Where a training iteration of MoSS and PEARL goes, on cheetah-vel with the paper's schedule.

Each method is set up as ``harness run --profile paper`` would (config, training tasks, seed), its first
iteration (the initial collection) runs untimed, then ``--iterations`` iterations are timed phase by phase
(CPU seconds of this process on CPU, wall seconds with CUDA synchronised on a GPU):

* MoSS: ``collect`` (collector, policy included), ``encoder`` (GMVAE/InfoNCE steps), ``belief`` (sampling
  the context windows and computing the beliefs of the SAC batch), ``sac`` (the SAC steps on those
  batches), ``other`` (the rest: shuffling, slicing).
* PEARL: ``collect`` (collector and the posterior inference between episodes), ``sample`` (replay
  batches of the updates), ``encoder`` (context encoder forward in the updates; its backward runs inside
  the critic step), ``sac`` (the rest of the updates).

The last line compares MoSS's SAC step (belief + sac + other, per step) with the bare SAC block
(:class:`methods.common.sac.SAC`) at the same widths, input size and batch: the target is a ratio of at
least 0.7. To keep the default run short, the SAC and encoder step counts of an iteration are cut
(``--sac-steps``, ``--encoder-steps``; ``--full`` keeps the paper's 2048 / 128 for MoSS and 2000 for PEARL)
and PEARL's initial collection is one episode per task (the timed iterations collect on the paper's
schedule). Rates do not depend on these counts. Usage::

    python -m benchmarks.bench_iteration                         # MoSS and PEARL, paper profile, CPU
    python -m benchmarks.bench_iteration --profile bench --methods moss
    python -m benchmarks.bench_iteration --device cuda --full
    python -m benchmarks.bench_iteration --smoke                 # seconds (tests)
"""

from __future__ import annotations

import argparse
import statistics
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

from benchmarks.common import PhaseTimer, clock, sync
from harness.collector import Collector
from harness.config import method_config
from harness.context import RunContext, resolve_device
from harness.profiles import get_profile
from harness.registry import get_method, get_suite
from methods.common.replay import ReplayBuffer
from methods.common.sac import SAC, SACConfig


def build(name: str, args: argparse.Namespace) -> tuple[Any, Collector]:
    """A set-up method and its collector, configured as a ``--profile`` run of the suite."""
    import methods  # noqa: F401  (registers the methods)
    import suites  # noqa: F401  (registers the suites)

    suite = get_suite(args.suite)
    method_cls = get_method(name)
    sets: dict[str, Any] = {}
    if not args.full:
        if name.startswith("moss"):
            sets = {"num_training_steps_policy": args.sac_steps,
                    "num_training_steps_reconstruction": args.encoder_steps}
        elif name == "pearl":
            sets = {"num_train_steps_per_itr": args.sac_steps, "num_initial_steps": suite.horizon}
    if args.smoke:
        sets.update({"sac_layer_size": 32, "batch_size_policy": 32, "batch_size_reconstruction": 16,
                     "num_train_tasks_per_episode": 2, "num_transitions_initial": 20,
                     "num_transitions_per_episode": 20, "time_steps": 8} if name.startswith("moss") else
                    {"hidden": (32, 32), "batch_size": 16, "meta_batch": 2, "num_initial_steps": 20,
                     "num_steps_prior": 20, "num_extra_rl_steps_posterior": 20, "num_tasks_sample": 2,
                     "embedding_batch_size": 8, "encoder_hidden": (32,)})
    config = method_config(method_cls, suite, args.profile, sets=sets)
    profile = get_profile(args.profile)
    n_train, _ = profile.num_tasks(suite)
    if args.smoke:
        n_train = 3
    tasks = suite.train_tasks(0, n_train)
    budget = profile.budget(suite)
    ctx = RunContext(seed=0, device=resolve_device(args.device), profile=args.profile, budget=budget)
    torch.manual_seed(0)
    method = method_cls(config)
    method.setup(suite, tasks, ctx)
    return method, Collector(suite, tasks, 0, budget, task_obs=method.sees_task,
                             privileged_task=method.privileged_task(method.config))


def instrument(name: str, method: Any, collector: Collector, timer: PhaseTimer) -> None:
    """Time the phases of ``method`` by wrapping its parts (instance attributes; nothing else changes)."""
    collector.collect = timer.wrap("collect", collector.collect)  # type: ignore[method-assign,assignment]
    if name.startswith("moss"):
        method._encoder_phase = timer.wrap("encoder", method._encoder_phase)
        method._policy_samples = timer.wrap("belief", method._policy_samples)
        method.policy.update = timer.wrap("sac", method.policy.update)
        method._policy_phase = timer.wrap("policy phase", method._policy_phase)
    else:  # sampling and encoder forward are timed inside ``update`` only (collection uses them too)
        in_update = [False]

        def inside(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
            timed = timer.wrap(name, fn)
            return lambda *a, **k: timed(*a, **k) if in_update[0] else fn(*a, **k)

        for replay in (method.rl_replay, method.enc_replay):
            replay.sample = inside("sample", replay.sample)
        method.encoder.forward = inside("encoder", method.encoder.forward)
        update = timer.wrap("update", method.update)

        def flagged(*a: Any, **k: Any) -> Any:
            in_update[0] = True
            try:
                return update(*a, **k)
            finally:
                in_update[0] = False
        method.update = flagged


def bare_sac_rate(in_dim: int, act_dim: int, hidden: tuple[int, ...], batch: int, device: torch.device,
                  updates: int, repeats: int) -> float:
    """Median updates per second of the bare SAC block (batches from a random ``ReplayBuffer``)."""
    n = 20_000
    rng = np.random.default_rng(0)
    buf = ReplayBuffer(in_dim, act_dim, n, rng, device)
    buf.add_transitions(rng.normal(size=(n, in_dim)), rng.uniform(-1, 1, (n, act_dim)), rng.normal(size=n),
                        rng.normal(size=(n, in_dim)), np.zeros(n, bool), np.arange(n) % 200 == 0)
    sac = SAC(in_dim, act_dim, SACConfig(hidden=hidden, batch_size=batch), device)
    sac.update_many(lambda: buf.sample(batch), 3)
    rates = []
    for _ in range(repeats):
        sync(device)
        start = clock(device)
        sac.update_many(lambda: buf.sample(batch), updates)
        sync(device)
        rates.append(updates / (clock(device) - start))
    return statistics.median(rates)


def run_method(name: str, args: argparse.Namespace) -> dict[str, float]:
    method, collector = build(name, args)
    device = method.device
    method.train_step(collector)  # initial collection (untimed)
    timer = PhaseTimer(device)
    instrument(name, method, collector, timer)
    steps_before = collector.steps_used
    with timer.phase("iteration"):
        for _ in range(args.iterations):
            method.train_step(collector)
    s = timer.seconds
    env_steps = collector.steps_used - steps_before
    collector.close()
    cfg = method.config
    if name.startswith("moss"):
        sac_steps = cfg.num_training_steps_policy * args.iterations
        phases = {"collect": s.get("collect", 0.0), "encoder": s.get("encoder", 0.0),
                  "belief": s.get("belief", 0.0), "sac": s.get("sac", 0.0)}
        phases["other"] = s.get("policy phase", 0.0) - phases["belief"] - phases["sac"]
    else:
        sac_steps = cfg.num_train_steps_per_itr * args.iterations
        inner = s.get("sample", 0.0) + s.get("encoder", 0.0)
        phases = {"collect": s.get("collect", 0.0), "sample": s.get("sample", 0.0),
                  "encoder": s.get("encoder", 0.0), "sac": s.get("update", 0.0) - inner}
    total = s["iteration"]
    print(f"\n{name} on {args.suite}, profile {args.profile}, device {device}: {args.iterations} "
          f"iteration(s), {env_steps} env steps, {sac_steps} SAC steps; {total:.2f} s")
    for phase, sec in phases.items():
        print(f"  {phase:<8} {sec:8.2f} s  {100 * sec / total:5.1f}%")
    out = {f"{k}_s": v for k, v in phases.items()}
    out.update(total_s=total, env_steps=float(env_steps), sac_steps=float(sac_steps))
    if name.startswith("moss"):
        policy_s = phases["belief"] + phases["sac"] + phases["other"]
        rate = sac_steps / policy_s
        in_dim = method.policy.actor_embed.out_dim
        hidden = tuple(cfg.hidden)
        reps = 1 if args.smoke else 3
        bare = bare_sac_rate(in_dim, method.act_dim, hidden, cfg.batch_size, device,
                             8 if args.smoke else 50, reps)
        print(f"  MoSS SAC step (belief + sac + other): {rate:.1f}/s; bare SAC block {hidden}, "
              f"input {in_dim}, batch {cfg.batch_size}: {bare:.1f}/s; ratio {rate / bare:.2f} "
              "(target >= 0.7)")
        print(f"  SAC step alone (no belief): {sac_steps / phases['sac']:.1f}/s; "
              f"ratio {sac_steps / phases['sac'] / bare:.2f}")
        out.update(sac_rate=rate, bare_rate=bare, ratio=rate / bare)
    return out


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    fmt = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=fmt)
    parser.add_argument("--methods", nargs="+", default=["moss", "pearl"])
    parser.add_argument("--suite", default="cheetah-vel")
    parser.add_argument("--profile", default="paper", help="paper (default) or bench")
    parser.add_argument("--iterations", type=int, default=1, help="timed iterations after the first")
    parser.add_argument("--sac-steps", type=int, default=128, help="SAC steps per iteration (not --full)")
    parser.add_argument("--encoder-steps", type=int, default=16, help="MoSS encoder steps (not --full)")
    parser.add_argument("--full", action="store_true", help="the profile's step counts (about a minute "
                        "per MoSS iteration on one CPU core)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--smoke", action="store_true", help="seconds: tiny networks and schedule (tests)")
    args = parser.parse_args(argv)
    if args.smoke:
        args.sac_steps, args.encoder_steps, args.profile = 4, 2, "smoke"
    return args


def main(argv: Sequence[str] | None = None) -> dict[str, dict[str, float]]:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    return {name: run_method(name, args) for name in args.methods}


if __name__ == "__main__":
    main()
