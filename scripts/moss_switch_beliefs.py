"""After a task switch, do MoSS's belief and its behaviour follow, and in which direction?

For a trained ``moss`` run (or an ablation with online inference) on a non-stationary suite (e.g.
``cheetah-vel-nonstat``, where the agent achieves a forward velocity), on the run's test tasks, zero-shot and
greedy, with the switch schedule of the run's evaluation, the mean signed error against the target (first
task component) before the episode's first switch and after switches that raise or lower it, by steps
since the switch, of:

* **achieved**: what the agent achieves (NaN where the suite defines no achieved quantity);
* **belief probe**: an MLP (2 x 256) fitted to read the target from the belief (mean and log-variance of
  the most likely component, the policy's input) on the run's own greedy episodes on its first
  ``--fit-tasks`` training tasks, over every step: what the belief holds about the target;
* **window probe**: a GRU (128) + MLP fitted on the same episodes to read the target from the last
  ``time_steps`` raw transitions (the encoder's input): what the context holds, whatever the encoder made
  of it (steps with a full window only).

A belief probe close to the target where the achieved error is large means the policy does not act on
what its belief holds; a window probe close to the target where the belief probe is not means the encoder
loses what the context holds. With ``--against RUN`` (e.g. the ``sac-oracle`` run of the same suite and
seed) the same encoder also reads that run's greedy episodes on the same tasks and switch schedule: a
belief that is right on its own episodes and wrong on another behaviour's reads the behaviour. If that run
sees the task, a last column gives how much more the MoSS run's critics value its greedy action than their
own policy's, at the MoSS run's own states and beliefs (a one-step deviation, followed by the own policy:
it charges the deviation for the continuation, so compare phases, not signs), and how much more they value
the other run's state at the same step than their own, under the MoSS run's own belief (``V = Q(s, b,
pi(s, b))``): > 0 where the MoSS policy goes wrong means the critics know where it should be and the actor
does not get there; <= 0 means the critics have not learned, from this belief, that being there pays.
Both critic columns evaluate the critics away from their own data and are confounded by it; the
intervention column is not: **acting on the other's belief** runs the MoSS policy greedily on the same
tasks and switch schedule, but feeds it, at step t, the belief its own encoder reads from the other run's
episode at step t instead of the belief of its own context. Where this follows the target and the own
closed loop does not, the policy can act on a belief of the right task; what it lacks is the belief its
own behaviour produces (the belief reads the behaviour, and the policy has not learned to act on that
region of belief space). Replaying the run's own beliefs this way reproduces its own episodes exactly.
With a Bayes-adaptive policy (belief = mean and log-variance) a second run feeds the other's mean with the
own log-variance (which of the two carries the difference), and a column gives the distance between the
two means (Euclidean, latent units). **Critic or actor** (two columns, :func:`fed_action_values`): at the
own states, how much more the critics value the action the same policy takes when fed the other's belief
than its own action, under the own belief and under the other's: negative under the own belief and
positive under the other's means the critics' reading of the own belief is what keeps the policy there.

    python scripts/moss_switch_beliefs.py results/reference/bench/cheetah-vel-nonstat/moss/seed=1 \\
        --against results/reference/bench/cheetah-vel-nonstat/sac-oracle/seed=1

``--tasks N`` uses the first N test tasks. ``--json F`` also writes the table to F. Exit code 2 on a bad
path, a run that is not MoSS-like, or episodes without a switch. About 10 minutes on cheetah-vel-nonstat
(100 training-task episodes of 600 steps, two probes of 1,500 steps).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from harness.agent import Agent, StepBatch
from harness.analysis.nonstationary import error_by_switch_phase, switch_phases
from harness.registry import load_plugins
from harness.trained import TrainedRun, greedy_episodes, load_run
from methods.moss.diagnostics import episode_features, window_beliefs
from methods.moss.encoder import feature_dim


@dataclass
class Episodes:
    """Greedy episodes of one run read by one encoder: ``beliefs [N, T, F]`` (the policy's input: mean and
    log-variance of the most likely component), ``features [N, T, D]`` (the encoder's raw transition
    features), ``target [N, T]`` and ``achieved [N, T]`` (first task component; NaN where the suite
    defines no achieved quantity)."""

    beliefs: np.ndarray
    features: np.ndarray
    target: np.ndarray
    achieved: np.ndarray
    obs: np.ndarray | None = None
    action: np.ndarray | None = None
    task: np.ndarray | None = None


def _achieved(run: Any, ro: Any) -> np.ndarray:
    """``[N, T]`` first component of what the suite says the agent achieved (NaN where it defines none)."""
    achieved = run.suite.achieved(ro.obs, ro.next_obs)
    return np.full(ro.reward.shape, np.nan) if achieved is None else np.asarray(achieved)[..., 0]


def _episodes(run: Any, tasks: list[Any], encoder: Any, cfg: Any) -> Episodes:
    ro, task_vec = greedy_episodes(run, tasks)
    obs, next_obs = ro.obs, ro.next_obs
    if encoder.input_mean.shape[-1] > feature_dim(obs.shape[-1], ro.action.shape[-1]):
        # an encoder of a run that sees the task reads the task columns it was trained with (the task in
        # force at the step, for s and s')
        task = task_vec.astype(np.float32)
        obs, next_obs = np.concatenate([obs, task], axis=-1), np.concatenate([next_obs, task], axis=-1)
    feats = episode_features(obs, ro.action, ro.reward, next_obs, encoder.input_mean.device)
    beliefs = window_beliefs(encoder, feats, cfg.time_steps, cfg.bayes_adaptive).cpu().numpy()
    return Episodes(beliefs, feats.cpu().numpy(), task_vec[..., 0], _achieved(run, ro), ro.obs, ro.action,
                    task_vec)


def _tensor(method: Any, x: np.ndarray) -> torch.Tensor:
    """``x`` as float32 on the MoSS run's device."""
    return torch.as_tensor(np.asarray(x, dtype=np.float32), device=method.inference.encoder.input_mean.device)


