"""Gradient updates per second: our SAC block (``methods.common.sac``) vs Stable-Baselines3 ``SAC.train``.

Both learners get the same network sizes (actor and twin critics), batch size, learned temperature and a
replay buffer pre-filled with random transitions; each timing includes sampling the batch from its own
replay buffer. The two run interleaved (ours, SB3, ours, ...) and the medians are printed, in updates per
CPU second of this process (robust to other jobs on the machine). Each row also shows the matmul FLOPs of
one update and the arithmetic limit: the time those products take back to back at this core's measured
``torch.mm`` speed at the same shapes; ``% of limit`` is that time over the measured update time. The
``compiled`` column is our block with ``SACConfig(compile=True)`` (losses through ``torch.compile``; its
compilation happens in the warm-up, outside the timing). On CUDA, ours replays the update from a CUDA graph
(``SACConfig.cuda_graph``) and a line under each row gives the eager update's rate beside it. Usage::

    python -m benchmarks.bench_sac_update                    # 2x64, 2x256, 3x300; batch 256, 1 thread
    python -m benchmarks.bench_sac_update --widths 256x2 --threads 2 --device cuda --updates 2000
    python -m benchmarks.bench_sac_update --no-compile       # without the compiled column
    python -m benchmarks.bench_sac_update --device cuda --no-sb3 --no-compile   # CUDA graph vs eager
    python -m benchmarks.bench_sac_update --smoke            # seconds: tiny run (tests; no compiled column)
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from benchmarks.common import arithmetic_limit, clock, flops, interleaved, sac_update_matmuls, sync
from methods.common.replay import ReplayBuffer
from methods.common.sac import SAC, SACConfig


class _BoxEnv(gym.Env):
    """Stub env that only declares the spaces SB3 needs to build its networks."""

    def __init__(self, obs_dim: int, act_dim: int) -> None:
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, (obs_dim,), np.float32)
        self.action_space = gym.spaces.Box(-1.0, 1.0, (act_dim,), np.float32)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict]:
        return np.zeros(self.observation_space.shape, np.float32), {}

    def step(self, action: np.ndarray) -> tuple[Any, float, bool, bool, dict]:
        return np.zeros(self.observation_space.shape, np.float32), 0.0, False, False, {}


def random_data(n: int, obs_dim: int, act_dim: int, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        "obs": rng.normal(size=(n, obs_dim)).astype(np.float32),
        "action": rng.uniform(-1, 1, size=(n, act_dim)).astype(np.float32),
        "reward": rng.normal(size=n).astype(np.float32),
        "next_obs": rng.normal(size=(n, obs_dim)).astype(np.float32),
        "terminated": (rng.random(n) < 0.01),
    }


def ours_runner(args: argparse.Namespace, hidden: Sequence[int], data: dict[str, np.ndarray],
                compile: bool = False, cuda_graph: bool = True) -> Callable[[], float]:
    """``() -> updates per second`` of ``SAC.update_many`` with batches from our ``ReplayBuffer``."""
    n = len(data["reward"])
    config = SACConfig(hidden=tuple(hidden), batch_size=args.batch, compile=compile, cuda_graph=cuda_graph)
    sac = SAC(args.obs_dim, args.act_dim, config, args.device)
    buf = ReplayBuffer(args.obs_dim, args.act_dim, n, np.random.default_rng(0), args.device)
    buf.add_transitions(data["obs"], data["action"], data["reward"], data["next_obs"], data["terminated"],
                        np.arange(n) % 1000 == 0)
    sac.update_many(lambda: buf.sample(args.batch), args.warmup)

    def run() -> float:
        sync(args.device)
        start = clock(args.device)
        sac.update_many(lambda: buf.sample(args.batch), args.updates)
        sync(args.device)
        return args.updates / (clock(args.device) - start)
    return run


def sb3_runner(args: argparse.Namespace, hidden: Sequence[int], data: dict[str, np.ndarray]
               ) -> Callable[[], float]:
    """``() -> updates per second`` of SB3's ``SAC.train(gradient_steps=...)``."""
    from stable_baselines3 import SAC as SB3SAC
    from stable_baselines3.common.logger import configure

    n = len(data["reward"])
    model = SB3SAC("MlpPolicy", _BoxEnv(args.obs_dim, args.act_dim), batch_size=args.batch, buffer_size=n,
                   policy_kwargs={"net_arch": list(hidden)}, device=args.device, seed=0)
    model.set_logger(configure(None, []))
    rb = model.replay_buffer
    assert rb is not None
    rb.observations[:n, 0] = data["obs"]
    rb.actions[:n, 0] = data["action"]
    rb.rewards[:n, 0] = data["reward"]
    rb.next_observations[:n, 0] = data["next_obs"]
    rb.dones[:n, 0] = data["terminated"]
    rb.pos, rb.full = 0, True
    model.train(gradient_steps=args.warmup, batch_size=args.batch)

    def run() -> float:
        sync(args.device)
        start = clock(args.device)
        model.train(gradient_steps=args.updates, batch_size=args.batch)
        sync(args.device)
        return args.updates / (clock(args.device) - start)
    return run


