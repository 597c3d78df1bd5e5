"""After a task switch, do MoSS's belief and its behaviour follow, and in which direction?

For a trained ``moss`` run (or an ablation with online inference) on a non-stationary suite (e.g.
``cheetah-vel-nonstat``, where the agent achieves a forward velocity), on the run's test tasks, zero-shot and
greedy, with the switch schedule of the run's evaluation:

* **Achieved - target**: the mean signed error of what the agent achieves, before the episode's first
  switch and after switches that raise or lower the task's first component, by steps since the switch.
* **Belief read-out - target**: a linear read-out of the target from the belief (mean and log-variance of
  the most likely component, the policy's input), fitted on the run's own episodes before their first switch
  with full windows (at least ``time_steps`` steps in), applied to every step.

With ``--against RUN`` (e.g. the ``sac-oracle`` run of the same suite and seed) the same encoder also
computes beliefs on that run's greedy episodes on the same tasks and switch schedule, and the table repeats
both errors there. A belief that is right on the other agent's episodes but wrong on its own after one
direction of switch is not an inference failure: its own behaviour after that switch leaves the window
ambiguous (on cheetah-vel-nonstat the reward ``-|v - target|`` at a steady velocity fits a target above and
one below), and the policy does not probe.

    python scripts/moss_switch_beliefs.py results/reference/bench/cheetah-vel-nonstat/moss/seed=1 \\
        --against results/reference/bench/cheetah-vel-nonstat/sac-oracle/seed=1

``--tasks N`` uses the first N test tasks. ``--json F`` also writes the table to F. Exit code 2 on a bad
path, a run that is not MoSS-like, or episodes without a switch. Suites that define no achieved quantity
(e.g. ``point-goal-nonstat``) get the read-out columns only.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from harness.analysis.nonstationary import error_by_switch_phase, switch_phases
from harness.registry import load_plugins
from harness.trained import greedy_episodes, load_run
from methods.moss.diagnostics import episode_features, window_beliefs


def _episodes(
    run: Any, tasks: list[Any], encoder: Any, cfg: Any
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Beliefs ``[N, T, F]`` of ``encoder`` on ``run``'s greedy episodes, the target ``[N, T]`` (first task
    component) and the achieved quantity ``[N, T]`` (first component; NaN where the suite defines none)."""
    ro, task_vec = greedy_episodes(run, tasks)
    achieved = run.suite.achieved(ro.obs, ro.next_obs)
    target = task_vec[..., 0]
    feats = episode_features(ro.obs, ro.action, ro.reward, ro.next_obs, encoder.input_mean.device)
    beliefs = window_beliefs(encoder, feats, cfg.time_steps, cfg.bayes_adaptive).cpu().numpy()
    done = np.full(target.shape, np.nan) if achieved is None else np.asarray(achieved)[..., 0]
    return beliefs, target, done


def _design(beliefs: np.ndarray) -> np.ndarray:
    flat = beliefs.reshape(-1, beliefs.shape[-1]).astype(np.float64)
    return np.concatenate([flat, np.ones((len(flat), 1))], axis=1)


def fit_readout(beliefs: np.ndarray, target: np.ndarray, full_window: int) -> np.ndarray:
    """Least-squares read-out ``[F + 1]`` of ``target [N, T]`` from ``[beliefs [N, T, F], 1]`` over the steps
    before each episode's first switch with at least ``full_window`` steps of context.

    Raises:
        ValueError: no switch in the episodes, or too few such steps to fit.
    """
    since, direction = switch_phases(target)
    if not (direction != 0).any():
        raise ValueError("no task switch in the evaluation episodes")
    fit = ((direction == 0) & (since >= full_window)).ravel()
    if fit.sum() < beliefs.shape[-1] + 2:
        raise ValueError("too few steps before the first switch with a full window to fit the read-out")
    return np.linalg.lstsq(_design(beliefs)[fit], target.ravel()[fit], rcond=None)[0]