def _critic_reads(method: Any, own: Episodes, belief: torch.Tensor) -> torch.Tensor:
    """What the run's critics read besides the state: ``belief``, or with a privileged critic
    (``critic_input: task``) the task in force at each step of the own episodes (any belief is then
    ignored, so the columns under the own and the other's belief coincide)."""
    if getattr(method.policy, "task_dim", 0) and not getattr(method, "sees_task", False):
        assert own.task is not None
        return _tensor(method, own.task)
    return belief


def _q_gap(pol: Any, obs: torch.Tensor, belief: torch.Tensor, action: torch.Tensor,
           base: torch.Tensor) -> np.ndarray:
    """``min(Q1, Q2)(s, b, action) - min(Q1, Q2)(s, b, base)`` of a MoSS policy's critics (no gradient);
    ``b``: what they read besides the state (:func:`_critic_reads`)."""
    embedded = pol.critic_embed(obs, belief)
    q = pol.sac.critic(embedded, action).min(dim=0).values - pol.sac.critic(embedded, base).min(dim=0).values
    return q.cpu().numpy()


@torch.no_grad()
def critic_preference(method: Any, own: Episodes, other: Any) -> np.ndarray:
    """``[N, T]`` ``min(Q1, Q2)(s, b, a_other) - min(Q1, Q2)(s, b, a_own)`` of a MoSS run's critics at the
    states of its own episodes (``b``: its belief there), where ``a_other`` is the greedy action of
    ``other`` (a trained run of a method that sees the task, e.g. ``sac-oracle``, given the true task) at
    the same states: > 0 where the critics would rather do what the task-seeing agent does. NaN for an
    ``other`` that does not see the task (its agent may carry a state, so it cannot act on these states)."""
    assert own.obs is not None and own.action is not None and own.task is not None
    if not getattr(other.method, "sees_task", False):
        return np.full(own.target.shape, np.nan)
    n, t = own.target.shape
    seen = np.concatenate([own.obs, own.task.astype(np.float32)], axis=-1).reshape(n * t, -1)
    agent = other.method.agent(n * t)
    agent.reset(True)
    a_other = np.asarray(agent.act(seen, True), dtype=np.float32).reshape(own.action.shape)
    return _q_gap(method.policy, _tensor(method, own.obs),
                  _critic_reads(method, own, _tensor(method, own.beliefs)),
                  _tensor(method, a_other), _tensor(method, own.action))


