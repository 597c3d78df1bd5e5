"""Collection speed: the harness collector against plain gymnasium loops, same policy network.

* ``collector``: :class:`harness.collector.Collector` on ``cheetah-vel``, ``--tasks`` tasks stepped at once
  with one batched policy call per step (what every method's collection does), one episode per task.
* ``plain batched``: ``--tasks`` ``gym.make("HalfCheetah-v5")`` envs in a bare Python loop, one batched
  policy call per step (the least any batched collection can do).
* ``plain single``: one ``HalfCheetah-v5`` env, one policy call per step (the textbook loop).

The policy is a SAC actor (:class:`methods.common.sac.TanhGaussianActor`, ``--hidden``) sampling actions.
Env steps per CPU second of this process, median of interleaved repeats; target: collector / plain
batched >= 1.0. Usage::

    python -m benchmarks.bench_collect
    python -m benchmarks.bench_collect --tasks 30 --repeats 5
    python -m benchmarks.bench_collect --smoke
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence

import gymnasium as gym
import numpy as np
import torch

from benchmarks.common import interleaved
from harness.agent import Agent, StepBatch
from harness.collector import Collector
from harness.registry import get_suite
from methods.common.sac import TanhGaussianActor


class ActorAgent(Agent):
    """A stateless agent: the SAC actor on the observation (numpy in, numpy out)."""

    def __init__(self, actor: TanhGaussianActor) -> None:
        self.actor = actor

    def reset(self, task_boundary: bool) -> None:
        pass

    @torch.no_grad()
    def act(self, obs: np.ndarray, deterministic: bool) -> np.ndarray:
        return self.actor(torch.from_numpy(obs), deterministic)[0].numpy()

    def observe(self, step: StepBatch) -> None:
        pass


def collector_runner(args: argparse.Namespace) -> Callable[[], float]:
    import suites  # noqa: F401  (registers the suites)

    suite = get_suite("cheetah-vel")
    tasks = suite.train_tasks(0, args.tasks)
    collector = Collector(suite, tasks, 0, 10**9)
    agent = ActorAgent(TanhGaussianActor(suite.spec.obs_dim, suite.spec.act_dim, args.hidden))
    ids = list(range(args.tasks))
    collector.collect(agent, ids, episodes=1)  # build the envs

    def run() -> float:
        import time

        start, before = time.process_time(), collector.steps_used
        collector.collect(agent, ids, episodes=1)
        return (collector.steps_used - before) / (time.process_time() - start)
    return run


def plain_runner(args: argparse.Namespace, n_envs: int) -> Callable[[], float]:
    envs = [gym.make("HalfCheetah-v5") for _ in range(n_envs)]
    space = envs[0].observation_space
    assert space.shape is not None
    actor = TanhGaussianActor(space.shape[0], 6, args.hidden)
    steps = args.horizon

    def run() -> float:
        import time

        start = time.process_time()
        obs = np.stack([env.reset(seed=i)[0] for i, env in enumerate(envs)]).astype(np.float32)
        for _ in range(steps):
            with torch.no_grad():
                action = actor(torch.from_numpy(obs))[0].numpy()
            for i, env in enumerate(envs):
                o, _, _, _, _ = env.step(action[i])
                obs[i] = o
        return steps * n_envs / (time.process_time() - start)
    return run


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    fmt = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=fmt)
    parser.add_argument("--tasks", type=int, default=10, help="envs stepped at once (default 10)")
    parser.add_argument("--hidden", type=int, nargs="+", default=[256, 256])
    parser.add_argument("--horizon", type=int, default=200, help="steps per plain-loop episode")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--smoke", action="store_true", help="seconds: 2 tasks, one repeat (tests)")
    args = parser.parse_args(argv)
    if args.smoke:
        args.tasks, args.repeats, args.horizon, args.hidden = 2, 1, 20, [16]
    return args


def main(argv: Sequence[str] | None = None) -> dict[str, float]:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    rates = interleaved({"collector": collector_runner(args), "plain batched": plain_runner(args, args.tasks),
                         "plain single": plain_runner(args, 1)}, args.repeats)
    print(f"Collection, {args.tasks} tasks at once, SAC actor {args.hidden}, {args.threads} thread(s); "
          f"env steps per CPU second, median of {args.repeats} interleaved repeats")
    for name, rate in rates.items():
        print(f"  {name:<14} {rate:9.0f}")
    out = {**rates, "ratio_batched": rates["collector"] / rates["plain batched"],
           "ratio_single": rates["collector"] / rates["plain single"]}
    print(f"  ratio collector / plain batched: {out['ratio_batched']:.2f} (target >= 1.0); "
          f"collector / plain single: {out['ratio_single']:.2f}")
    return out


if __name__ == "__main__":
    main()
