"""Where a task-seeing SAC run's critic loss comes from on a non-stationary suite: task switches.

On a non-stationary suite a method that sees the task (``sac-oracle``) gets the *new* task in the next
observation of the transition where the task switches, so that transition's Bellman target jumps by the
value difference between the two tasks, which nothing in the current observation predicts. This script
samples transitions from a finished run's replay buffer (its ``checkpoint.pt``), computes the critics'
squared TD error of each and splits it by whether the task part of the observation changed::

    python scripts/oracle_switch_td.py results/reference/bench/cheetah-vel-nonstat/sac-oracle/seed=0

It prints the share of switch transitions, the mean squared TD error (summed over the twin critics) on each
side and the share of the whole loss that the switches make. Exit code 2 on a bad path or a run whose
method is not a task-seeing single-buffer SAC (``sac-oracle``).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from harness.trained import load_run


@dataclass
class SwitchError:
    """Critics' squared TD error split by task switches (see the module docstring)."""

    samples: int
    switch_share: float
    mse_switch: float
    mse_other: float
    loss_share_switch: float


@torch.no_grad()
def switch_td_error(method: Any, obs_dim: int, samples: int = 20_000) -> SwitchError:
    """Split the critics' squared TD error of ``samples`` replay transitions of a task-seeing SAC method.

    Args:
        method: a trained ``sac-oracle`` (``sac``: :class:`methods.common.sac.SAC`, ``replay``: its buffer).
        obs_dim: the suite's own observation size (the task vector follows it in the stored observations).
        samples: transitions drawn from the buffer.
    """
    sac, batch = method.sac, method.replay.sample(samples)
    switch = (batch.obs[:, obs_dim:] != batch.next_obs[:, obs_dim:]).any(dim=1)
    next_a, next_logp = sac.actor(batch.next_obs)
    q_next = sac.critic_target(batch.next_obs, next_a).min(dim=0).values - sac.alpha * next_logp
    target = sac.config.reward_scale * batch.reward + sac.config.gamma * (1.0 - batch.terminated) * q_next
    err = (sac.critic(batch.obs, batch.action) - target).square().sum(dim=0)
    n_switch = int(switch.sum())
    return SwitchError(
        samples=len(err), switch_share=n_switch / len(err),
        mse_switch=float(err[switch].mean()) if n_switch else float("nan"),
        mse_other=float(err[~switch].mean()),
        loss_share_switch=float(err[switch].sum() / err.sum()),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", type=Path, help="a finished sac-oracle run directory (with checkpoint.pt)")
    parser.add_argument("--samples", type=int, default=20_000)
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    try:
        run = load_run(args.run, device="cpu")
    except (FileNotFoundError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if not getattr(run.method, "sees_task", False) or not hasattr(run.method, "sac"):
        method = run.record["method"]
        print(f"error: {args.run}: not a task-seeing SAC run (method {method})", file=sys.stderr)
        return 2
    r = switch_td_error(run.method, run.suite.spec.obs_dim, args.samples)
    print("| run | samples | switch share | TD MSE at switches | TD MSE elsewhere | loss share of switches |")
    print("|---|---|---|---|---|---|")
    print(f"| {args.run} | {r.samples} | {r.switch_share:.4f} | {r.mse_switch:.1f} | {r.mse_other:.2f} "
          f"| {r.loss_share_switch:.3f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