def switch_table(
    beliefs: np.ndarray, target: np.ndarray, achieved: np.ndarray, coef: np.ndarray, suffix: str = ""
) -> pd.DataFrame:
    """Per phase (before any switch, after an increase, after a decrease) and range of steps since the
    switch: the mean signed ``achieved - target`` (column ``achieved<suffix>``), ``read-out - target``
    (``readout<suffix>``) and the number of steps (``n<suffix>``). Shapes as in :func:`fit_readout`."""
    readout = (_design(beliefs) @ coef).reshape(target.shape)
    act = error_by_switch_phase(achieved - target, target)
    bel = error_by_switch_phase(readout - target, target)
    out = act[["phase", "steps", "error", "n"]].rename(
        columns={"error": f"achieved{suffix}", "n": f"n{suffix}"})
    return out.merge(bel[["phase", "steps", "error"]].rename(columns={"error": f"readout{suffix}"}),
                     on=["phase", "steps"])


def measure(run_dir: Path, against: Path | None, n_tasks: int | None, device: str) -> pd.DataFrame:
    """The table of :func:`switch_table` on the run's own episodes and, with ``against``, on that run's
    episodes (columns ``*_against``), with the read-out fitted on the run's own."""
    run = load_run(run_dir, device=device)
    cfg: Any = run.method.config
    if not hasattr(run.method, "inference") or not getattr(cfg, "online_inference", False):
        raise ValueError(f"{run_dir}: not a MoSS run with online inference (method {run.record['method']})")
    tasks = run.test_tasks if n_tasks is None else run.suite.test_tasks(int(run.record.get("task_seed", 0)),
                                                                        n_tasks)
    encoder = run.method.inference.encoder  # type: ignore[attr-defined]
    beliefs, target, achieved = _episodes(run, tasks, encoder, cfg)
    try:
        coef = fit_readout(beliefs, target, cfg.time_steps)
    except ValueError as err:
        raise ValueError(f"{run_dir} ({run.suite.name}): {err}") from None
    out = switch_table(beliefs, target, achieved, coef)
    if against is not None:
        other = load_run(against, device=device)
        if other.suite.name != run.suite.name or other.seed != run.seed:
            raise ValueError(f"{against} is {other.suite.name} seed {other.seed}; {run_dir} is "
                             f"{run.suite.name} seed {run.seed}: the switch schedules differ")
        b2, g2, v2 = _episodes(other, tasks, encoder, cfg)
        out = out.merge(switch_table(b2, g2, v2, coef, "_against"), on=["phase", "steps"], how="left")
    return out


def _signed(x: float) -> str:
    return "n/a" if not np.isfinite(x) else f"{x:+.2f}"


def markdown(df: pd.DataFrame, against: bool) -> str:
    """The table as markdown (errors in the task's units; signed: + = above the target)."""
    head = ["phase", "steps since", "own: achieved - target", "own: read-out - target", "steps"]
    if against:
        head += ["other's: achieved - target", "other's: read-out - target"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in df.itertuples(index=False):
        row = [r.phase, r.steps, _signed(r.achieved), _signed(r.readout), str(r.n)]
        if against:
            row += [_signed(r.achieved_against), _signed(r.readout_against)]
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("run", type=Path, help="a MoSS run directory (<out>/<suite>/<method>/seed=<k>)")
    parser.add_argument("--against", type=Path, default=None,
                        help="a run of the same suite and seed whose episodes the encoder also reads")
    parser.add_argument("--tasks", type=int, default=None, help="first N test tasks (default: the run's own)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--json", type=Path, default=None, help="also write the table to this JSON file")
    parser.add_argument("--plugin", action="append", default=[], help="module registering extra methods")
    args = parser.parse_args(argv)
    load_plugins(args.plugin)
    try:
        df = measure(args.run, args.against, args.tasks, args.device)
    except (FileNotFoundError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(markdown(df, args.against is not None), flush=True)
    if args.json is not None:
        args.json.write_text(df.to_json(orient="records", indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
