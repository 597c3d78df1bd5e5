"""Gradient updates per second: our SAC block (``methods.common.sac``) vs Stable-Baselines3 ``SAC.train``.

Both learners get the same network sizes (actor and twin critics, ``--hidden``), batch size, learned
temperature and a replay buffer pre-filled with random transitions; each timing includes sampling the batch
from its own replay buffer. Usage::

    python benchmarks/bench_sac_update.py                       # obs 20, act 6, batch 256, 1 thread, CPU
    python benchmarks/bench_sac_update.py --threads 2 --device cuda --updates 2000
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import gymnasium as gym
import numpy as np
import torch

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


def _random_data(n: int, obs_dim: int, act_dim: int, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        "obs": rng.normal(size=(n, obs_dim)).astype(np.float32),
        "action": rng.uniform(-1, 1, size=(n, act_dim)).astype(np.float32),
        "reward": rng.normal(size=n).astype(np.float32),
        "next_obs": rng.normal(size=(n, obs_dim)).astype(np.float32),
        "terminated": (rng.random(n) < 0.01),
    }


def bench_ours(args: argparse.Namespace, data: dict[str, np.ndarray]) -> tuple[float, float]:
    """Updates per second (wall, CPU) of ``SAC.update_many`` with batches from our ``ReplayBuffer``."""
    n = len(data["reward"])
    cfg = SACConfig(hidden=tuple(args.hidden), batch_size=args.batch)
    sac = SAC(args.obs_dim, args.act_dim, cfg, args.device)
    buf = ReplayBuffer(args.obs_dim, args.act_dim, n, np.random.default_rng(0), args.device)
    buf.add_transitions(data["obs"], data["action"], data["reward"], data["next_obs"], data["terminated"],
                        np.arange(n) % 1000 == 0)
    sac.update_many(lambda: buf.sample(args.batch), args.warmup)
    _sync(args.device)
    start, cpu = time.perf_counter(), time.process_time()
    sac.update_many(lambda: buf.sample(args.batch), args.updates)
    _sync(args.device)
    return _rates(args.updates, start, cpu)


def bench_sb3(args: argparse.Namespace, data: dict[str, np.ndarray]) -> tuple[float, float]:
    """Updates per second (wall, CPU) of SB3's ``SAC.train(gradient_steps=...)``."""
    from stable_baselines3 import SAC as SB3SAC
    from stable_baselines3.common.logger import configure

    n = len(data["reward"])
    model = SB3SAC("MlpPolicy", _BoxEnv(args.obs_dim, args.act_dim), batch_size=args.batch, buffer_size=n,
                   policy_kwargs={"net_arch": list(args.hidden)}, device=args.device, seed=0)
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
    _sync(args.device)
    start, cpu = time.perf_counter(), time.process_time()
    model.train(gradient_steps=args.updates, batch_size=args.batch)
    _sync(args.device)
    return _rates(args.updates, start, cpu)


def _rates(updates: int, start: float, cpu: float) -> tuple[float, float]:
    """Updates per wall-clock second and per CPU second of this process (robust to a busy machine)."""
    return updates / (time.perf_counter() - start), updates / (time.process_time() - cpu)


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def main() -> None:
    fmt = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=fmt)
    parser.add_argument("--obs-dim", type=int, default=20)
    parser.add_argument("--act-dim", type=int, default=6)
    parser.add_argument("--hidden", type=int, nargs="+", default=[256, 256])
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--updates", type=int, default=500)
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument("--buffer", type=int, default=100_000)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    data = _random_data(args.buffer, args.obs_dim, args.act_dim, seed=0)
    ours = bench_ours(args, data)
    sb3 = bench_sb3(args, data)
    print(f"SAC update, batch {args.batch}, hidden {args.hidden}, obs {args.obs_dim}, act {args.act_dim}, "
          f"device {args.device}, threads {args.threads}")
    print("                             updates/s (wall)   updates/s (CPU)")
    print(f"  ours (methods.common.sac): {ours[0]:16.1f} {ours[1]:17.1f}")
    print(f"  SB3 SAC.train:             {sb3[0]:16.1f} {sb3[1]:17.1f}")
    print(f"  ratio ours / SB3:          {ours[0] / sb3[0]:16.2f} {ours[1] / sb3[1]:17.2f}")


if __name__ == "__main__":
    main()