@torch.no_grad()
def state_value_gap(method: Any, own: Episodes, other: Episodes) -> np.ndarray:
    """``[N, T]`` ``V(s_other, b) - V(s_own, b)`` of a MoSS run's critics, ``V(s, b) = min(Q1, Q2)(s, b,
    pi(s, b))`` with the greedy action, where ``b`` is the MoSS run's belief at step t of its own episode
    and ``s_own`` / ``s_other`` are the states its own and another run's greedy episodes (same tasks, same
    switch schedule) reach at step t: > 0 where the critics, given what the belief holds, would rather be
    where the other run is. Unlike :func:`critic_preference` it does not charge a one-step deviation for
    the own policy's continuation."""
    assert own.obs is not None and other.obs is not None
    pol = method.policy

    def value(obs: np.ndarray) -> torch.Tensor:
        o, b = _tensor(method, obs), _tensor(method, own.beliefs)
        a = pol.act(o, b, True)
        return pol.sac.critic(pol.critic_embed(o, _critic_reads(method, own, b)), a).min(dim=0).values

    return (value(other.obs) - value(own.obs)).cpu().numpy()


@torch.no_grad()
def fed_action_values(method: Any, own: Episodes, other: Episodes) -> tuple[np.ndarray, np.ndarray]:
    """Critic or actor: ``[N, T]`` ``Q(s, b, a_fed) - Q(s, b, a_own)`` of a MoSS run's critics
    (``min(Q1, Q2)``) at the states ``s`` of its own episodes, where ``a_own = pi(s, b_own)`` is its greedy
    action and ``a_fed = pi(s, b_other)`` the greedy action of the *same* policy fed the belief its encoder
    reads from the other run's episode at the same step (the action of the intervention), once under the
    own belief (``b = b_own``) and once under the other's (``b = b_other``).

    Same states, same policy, one-step deviation either way, so the two columns compare how the critics
    value the same pair of actions under the two beliefs: where the intervention follows the target and
    the own loop does not, < 0 under the own belief and > 0 under the other's says the critics, reading the
    own belief, do not value what the task asks (the actor only follows them); > 0 under both says the
    actor does not reach what its critics prefer.
    """
    assert own.obs is not None
    pol = method.policy
    obs = _tensor(method, own.obs)
    b_own, b_other = _tensor(method, own.beliefs), _tensor(method, other.beliefs)
    a_own, a_fed = pol.act(obs, b_own, True), pol.act(obs, b_other, True)
    return (_q_gap(pol, obs, _critic_reads(method, own, b_own), a_fed, a_own),
            _q_gap(pol, obs, _critic_reads(method, own, b_other), a_fed, a_own))


class _FedBeliefAgent(Agent):
    """A MoSS run's policy acting on a given belief sequence ``beliefs [N, T, F]`` (row t before step t of
    the episode), whatever it observes."""

    def __init__(self, policy: Any, beliefs: np.ndarray, device: torch.device) -> None:
        self.policy, self.device, self.t = policy, device, 0
        self.beliefs = torch.as_tensor(np.asarray(beliefs, dtype=np.float32), device=device)

    def reset(self, task_boundary: bool) -> None:
        self.t = 0

    @torch.no_grad()
    def act(self, obs: np.ndarray, deterministic: bool) -> np.ndarray:
        o = torch.as_tensor(np.asarray(obs, dtype=np.float32), device=self.device)
        return self.policy.act(o, self.beliefs[:, self.t], deterministic).cpu().numpy()

    def observe(self, step: StepBatch) -> None:
        self.t += 1