def parse_widths(text: str) -> list[int]:
    """``"256x2"`` -> ``[256, 256]``."""
    width, _, layers = text.partition("x")
    return [int(width)] * int(layers or 1)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    fmt = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=fmt)
    parser.add_argument("--obs-dim", type=int, default=20)
    parser.add_argument("--act-dim", type=int, default=6)
    parser.add_argument("--widths", nargs="+", default=["64x2", "256x2", "300x3"],
                        help="hidden layers as WIDTHxLAYERS (default 64x2 256x2 300x3)")
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--updates", type=int, default=100, help="updates per timed repeat")
    parser.add_argument("--repeats", type=int, default=5, help="interleaved repeats (median printed)")
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--buffer", type=int, default=50_000)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--no-sb3", action="store_true", help="only our block (no SB3 column)")
    parser.add_argument("--no-compile", action="store_true",
                        help="no compiled column (SACConfig(compile=True))")
    parser.add_argument("--smoke", action="store_true", help="seconds: tiny sizes (tests)")
    args = parser.parse_args(argv)
    if args.smoke:
        args.widths, args.updates, args.repeats, args.warmup, args.buffer = ["16x2"], 3, 1, 1, 1000
        args.no_compile = True
    return args


def main(argv: Sequence[str] | None = None) -> dict[str, dict[str, float]]:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    data = random_data(args.buffer, args.obs_dim, args.act_dim, seed=0)
    print(f"SAC update: batch {args.batch}, obs {args.obs_dim}, act {args.act_dim}, device {args.device}, "
          f"{args.threads} thread(s); updates per CPU second, median of {args.repeats} interleaved repeats")
    print(f"{'hidden':>8} {'ours/s':>8} {'SB3/s':>8} {'ours/SB3':>9} {'MFLOP/upd':>10} {'mm GFLOP/s':>11} "
          f"{'limit/s':>8} {'% of limit':>11} {'compiled/s':>11} {'comp/SB3':>9} {'comp % lim':>11}")
    if torch.device(args.device).type == "cuda":
        print("On CUDA the limit columns time each matmul launched alone (launch-bound at these sizes, not "
              "arithmetic): read the CUDA graph / eager line under each row.")
    out: dict[str, dict[str, float]] = {}
    for text in args.widths:
        hidden = parse_widths(text)
        variants = {"ours": ours_runner(args, hidden, data)}
        if not args.no_sb3:
            variants["sb3"] = sb3_runner(args, hidden, data)
        if not args.no_compile:
            variants["compiled"] = ours_runner(args, hidden, data, compile=True)
        if torch.device(args.device).type == "cuda":  # ours replays a CUDA graph there; eager beside it
            variants["eager"] = ours_runner(args, hidden, data, cuda_graph=False)
        rates = interleaved(variants, args.repeats)
        shapes = sac_update_matmuls(args.batch, args.obs_dim, args.act_dim, hidden)
        limit_s = arithmetic_limit(shapes, args.device, 0.002 if args.smoke else 0.01)
        fl = flops(shapes)
        sb3 = rates.get("sb3", float("nan"))
        comp = rates.get("compiled", float("nan"))
        row = {"ours": rates["ours"], "sb3": sb3, "ratio": rates["ours"] / sb3, "mflop": fl / 1e6,
               "mm_gflops": fl / limit_s / 1e9, "limit_rate": 1 / limit_s,
               "fraction": rates["ours"] * limit_s, "compiled": comp, "compiled_ratio": comp / sb3,
               "compiled_fraction": comp * limit_s}
        out[text] = row
        print(f"{text:>8} {row['ours']:8.1f} {sb3:8.1f} {row['ratio']:9.2f} {row['mflop']:10.1f} "
              f"{row['mm_gflops']:11.1f} {row['limit_rate']:8.1f} {100 * row['fraction']:10.0f}% "
              f"{comp:11.1f} {row['compiled_ratio']:9.2f} {100 * row['compiled_fraction']:10.0f}%")
        if "eager" in rates:
            row["eager"] = rates["eager"]
            print(f"{'':>8} eager update (cuda_graph=False): {rates['eager']:.1f}/s; "
                  f"CUDA graph / eager: {rates['ours'] / rates['eager']:.2f}")
    return out


if __name__ == "__main__":
    main()
