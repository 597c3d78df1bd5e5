"""Does the belief MoSS acts on match the belief its policy was trained on?

The SAC batches (:meth:`methods.moss.inference.TaskInference.window_transitions`) compute the belief of a
transition from a context window of at most ``time_steps`` transitions before it, by a GRU pass from the
empty hidden state; the encoder is trained on the same windows. An agent that carries one hidden state from
the first step of an episode (``retain_hidden=True``) acts, after ``time_steps`` steps, on beliefs from
longer histories, which neither the encoder nor the policy ever saw. This module recomputes both beliefs
for the same stored trajectories, so the gap can be measured as a function of the step in the episode:

* :func:`carried_beliefs`: policy features before each step with the hidden state carried from step 0;
* :func:`window_beliefs`: policy features before each step from the last ``window`` transitions only;
* :func:`belief_gap`: per range of steps, how far apart the two are (in units of the spread of the
  training-time beliefs) and how much of the task a read-out fitted on training-time beliefs still finds in
  the carried ones.

It also splits the critics' Bellman error by the context length of the SAC samples
(:func:`critic_error_by_context`): with the belief after the transition in the target, a sample whose belief
has seen nothing of the task bootstraps from a value that the next transition's information moves by the
whole range of task values, an error no critic can fit.

Finally, :func:`critic_on_behaviour` asks a trained policy's critics what they think of another agent's
trajectories (e.g. ``sac-oracle``'s on the same test tasks): when a policy stands still, a critic that
values the better agent's actions above its own policy's at the same states points at the actor (it does
not follow its critic); a critic that values them no higher has never seen that behaviour pay (the policy
stopped exploring before finding it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from methods.moss.encoder import GMVAEEncoder, transition_features
from methods.moss.inference import policy_features

#: Default step ranges ``[start, end)`` of :func:`belief_gap` for 200-step episodes and 64-step windows.
DEFAULT_BUCKETS: tuple[tuple[int, int], ...] = ((0, 16), (16, 32), (32, 64), (64, 100), (100, 150),
                                                (150, 200))


def episode_features(
    obs: np.ndarray, action: np.ndarray, reward: np.ndarray, next_obs: np.ndarray, device: torch.device
) -> torch.Tensor:
    """Raw encoder input ``[N, T, D]`` of ``N`` episodes of ``T`` steps (``obs [N, T, obs_dim]``, ...)."""
    def t(x: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(np.asarray(x, dtype=np.float32), device=device)

    return transition_features(t(obs), t(action), t(reward), t(next_obs))


@torch.no_grad()
def carried_beliefs(
    encoder: GMVAEEncoder, features: torch.Tensor, bayes_adaptive: bool = True
) -> torch.Tensor:
    """``[N, T, F]`` policy features of the belief before each step, hidden state carried from step 0.

    Args:
        encoder: the task encoder.
        features: ``[N, T, D]`` raw transition features of whole episodes (step 0 first).
        bayes_adaptive: mean and log-variance (True) or a sample (False) of the most likely component.
    """
    hidden = encoder.rollout(features)  # [N, T + 1, H]
    return policy_features(encoder.posterior(hidden[:, :-1]), bayes_adaptive)


@torch.no_grad()
def window_beliefs(
    encoder: GMVAEEncoder, features: torch.Tensor, window: int, bayes_adaptive: bool = True
) -> torch.Tensor:
    """``[N, T, F]`` policy features of the belief before each step from at most ``window`` transitions.

    The belief before step ``t`` is the GRU state after transitions ``max(0, t - window) .. t - 1``, started
    from the empty hidden state: the computation of the encoder's training windows and of the SAC batches.

    Args:
        encoder: the task encoder.
        features: ``[N, T, D]`` raw transition features of whole episodes (step 0 first).
        window: context length (``time_steps``).
        bayes_adaptive: as in :func:`carried_beliefs`.
    """
    n, t_max, d = features.shape
    steps = torch.arange(t_max, device=features.device)
    lengths = steps.clamp_max(window)  # [T] transitions before step t in its window
    start = steps - lengths
    idx = start[:, None] + torch.arange(window, device=features.device)[None, :]  # [T, W]
    valid = torch.arange(window, device=features.device)[None, :] < lengths[:, None]
    idx = torch.where(valid, idx, torch.zeros_like(idx))
    windows = features[:, idx] * valid[None, :, :, None]  # [N, T, W, D], real transitions first
    hidden = encoder.rollout(windows.reshape(n * t_max, window, d))  # [N*T, W + 1, H]
    last = hidden[torch.arange(n * t_max, device=features.device), lengths.repeat(n)]
    return policy_features(encoder.posterior(last.reshape(n, t_max, -1)), bayes_adaptive)


@dataclass
class BeliefGap:
    """Carried vs window beliefs over step ranges of the same episodes (one row per range).

    Attributes:
        buckets: ``[(start, end)]`` step ranges.
        gap: ``[B]`` mean over envs, steps and belief-mean dimensions of ``|carried - window|`` divided by the
            standard deviation of the window beliefs' mean (over every step of every env): 0 = the same
            belief, 1 = as far apart as two typical training-time beliefs.
        r2_window: ``[B]`` R^2 of the task read-out (least squares, fitted on the window beliefs of the
            range) on those window beliefs.
        r2_carried: ``[B]`` R^2 of the same read-out on the carried beliefs of the range: how much of the
            task a policy trained on window beliefs can still find in what the carried agent feeds it.
    """

    buckets: list[tuple[int, int]]
    gap: np.ndarray
    r2_window: np.ndarray
    r2_carried: np.ndarray


def belief_gap(
    carried: np.ndarray,
    window: np.ndarray,
    target: np.ndarray,
    latent_dim: int,
    buckets: tuple[tuple[int, int], ...] = DEFAULT_BUCKETS,
) -> BeliefGap:
    """Compare carried and window beliefs per step range.

    Args:
        carried, window: ``[N, T, F]`` policy features (the first ``latent_dim`` are the belief mean).
        target: ``[N, T]`` or ``[N, T, P]`` true task parameter(s) of each step (e.g. target velocity).
        latent_dim: size of the belief mean inside the features.
        buckets: step ranges ``[start, end)``; ranges past ``T`` are clipped, empty ones dropped.

    Returns:
        A :class:`BeliefGap`.
    """
    n, t_max = carried.shape[:2]
    c, w = carried[..., :latent_dim], window[..., :latent_dim]
    y = target.reshape(n, t_max, -1)
    scale = w.reshape(-1, latent_dim).std(axis=0)
    scale = np.where(scale > 1e-8, scale, 1.0)
    rows: list[tuple[int, int]] = []
    gaps: list[float] = []
    r2w: list[float] = []
    r2c: list[float] = []
    for lo, hi in buckets:
        hi = min(hi, t_max)
        if lo >= hi:
            continue
        rows.append((lo, hi))
        gaps.append(float(np.mean(np.abs(c[:, lo:hi] - w[:, lo:hi]) / scale)))
        yb = y[:, lo:hi].reshape(-1, y.shape[-1])
        var = yb.var(axis=0).sum()
        def design(beliefs: np.ndarray, lo: int = lo, hi: int = hi) -> np.ndarray:
            x = beliefs[:, lo:hi].reshape(-1, latent_dim)
            return np.concatenate([x, np.ones((len(x), 1))], axis=1)

        # Read-out of the range, fitted on the window beliefs: least squares of y on [w, 1].
        coef = np.linalg.lstsq(design(w), yb, rcond=None)[0]
        for beliefs, out in ((w, r2w), (c, r2c)):
            pred = design(beliefs) @ coef
            out.append(float(1.0 - ((pred - yb) ** 2).mean(axis=0).sum() / var) if var > 0 else float("nan"))
    return BeliefGap(rows, np.asarray(gaps), np.asarray(r2w), np.asarray(r2c))



@dataclass
class ReadoutTransfer:
    """Does the belief name the task whatever the behaviour that produced the context?

    A linear read-out of the task parameters is fitted (least squares on ``[belief mean, 1]``) on the beliefs
    of one set of episodes (the run's own) and applied to the beliefs the same encoder computes from another
    agent's episodes on the same tasks (e.g. ``sac-oracle``'s, which run).

    Attributes:
        r2_own: R^2 of the read-out on the episodes it was fitted on.
        r2_other: R^2 of the same read-out on the other agent's episodes: near ``r2_own`` when the belief
            depends on the task only; low when the other behaviour moves the belief.
        slope_other: least-squares slope of the read-out's per-episode mean on the other agent's episodes
            against the true parameter (first task dimension): 1 = reads the task right, < 1 = the other
            behaviour is read as smaller task values.
        shift: mean over tasks of ``|mean belief (other) - mean belief (own)|`` divided by the across-task
            standard deviation of the own beliefs' means (per dimension, then averaged).
    """

    r2_own: float
    r2_other: float
    slope_other: float
    shift: float


def readout_transfer(
    own: np.ndarray, other: np.ndarray, target: np.ndarray, latent_dim: int
) -> ReadoutTransfer:
    """Fit a task read-out on ``own`` beliefs and measure it on ``other`` beliefs of the same tasks.

    Args:
        own, other: ``[N, T, F]`` policy features of ``N`` episodes (one per task, same task order; the first
            ``latent_dim`` features are the belief mean), e.g. the steps after the first full window.
        target: ``[N]`` or ``[N, P]`` true task parameters of the episodes.
        latent_dim: size of the belief mean inside the features.

    Returns:
        A :class:`ReadoutTransfer`.
    """
    n, t_max = own.shape[:2]
    y_task = target.reshape(n, -1).astype(np.float64)
    y = np.repeat(y_task, t_max, axis=0)  # [N * T, P]

    def design(b: np.ndarray) -> np.ndarray:
        x = b[..., :latent_dim].reshape(-1, latent_dim).astype(np.float64)
        return np.concatenate([x, np.ones((len(x), 1))], axis=1)

    coef = np.linalg.lstsq(design(own), y, rcond=None)[0]
    var = y.var(axis=0).sum()

    def r2(b: np.ndarray) -> float:
        if var <= 0:
            return float("nan")
        return float(1.0 - ((design(b) @ coef - y) ** 2).mean(axis=0).sum() / var)

    pred_other = (design(other) @ coef)[:, 0].reshape(n, t_max).mean(axis=1)
    truth = y_task[:, 0]
    centred = truth - truth.mean()
    denom = float((centred**2).sum())
    slope = float((centred * (pred_other - pred_other.mean())).sum() / denom) if denom > 0 else float("nan")
    m_own, m_other = own[..., :latent_dim].mean(axis=1), other[..., :latent_dim].mean(axis=1)  # [N, L]
    sd = m_own.std(axis=0)
    sd = np.where(sd > 1e-8, sd, 1.0)
    shift = float(np.mean(np.abs(m_other - m_own) / sd))
    return ReadoutTransfer(r2(own), r2(other), slope, shift)

#: Context-length ranges ``[lo, hi)`` of :func:`critic_error_by_context`.
CONTEXT_BINS: tuple[tuple[int, int], ...] = ((0, 1), (1, 2), (2, 4), (4, 8), (8, 16), (16, 32), (32, 65))


@dataclass
class CriticErrorByContext:
    """The critics' Bellman error on SAC samples, split by how many transitions their belief has seen.

    Attributes:
        bins: ``[(lo, hi)]`` context lengths (transitions before the sample inside its window).
        share: ``[B]`` fraction of the samples in each bin.
        mse: ``[B]`` mean squared TD error per critic in each bin, with the belief after the transition
            in the target (``next_belief_in_target=True``).
        mse_same: ``[B]`` the same with the sample's own belief in the target (the default).
        loss_share: ``[B]`` fraction of the total squared error (``mse`` target) each bin contributes.
    """

    bins: list[tuple[int, int]]
    share: np.ndarray
    mse: np.ndarray
    mse_same: np.ndarray
    loss_share: np.ndarray


@torch.no_grad()
def critic_error_by_context(method: Any, windows: int = 512) -> CriticErrorByContext:
    """TD errors of a trained MoSS method's critics on fresh SAC samples, by context length.

    Samples are drawn as the method's SAC batches draw them (``use_trajectory_sample_sac`` windows of
    ``time_steps + 1`` transitions from the replay, beliefs from the window before each transition). The
    target is computed both ways (belief after the transition; the sample's own belief), with the current
    actor, target critics and temperature, so the split shows which samples drive the critic loss.

    Args:
        method: a set-up :class:`methods.moss.method.Moss` (e.g. ``load_run(dir).method``) with data.
        windows: context windows to sample.
    """
    from methods.moss.inference import left_align_index

    cfg, pol = method.config, method.policy
    sac = pol.sac
    batch = method._windows(method._window_counts(windows), cfg.time_steps + 1, "episode", True)
    obs, b, a, r, nobs, nb, term = method.inference.window_transitions(batch)
    _, lengths = left_align_index(batch.mask)
    w = batch.mask.shape[1]
    steps = torch.arange(w, device=lengths.device)[None, :]
    context = steps.expand(len(lengths), w)[steps < lengths[:, None]].cpu().numpy()
    q = sac.critic(pol.critic_embed(obs, b), a)  # [2, S]

    def td_mse(next_belief: torch.Tensor) -> np.ndarray:
        next_a, next_logp = sac.actor(pol.actor_embed(nobs, next_belief))
        q_next = sac.critic_target(pol.critic_embed(nobs, next_belief), next_a).min(dim=0).values
        target = cfg.reward_scale * r + cfg.gamma * (1.0 - term) * (q_next - sac.alpha * next_logp)
        return ((q - target) ** 2).mean(dim=0).cpu().numpy()

    err_next, err_same = td_mse(nb), td_mse(b)
    bins = [(lo, hi) for lo, hi in CONTEXT_BINS if lo <= cfg.time_steps]
    sel = [(context >= lo) & (context < hi) for lo, hi in bins]
    total = float(err_next.sum())
    return CriticErrorByContext(
        bins=bins,
        share=np.array([s.mean() for s in sel]),
        mse=np.array([err_next[s].mean() if s.any() else np.nan for s in sel]),
        mse_same=np.array([err_same[s].mean() if s.any() else np.nan for s in sel]),
        loss_share=np.array([err_next[s].sum() / total if total > 0 else np.nan for s in sel]),
    )


@dataclass
class CriticOnBehaviour:
    """A MoSS run's critics on one set of trajectories (means over envs and the steps ``[0, steps)``).

    Attributes:
        episode_return: undiscounted return per episode.
        mc_return: discounted return-to-go (``gamma`` of the run, truncated at the episode's end).
        q_data: ``min(Q1, Q2)(s, b, a)`` of the trajectories' own actions.
        q_policy: ``min(Q1, Q2)(s, b, pi(s, b))`` of the run's greedy policy at the same states.
        steps: how many leading steps of each episode the Q and return-to-go means cover.
    """

    episode_return: float
    mc_return: float
    q_data: float
    q_policy: float
    steps: int


@torch.no_grad()
def critic_on_behaviour(
    method: Any, obs: np.ndarray, action: np.ndarray, reward: np.ndarray, next_obs: np.ndarray,
    steps: int | None = None,
) -> CriticOnBehaviour:
    """Evaluate a trained MoSS method's critics on whole episodes ``obs [N, T, obs_dim]``, ``action
    [N, T, act_dim]``, ``reward [N, T]``, ``next_obs [N, T, obs_dim]`` of any agent.

    Beliefs are recomputed from the episodes' own transitions as the SAC batches compute them (sliding
    window of ``time_steps``). ``steps`` (default: half the episode) limits the means to the leading steps,
    whose truncated return-to-go is closest to the critics' infinite-horizon value.
    """
    cfg, pol = method.config, method.policy
    encoder = method.inference.encoder
    device = encoder.input_mean.device
    t_max = obs.shape[1]
    steps = t_max // 2 if steps is None else min(steps, t_max)
    feats = episode_features(obs, action, reward, next_obs, device)
    belief = window_beliefs(encoder, feats, cfg.time_steps, cfg.bayes_adaptive)
    o = torch.as_tensor(np.asarray(obs, dtype=np.float32), device=device)
    a = torch.as_tensor(np.asarray(action, dtype=np.float32), device=device)
    q_data = pol.sac.critic(pol.critic_embed(o, belief), a).min(dim=0).values
    greedy = pol.sac.actor(pol.actor_embed(o, belief), True)[0]
    q_policy = pol.sac.critic(pol.critic_embed(o, belief), greedy).min(dim=0).values
    to_go = np.zeros(reward.shape, dtype=np.float64)
    acc = np.zeros(reward.shape[0])
    for t in reversed(range(t_max)):
        acc = reward[:, t] + cfg.gamma * acc
        to_go[:, t] = acc
    return CriticOnBehaviour(
        episode_return=float(reward.sum(axis=1).mean()), mc_return=float(to_go[:, :steps].mean()),
        q_data=float(q_data[:, :steps].mean()), q_policy=float(q_policy[:, :steps].mean()), steps=steps,
    )


@dataclass
class RelabelGap:
    """How much a trained encoder's belief reads the behaviour rather than the rewards of its context.

    For encoder windows ``m`` drawn from the replay as the encoder's batches draw them, partner windows
    ``p`` (a random cycle over the batch) are relabelled with the decoder's rewards under ``m``'s belief
    (:meth:`methods.moss.inference.TaskInference.relabelled_windows`): the same behaviour, the rewards of
    ``m``'s task as the decoder knows them. All figures compare policy features (mean and log-variance of
    the most likely component) after ``min(n_m, n_p)`` transitions.

    Attributes:
        gap: mean squared difference between the belief of the relabelled window and ``m``'s (the
            ``relabel_weight`` term).
        spread: the same between ``p``'s own belief and ``m``'s (two windows, usually of two tasks).
        ratio: ``gap / spread``: 0 when the belief reads the task from the rewards whatever the behaviour,
            about 1 when it reads the behaviour (the relabelled window is read as the partner's).
        mean_distance: mean Euclidean distance (latent units) between the relabelled window's belief mean
            and ``m``'s.
        own_distance: the same between ``p``'s own belief mean and ``m``'s.
        reward_rmse: RMS error (raw reward units) of the decoder's reward on the real windows, each
            transition predicted under the belief before it; ``reward_std``: the rewards' standard deviation.
    """

    gap: float
    spread: float
    ratio: float
    mean_distance: float
    own_distance: float
    reward_rmse: float
    reward_std: float


@torch.no_grad()
def relabel_gap(method: Any, windows: int = 512) -> RelabelGap:
    """:class:`RelabelGap` of a set-up :class:`methods.moss.method.Moss` with data (e.g.
    ``load_run(dir).method``), on ``windows`` encoder windows of ``time_steps`` transitions."""
    from methods.moss.inference import left_align, random_cycle

    cfg, inf = method.config, method.inference
    enc = inf.encoder
    batch = method._windows(method._window_counts(windows), cfg.time_steps, "episode", True)
    feats, lengths = left_align(batch.context, batch.mask)
    post = enc.posterior(enc.rollout(feats))
    m = len(lengths)
    partner = random_cycle(m, feats.device)
    relabelled, steps, anchor = inf.relabelled_windows(feats, lengths, post, partner)
    rel = inf.statistics_after(relabelled, steps)
    own = inf.statistics_after(feats[partner], steps)
    latent = anchor.shape[-1] // 2
    gap = float((rel - anchor).square().mean())
    spread = float((own - anchor).square().mean())
    # The decoder's reward under the belief before each transition, on the real windows.
    o, a = enc.obs_dim, enc.act_dim
    mean_before, _ = post.best_component()
    reward = inf.predicted_reward(feats, mean_before[:, :-1])
    real = torch.arange(feats.shape[1], device=feats.device)[None, :] < lengths[:, None]
    err = (reward - feats[..., o + a])[real]
    return RelabelGap(
        gap=gap, spread=spread, ratio=gap / spread if spread > 0 else float("nan"),
        mean_distance=float((rel[:, :latent] - anchor[:, :latent]).norm(dim=-1).mean()),
        own_distance=float((own[:, :latent] - anchor[:, :latent]).norm(dim=-1).mean()),
        reward_rmse=float(err.square().mean().sqrt()), reward_std=float(feats[..., o + a][real].std()),
    )