def act_on_beliefs(run: TrainedRun, tasks: list[Any], beliefs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One greedy episode per task of a MoSS run's policy fed ``beliefs [N, T, F]`` in place of its own
    (same env seeds and switch schedule as :func:`harness.trained.greedy_episodes`).

    Returns:
        ``achieved [N, T]`` (first component; NaN where the suite defines none) and ``action [N, T, A]``.
    """
    method: Any = run.method
    agent = _FedBeliefAgent(method.policy, beliefs, method.inference.encoder.input_mean.device)
    ro, _ = greedy_episodes(run, tasks, agent)
    return _achieved(run, ro), ro.action


class _WindowRegressor(torch.nn.Module):
    """GRU over a window of transitions, then an MLP to one number."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.gru = torch.nn.GRU(dim, 128, batch_first=True)
        self.head = torch.nn.Sequential(torch.nn.Linear(128, 64), torch.nn.ReLU(), torch.nn.Linear(64, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.gru(x)[0][:, -1]).squeeze(-1)


def _windows(features: np.ndarray, rows: np.ndarray, steps: np.ndarray, window: int) -> torch.Tensor:
    """``[B, window, D]``: the ``window`` transitions before step ``steps[i]`` of episode ``rows[i]``."""
    idx = steps[:, None] - window + np.arange(window)[None, :]
    return torch.as_tensor(features[rows[:, None], idx], dtype=torch.float32)


@dataclass
class Probes:
    """Supervised read-outs of the target, fitted on the run's own episodes on training tasks.

    ``belief``: an MLP (2 x 256) from the belief: what the policy's input holds about the target.
    ``window``: a GRU (128) + MLP from the last ``window`` raw transitions, the encoder's own input: what
    the context holds, whatever the encoder made of it.
    """

    belief: torch.nn.Module
    window: torch.nn.Module
    belief_stats: tuple[np.ndarray, np.ndarray]
    feature_stats: tuple[np.ndarray, np.ndarray]
    window_len: int

    @torch.no_grad()
    def read_beliefs(self, beliefs: np.ndarray) -> np.ndarray:
        """``[N, T]`` the belief probe's target at every step."""
        mu, sd = self.belief_stats
        x = torch.as_tensor((beliefs - mu) / sd, dtype=torch.float32)
        return self.belief(x).squeeze(-1).numpy()

    @torch.no_grad()
    def read_windows(self, features: np.ndarray) -> np.ndarray:
        """``[N, T]`` the window probe's target at every step with a full window (NaN before)."""
        mu, sd = self.feature_stats
        f = (features - mu) / sd
        n, t = f.shape[:2]
        out = np.full((n, t), np.nan)
        grid_rows, grid_steps = np.meshgrid(np.arange(n), np.arange(self.window_len, t), indexing="ij")
        rows, steps = grid_rows.ravel(), grid_steps.ravel()
        for i in range(0, len(rows), 4096):
            r, st = rows[i:i + 4096], steps[i:i + 4096]
            out[r, st] = self.window(_windows(f, r, st, self.window_len)).numpy()
        return out


def fit_probes(fit: Episodes, window: int, steps: int = 1500, seed: int = 0) -> Probes:
    """Train both :class:`Probes` on ``fit`` (Adam 1e-3, batches of 256 steps drawn uniformly, squared error).

    Raises:
        ValueError: episodes shorter than ``window + 1`` steps.
    """
    n, t = fit.target.shape
    if t <= window:
        raise ValueError(f"episodes of {t} steps are too short for windows of {window}")
    gen = torch.Generator().manual_seed(seed)
    rng = np.random.default_rng(seed)
    b_mu = fit.beliefs.reshape(-1, fit.beliefs.shape[-1]).mean(0)
    b_sd = fit.beliefs.reshape(-1, fit.beliefs.shape[-1]).std(0) + 1e-6
    f_mu = fit.features.reshape(-1, fit.features.shape[-1]).mean(0)
    f_sd = fit.features.reshape(-1, fit.features.shape[-1]).std(0) + 1e-6
    with torch.random.fork_rng():
        torch.manual_seed(int(torch.randint(0, 2**31 - 1, (1,), generator=gen)))
        belief = torch.nn.Sequential(torch.nn.Linear(fit.beliefs.shape[-1], 256), torch.nn.ReLU(),
                                     torch.nn.Linear(256, 256), torch.nn.ReLU(), torch.nn.Linear(256, 1))
        win = _WindowRegressor(fit.features.shape[-1])
    xb = torch.as_tensor((fit.beliefs - b_mu) / b_sd, dtype=torch.float32).reshape(n * t, -1)
    yb = torch.as_tensor(fit.target.reshape(-1), dtype=torch.float32)
    feats = (fit.features - f_mu) / f_sd
    opt_b, opt_w = torch.optim.Adam(belief.parameters(), 1e-3), torch.optim.Adam(win.parameters(), 1e-3)
    for _ in range(steps):
        i = torch.as_tensor(rng.integers(0, n * t, 256))
        loss = ((belief(xb[i]).squeeze(-1) - yb[i]) ** 2).mean()
        opt_b.zero_grad()
        loss.backward()
        opt_b.step()
        rows, st = rng.integers(0, n, 256), rng.integers(window, t, 256)
        y = torch.as_tensor(fit.target[rows, st], dtype=torch.float32)
        loss = ((win(_windows(feats, rows, st, window)) - y) ** 2).mean()
        opt_w.zero_grad()
        loss.backward()
        opt_w.step()
    return Probes(belief.eval(), win.eval(), (b_mu, b_sd), (f_mu, f_sd), window)


def switch_table(ep: Episodes, probes: Probes, suffix: str = "") -> pd.DataFrame:
    """Per phase (before any switch, after an increase, after a decrease) and range of steps since the
    switch, mean signed errors against the target: ``achieved<suffix>``, ``belief<suffix>`` (the belief
    probe) and ``window<suffix>`` (the window probe; steps with a full window only), and ``n<suffix>``."""
    parts = {"achieved": ep.achieved, "belief": probes.read_beliefs(ep.beliefs),
             "window": probes.read_windows(ep.features)}
    out: pd.DataFrame | None = None
    for name, values in parts.items():
        table = error_by_switch_phase(values - ep.target, ep.target)  # NaN steps left out of the means
        cols = {"error": f"{name}{suffix}"} | ({"n": f"n{suffix}"} if name == "achieved" else {})
        keep = ["phase", "steps", "error"] + (["n"] if name == "achieved" else [])
        table = table[keep].rename(columns=cols)
        out = table if out is None else out.merge(table, on=["phase", "steps"])
    assert out is not None
    return out


def measure(
    run_dir: Path, against: Path | None, n_tasks: int | None, device: str, fit_tasks: int = 100,
    probe_steps: int = 1500,
) -> pd.DataFrame:
    """The table of :func:`switch_table` on the run's own test episodes and, with ``against``, on that
    run's (columns ``*_against``); the probes are fitted on the run's own episodes on its first
    ``fit_tasks`` training tasks."""
    run = load_run(run_dir, device=device)
    cfg: Any = run.method.config
    if not hasattr(run.method, "inference") or not getattr(cfg, "online_inference", False):
        raise ValueError(f"{run_dir}: not a MoSS run with online inference (method {run.record['method']})")
    tasks = run.test_tasks if n_tasks is None else run.suite.test_tasks(int(run.record.get("task_seed", 0)),
                                                                        n_tasks)
    encoder = run.method.inference.encoder  # type: ignore[attr-defined]
    own = _episodes(run, tasks, encoder, cfg)
    if not (switch_phases(own.target)[1] != 0).any():
        raise ValueError(f"{run_dir} ({run.suite.name}): no task switch in the evaluation episodes")
    fit = _episodes(run, run.train_tasks[:fit_tasks], encoder, cfg)
    probes = fit_probes(fit, cfg.time_steps, probe_steps, seed=run.seed)
    out = switch_table(own, probes)
    if against is not None:
        other = load_run(against, device=device)
        if other.suite.name != run.suite.name or other.seed != run.seed:
            raise ValueError(f"{against} is {other.suite.name} seed {other.seed}; {run_dir} is "
                             f"{run.suite.name} seed {run.seed}: the switch schedules differ")
        theirs = _episodes(other, tasks, encoder, cfg)
        out = out.merge(switch_table(theirs, probes, "_against"), on=["phase", "steps"], how="left")
        gaps = {"achieved_on_other_belief": act_on_beliefs(run, tasks, theirs.beliefs)[0] - own.target,
                "achieved_on_other_mean": np.full(own.target.shape, np.nan),
                "belief_mean_distance": np.full(own.target.shape, np.nan)}
        if cfg.bayes_adaptive:  # beliefs are [mean, logvar]: the other's mean with the own log-variance
            half = own.beliefs.shape[-1] // 2
            mixed = np.concatenate([theirs.beliefs[..., :half], own.beliefs[..., half:]], axis=-1)
            gaps["achieved_on_other_mean"] = act_on_beliefs(run, tasks, mixed)[0] - own.target
            apart = own.beliefs[..., :half] - theirs.beliefs[..., :half]
            gaps["belief_mean_distance"] = np.linalg.norm(apart, axis=-1)
        gaps["fed_action_q_own_belief"], gaps["fed_action_q_other_belief"] = fed_action_values(
            run.method, own, theirs)
        gaps["critic_prefers_other"] = critic_preference(run.method, own, other)
        gaps["value_of_other_state"] = state_value_gap(run.method, own, theirs)
        for name, gap in gaps.items():
            table = error_by_switch_phase(gap, own.target)
            out = out.merge(table[["phase", "steps", "error"]].rename(columns={"error": name}),
                            on=["phase", "steps"], how="left")
    return out


def _signed(x: float) -> str:
    return "n/a" if not np.isfinite(x) else f"{x:+.2f}"


def markdown(df: pd.DataFrame, against: bool) -> str:
    """The table as markdown (errors in the task's units; signed: + = above the target)."""
    head = ["phase", "steps since", "steps", "achieved - target", "belief probe - target",
            "window probe - target"]
    if against:
        head += ["other's: achieved - target", "other's: belief probe - target",
                 "acting on other's belief: achieved - target",
                 "acting on other's belief mean: achieved - target", "|own belief mean - other's|",
                 "Q(fed action) - Q(own action), own belief", "same, other's belief",
                 "Q(other's action) - Q(own action)", "V(other's state) - V(own state)"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in df.itertuples(index=False):
        row = [r.phase, r.steps, str(r.n), _signed(r.achieved), _signed(r.belief), _signed(r.window)]
        if against:
            row += [_signed(r.achieved_against), _signed(r.belief_against),
                    _signed(r.achieved_on_other_belief), _signed(r.achieved_on_other_mean),
                    f"{r.belief_mean_distance:.2f}", _signed(r.fed_action_q_own_belief),
                    _signed(r.fed_action_q_other_belief), _signed(r.critic_prefers_other),
                    _signed(r.value_of_other_state)]
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("run", type=Path, help="a MoSS run directory (<out>/<suite>/<method>/seed=<k>)")
    parser.add_argument("--against", type=Path, default=None,
                        help="a run of the same suite and seed whose episodes the encoder also reads")
    parser.add_argument("--tasks", type=int, default=None, help="first N test tasks (default: the run's own)")
    parser.add_argument("--fit-tasks", type=int, default=100,
                        help="training tasks whose greedy episodes the probes are fitted on")
    parser.add_argument("--probe-steps", type=int, default=1500, help="gradient steps of each probe")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--json", type=Path, default=None, help="also write the table to this JSON file")
    parser.add_argument("--plugin", action="append", default=[], help="module registering extra methods")
    args = parser.parse_args(argv)
    load_plugins(args.plugin)
    try:
        df = measure(args.run, args.against, args.tasks, args.device, args.fit_tasks, args.probe_steps)
    except (FileNotFoundError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(markdown(df, args.against is not None), flush=True)
    if args.json is not None:
        args.json.write_text(df.to_json(orient="records", indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
