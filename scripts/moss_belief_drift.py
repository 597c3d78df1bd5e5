"""Acting-time vs training-time beliefs of trained MoSS runs, and what the policy does with each.

For each run directory (a ``moss`` run or one of its ablations with online inference), on the suite's test
tasks, zero-shot and greedy:

1. **Belief gap.** The agent runs one episode per task with the GRU hidden state carried from step 0 (the
   ``retain_hidden=True`` agent). For these same trajectories the belief before every step is recomputed as
   the SAC batches and the encoder's training windows compute it: from the last ``time_steps`` transitions,
   from the empty hidden state. Per range of steps the table gives the distance between the two (in units
   of the spread of the training-time beliefs) and the R^2 of a task read-out, fitted on the training-time
   beliefs, evaluated on each.
2. **Acting.** The policy runs once with each agent (carried hidden state; sliding window of the last
   ``time_steps`` transitions, the ``retain_hidden=False`` agent) and the table gives the mean reward per
   step range and, on the HalfCheetah velocity suites, the achieved forward velocity and its error.
3. **Critic error by context** (``--critic``): the critics' squared TD error on fresh SAC samples from the
   run's replay, split by how many transitions the sample's belief has seen, with the belief after the
   transition in the target and with the sample's own belief, and each bin's share of the total.

4. **Critic on another agent's behaviour** (``--against RUN``): the run's critics evaluated on that run's
   greedy episodes on the same tasks (e.g. a ``sac-oracle`` run of the same suite) and on its own: the
   return, the discounted return-to-go, the critics' value of the trajectories' actions and of the run's
   own greedy actions at the same states (first half of the episode). A critic that values the better
   agent's actions no higher than its own policy's has never seen that behaviour pay.

    python scripts/moss_belief_drift.py results/cv/cheetah-vel/moss/seed=0 --tasks 30 --critic
    python scripts/moss_belief_drift.py results/cv/cheetah-vel/moss/seed=1 --tasks 10 \
        --against results/cv/cheetah-vel/sac-oracle/seed=1

``--tasks N`` uses the first N test tasks of the run's task split (default: the run's own test tasks).
``--json F`` also writes every figure to F. Exit code 2 on a bad path or a run that is not MoSS-like.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from harness.registry import load_plugins
from harness.rollout import Rollout
from harness.trained import TrainedRun, greedy_episodes, load_run
from methods.moss.diagnostics import (
    DEFAULT_BUCKETS,
    belief_gap,
    carried_beliefs,
    critic_error_by_context,
    critic_on_behaviour,
    episode_features,
    readout_transfer,
    window_beliefs,
)
from suites.mujoco.cheetah import forward_velocity

#: Torso x index in a HalfCheetah observation and its control period (s), see suites.mujoco.cheetah.


def _rollout(run: TrainedRun, tasks: list[Any], retain_hidden: bool) -> tuple[Rollout, np.ndarray]:
    """One greedy episode per task with the given acting mode; returns the rollout and task vectors."""
    method: Any = run.method
    original = method.config
    method.config = dataclasses.replace(original, retain_hidden=retain_hidden)
    try:
        return greedy_episodes(run, tasks)
    finally:
        method.config = original


def _ranges(x: np.ndarray, buckets: list[tuple[int, int]]) -> list[float]:
    return [float(x[:, lo:hi].mean()) for lo, hi in buckets]


def measure(
    run_dir: Path, n_tasks: int | None, device: str, critic: bool = False, against: Path | None = None
) -> dict[str, Any]:
    """Every figure of one run (see the module docstring)."""
    run = load_run(run_dir, device=device)
    cfg: Any = run.method.config
    if not hasattr(run.method, "inference") or not getattr(cfg, "online_inference", False):
        raise ValueError(f"{run_dir}: not a MoSS run with online inference (method {run.record['method']})")
    tasks = run.test_tasks if n_tasks is None else run.suite.test_tasks(int(run.record.get("task_seed", 0)),
                                                                        n_tasks)
    encoder = run.method.inference.encoder  # type: ignore[attr-defined]
    horizon = run.suite.horizon
    buckets = [(lo, min(hi, horizon)) for lo, hi in DEFAULT_BUCKETS if lo < horizon]
    if horizon > DEFAULT_BUCKETS[-1][1]:
        buckets.append((DEFAULT_BUCKETS[-1][1], horizon))
    out: dict[str, Any] = {"run": str(run_dir), "env_steps": run.env_steps, "tasks": len(tasks),
                           "time_steps": cfg.time_steps, "buckets": buckets}
    velocity = run.suite.spec.obs_dim == 20 and all(hasattr(t, "velocity") for t in tasks)
    for mode, retain in (("carried", True), ("window", False)):
        ro, task_vec = _rollout(run, tasks, retain)
        out[f"{mode}_reward"] = _ranges(ro.reward, buckets)
        if velocity:
            achieved = forward_velocity(ro.obs, ro.next_obs)
            out[f"{mode}_velocity"] = _ranges(achieved, buckets)
            out[f"{mode}_velocity_error"] = _ranges(np.abs(achieved - task_vec[..., 0]), buckets)
            out["target_velocity"] = _ranges(task_vec[..., 0], buckets)
        if retain:
            feats = episode_features(ro.obs, ro.action, ro.reward, ro.next_obs, encoder.input_mean.device)
            carried = carried_beliefs(encoder, feats, cfg.bayes_adaptive).cpu().numpy()
            window = window_beliefs(encoder, feats, cfg.time_steps, cfg.bayes_adaptive).cpu().numpy()
            gap = belief_gap(carried, window, task_vec, cfg.encoder_latent_dim, tuple(buckets))
            out["belief_gap"] = gap.gap.tolist()
            out["r2_window"] = gap.r2_window.tolist()
            out["r2_carried"] = gap.r2_carried.tolist()
    if critic:
        err = critic_error_by_context(run.method)
        out["critic"] = {"bins": err.bins, "share": err.share.tolist(), "mse_next": err.mse.tolist(),
                         "mse_same": err.mse_same.tolist(), "loss_share": err.loss_share.tolist()}
    if against is not None:
        rows = []
        beliefs: list[np.ndarray] = []
        for name, source in ((str(against), load_run(against, device=device)), ("own policy", run)):
            ro, task_vec = greedy_episodes(source, tasks)
            rows.append({"behaviour": name, **dataclasses.asdict(critic_on_behaviour(
                run.method, ro.obs, ro.action, ro.reward, ro.next_obs))})
            feats = episode_features(ro.obs, ro.action, ro.reward, ro.next_obs, encoder.input_mean.device)
            full = min(cfg.time_steps, horizon - 1)  # steps whose window is full
            b = window_beliefs(encoder, feats, cfg.time_steps, cfg.bayes_adaptive)
            beliefs.append(b.cpu().numpy()[:, full:])
        out["against"] = rows
        transfer = readout_transfer(beliefs[1], beliefs[0], task_vec[:, 0], cfg.encoder_latent_dim)
        out["readout_transfer"] = dataclasses.asdict(transfer)
    return out


def markdown(row: dict[str, Any]) -> str:
    """One run's figures as a Markdown table (one row per step range)."""
    velocity = "carried_velocity" in row
    head = ["steps", "belief gap (sd)", "R^2 window", "R^2 carried", "reward carried", "reward window"]
    if velocity:
        head += ["target (m/s)", "v carried", "v window", "|v-target| carried", "|v-target| window"]
    lines = [f"{row['run']} ({row['env_steps']} env steps, {row['tasks']} tasks, time_steps "
             f"{row['time_steps']})", "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for i, (lo, hi) in enumerate(row["buckets"]):
        cells = [f"{lo}-{hi - 1}", f"{row['belief_gap'][i]:.2f}", f"{row['r2_window'][i]:.2f}",
                 f"{row['r2_carried'][i]:.2f}", f"{row['carried_reward'][i]:.2f}",
                 f"{row['window_reward'][i]:.2f}"]
        if velocity:
            cells += [f"{row['target_velocity'][i]:.2f}", f"{row['carried_velocity'][i]:.2f}",
                      f"{row['window_velocity'][i]:.2f}", f"{row['carried_velocity_error'][i]:.2f}",
                      f"{row['window_velocity_error'][i]:.2f}"]
        lines.append("| " + " | ".join(cells) + " |")
    if "critic" in row:
        c = row["critic"]
        lines += ["", "| context (transitions) | share of samples | TD MSE, next belief in target | "
                  "share of that loss | TD MSE, own belief in target |", "|---|---|---|---|---|"]
        for i, (lo, hi) in enumerate(c["bins"]):
            lines.append(f"| {lo}-{hi - 1} | {c['share'][i]:.3f} | {c['mse_next'][i]:.1f} | "
                         f"{c['loss_share'][i]:.3f} | {c['mse_same'][i]:.1f} |")
    if "against" in row:
        lines += ["", "| behaviour | return | return-to-go | Q(s, b, a) | Q(s, b, pi(s, b)) |",
                  "|---|---|---|---|---|"]
        for r in row["against"]:
            lines.append(f"| {r['behaviour']} | {r['episode_return']:.1f} | {r['mc_return']:.1f} | "
                         f"{r['q_data']:.1f} | {r['q_policy']:.1f} |")
    if "readout_transfer" in row:
        t = row["readout_transfer"]
        lines += ["", "| task read-out (fitted on own episodes, full windows) | R^2 own "
                  "| R^2 on the other's episodes | slope on the other's | belief shift (sd) |",
                  "|---|---|---|---|---|",
                  f"| linear | {t['r2_own']:.2f} | {t['r2_other']:.2f} | {t['slope_other']:.2f} | "
                  f"{t['shift']:.2f} |"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="+", type=Path,
                        help="run directories (<out>/<suite>/<method>/seed=<k>)")
    parser.add_argument("--tasks", type=int, default=None, help="first N test tasks (default: the run's own)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures to this JSON file")
    parser.add_argument("--critic", action="store_true", help="also split the critic's TD error by context")
    parser.add_argument("--against", type=Path, default=None,
                        help="a run of the same suite whose greedy episodes the critics evaluate")
    parser.add_argument("--plugin", action="append", default=[], help="module registering extra methods")
    args = parser.parse_args(argv)
    load_plugins(args.plugin)
    rows = []
    for run_dir in args.runs:
        try:
            rows.append(measure(run_dir, args.tasks, args.device, args.critic, args.against))
        except (FileNotFoundError, ValueError) as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
        print(markdown(rows[-1]) + "\n", flush=True)
    if args.json is not None:
        args.json.write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
