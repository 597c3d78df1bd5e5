"""Training of MoSS's task-inference module, and the beliefs it gives the policy.

* :func:`left_align`: context windows from :class:`methods.common.replay.SequenceBatch` are right-aligned
  (zero-padded at the front); the GRU wants the real transitions first, so rows are rotated.
* :class:`TaskInference`: encoder + decoder + optimizer; ``loss(batch, groups)`` is the time step-wise
  negative ELBO (reconstruction of the next transition from the belief before it, component-wise and
  categorical KL to the previous step's posterior) plus the InfoNCE term; ``update`` takes one step.
* :func:`policy_features`: what the policy sees of a belief (Bayes-adaptive: mean and log-variance of the
  most likely component; posterior sampling: a sample of it).

Every belief given to the policy is computed under ``torch.no_grad()``: no policy or critic gradient ever
reaches the encoder (the paper's decoupled training).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from methods.common.replay import MultiTaskReplay, SequenceBatch, TransitionBatch
from methods.moss.config import MossConfig
from methods.moss.encoder import GMVAEEncoder, Posterior, TransitionDecoder, transition_features
from methods.moss.losses import info_nce, mixture_kl, mixture_reconstruction, standard_prior_like


def left_align(context: TransitionBatch, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Raw features of right-aligned context windows, rotated so that real transitions come first.

    Args:
        context: transitions ``[M, W, ...]`` (zeros where ``mask`` is 0, real ones at the end of each row).
        mask: ``[M, W]`` 1.0 on real transitions.

    Returns:
        ``(features [M, W, input_dim], lengths [M])``: row ``i`` holds its ``lengths[i]`` transitions
        oldest first, followed by zero padding.
    """
    feats = transition_features(context.obs, context.action, context.reward, context.next_obs)
    idx, lengths = left_align_index(mask)
    return take_steps(feats, idx), lengths


def left_align_index(mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Gather index ``[M, W]`` that rotates right-aligned rows left (see :func:`left_align`), and lengths."""
    w = mask.shape[1]
    lengths = mask.sum(dim=1).long()
    return (torch.arange(w, device=mask.device)[None, :] + (w - lengths)[:, None]) % w, lengths


def take_steps(x: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """``x[m, idx[m, j], ...]`` for a ``[M, W, ...]`` tensor and an index ``[M, W]``."""
    return x.gather(1, idx.reshape(*idx.shape, *([1] * (x.dim() - 2))).expand(*idx.shape, *x.shape[2:]))


def flatten_tasks(batch: SequenceBatch) -> SequenceBatch:
    """Merge the task and batch dims ``[T, B, ...]`` of a multi-task sequence batch into ``[T * B, ...]``."""
    def flat(tb: TransitionBatch, keep: int) -> TransitionBatch:
        def f(x: torch.Tensor) -> torch.Tensor:
            return x.reshape(-1, *x.shape[2:]) if x.dim() >= keep else x
        return TransitionBatch(f(tb.obs), f(tb.action), f(tb.reward), f(tb.next_obs), f(tb.terminated),
                               {k: f(v) for k, v in tb.extras.items()})

    mask = batch.mask.reshape(-1, batch.mask.shape[-1])
    return SequenceBatch(flat(batch.current, 2), flat(batch.context, 3), mask)


def concat_sequences(batches: list[SequenceBatch]) -> SequenceBatch:
    """Concatenate sequence batches ``[B_i, ...]`` along the batch dim (e.g. one per task)."""
    def cat(tbs: list[TransitionBatch]) -> TransitionBatch:
        def c(name: str) -> torch.Tensor:
            return torch.cat([getattr(tb, name) for tb in tbs])

        return TransitionBatch(c("obs"), c("action"), c("reward"), c("next_obs"), c("terminated"),
                               {k: torch.cat([tb.extras[k] for tb in tbs]) for k in tbs[0].extras})

    return SequenceBatch(cat([b.current for b in batches]), cat([b.context for b in batches]),
                         torch.cat([b.mask for b in batches]))


def policy_features(post: Posterior, bayes_adaptive: bool) -> torch.Tensor:
    """The belief as the policy reads it.

    Args:
        post: posterior with ``[..., K, L]`` components.
        bayes_adaptive: True: ``[mean, logvar]`` of the most likely component (``[..., 2L]``); False:
            a sample ``z ~ q(z | y*, c)`` of it (``[..., L]``, posterior sampling).
    """
    if bayes_adaptive:
        return belief_statistics(post)
    mean, logvar = post.best_component()
    return mean + torch.randn_like(mean) * torch.exp(0.5 * logvar)


def belief_statistics(post: Posterior) -> torch.Tensor:
    """``[..., 2L]`` mean and log-variance of the most likely component (the Bayes-adaptive policy input)."""
    return torch.cat(post.best_component(), dim=-1)


def belief_feature_dim(config: MossConfig) -> int:
    """Size of :func:`policy_features`' output."""
    return config.encoder_latent_dim * (2 if config.bayes_adaptive else 1)


@dataclass
class InferenceStats:
    """Detached scalar diagnostics of one encoder step (tensors, to avoid device syncs)."""

    loss: torch.Tensor
    reconstruction: torch.Tensor
    kl_component: torch.Tensor
    kl_categorical: torch.Tensor
    contrastive: torch.Tensor
    class_entropy: torch.Tensor
    relabel: torch.Tensor


class TaskInference:
    """Encoder, decoder and their optimizer; see the module docstring.

    Args:
        obs_dim, act_dim: environment dimensions.
        config: the MoSS config (network sizes, loss weights, switches).
        contrastive: whether to add the InfoNCE term (off on non-stationary suites).
        device: torch device.
    """

    def __init__(
        self, obs_dim: int, act_dim: int, config: MossConfig, contrastive: bool, device: torch.device
    ) -> None:
        self.config = config
        self.contrastive = contrastive
        self.device = device
        self.encoder = GMVAEEncoder(obs_dim, act_dim, config.encoder_classes, config.encoder_latent_dim,
                                    config.embed_dim, config.gru_hidden).to(device)
        self.decoder = TransitionDecoder(obs_dim, act_dim, config.encoder_latent_dim,
                                         tuple(config.decoder_hidden)).to(device)
        self.optimizer = torch.optim.Adam([
            {"params": self.encoder.parameters(), "lr": config.lr_encoder},
            {"params": self.decoder.parameters(), "lr": config.lr_decoder},
        ])

    # ------------------------------------------------------------------------------------ normalisation

    def fit_normalization(self, replay: MultiTaskReplay, samples: int = 20_000) -> None:
        """Set the encoder's input statistics from a uniform sample of the replay buffers."""
        batch = replay.sample_union(min(samples, len(replay)))
        feats = transition_features(batch.obs, batch.action, batch.reward, batch.next_obs)
        std, mean = torch.std_mean(feats, dim=0)
        self.encoder.set_normalization(mean, torch.nan_to_num(std, nan=1.0))

    # -------------------------------------------------------------------------------------------- loss

    def _reconstruction(self, feats: torch.Tensor, post: Posterior) -> torch.Tensor:
        """Expected next-transition reconstruction error ``[M, W]`` of beliefs ``post`` (``[M, W, K, L]``)."""
        enc = self.encoder
        x = enc.normalize(feats)  # [M, W, D]: s | a | r | s'
        o, a = enc.obs_dim, enc.act_dim
        obs, act = x[..., :o], x[..., o : o + a]
        rew, next_obs = x[..., o + a], x[..., o + a + 1 :]
        k = post.mean.shape[-2]
        z = post.sample_components()  # [M, W, K, L]
        pred_s, pred_r = self.decoder(obs.unsqueeze(-2).expand(*obs.shape[:-1], k, o),
                                      act.unsqueeze(-2).expand(*act.shape[:-1], k, a), z)
        err = (pred_s - next_obs.unsqueeze(-2)).square().mean(dim=-1) + (pred_r - rew.unsqueeze(-1)).square()
        return mixture_reconstruction(err, post.probs)

    def loss(
        self,
        batch: SequenceBatch,
        groups: torch.Tensor,
        contrast: tuple[SequenceBatch, torch.Tensor] | None = None,
    ) -> tuple[torch.Tensor, InferenceStats]:
        """Negative time step-wise ELBO (+ InfoNCE) on context windows.

        Args:
            batch: windows ``context [M, W, ...]`` with ``mask [M, W]`` (``include_current=True``: each window
                ends with the sampled transition); ``current`` is unused.
            groups: ``[M]`` task id of each window (buffer identities, for the contrastive negatives).
            contrast: windows and group ids ``[M']`` on which the InfoNCE term is computed instead of
                ``batch`` (non-stationary suites: windows inside one segment, grouped by segment).

        Returns:
            The scalar loss and detached diagnostics.
        """
        cfg = self.config
        feats, lengths = left_align(batch.context, batch.mask)
        w = feats.shape[1]
        hidden = self.encoder.rollout(feats)  # [M, W+1, H]
        post = self.encoder.posterior(hidden)  # [M, W+1, K, L]
        # Step j (0..W-1): belief q_j (from transitions < j) predicts transition j; its prior is q_{j-1}.
        q = Posterior(post.mean[:, :w], post.logvar[:, :w], post.logits[:, :w])
        prior = standard_prior_like(q)
        if cfg.recurrent_prior:
            first = torch.zeros_like(q.logits[:, :1])
            prev_mean = torch.cat([torch.zeros_like(q.mean[:, :1]), post.mean[:, : w - 1]], dim=1)
            prev_logvar = torch.cat([torch.zeros_like(q.logvar[:, :1]), post.logvar[:, : w - 1]], dim=1)
            prev_logits = torch.cat([first, post.logits[:, : w - 1]], dim=1)
            prior = Posterior(prev_mean, prev_logvar, prev_logits)
        kl_comp, kl_cat = mixture_kl(q, prior)  # [M, W]
        recon = self._reconstruction(feats, q)  # [M, W]
        steps = torch.arange(w, device=feats.device)[None, :]
        if cfg.elbo_complete_path:
            weight = (steps < lengths[:, None]).float()
        else:
            weight = (steps == (lengths[:, None] - 1)).float()
        per_step = recon + cfg.alpha_kl_component * kl_comp + cfg.beta_kl_categorical * kl_cat
        denom = weight.sum().clamp_min(1.0)
        loss = (weight * per_step).sum() / denom
        nce = torch.zeros((), device=feats.device)
        if self.contrastive and cfg.contrastive_weight > 0:
            if contrast is None:
                nce = self._contrastive(post, lengths, groups)
            else:
                c_feats, c_lengths = left_align(contrast[0].context, contrast[0].mask)
                c_post = self.encoder.posterior(self.encoder.rollout(c_feats))
                nce = self._contrastive(c_post, c_lengths, contrast[1])
            loss = loss + cfg.contrastive_weight * nce
        relabel = torch.zeros((), device=feats.device)
        if cfg.relabel_weight > 0:
            relabel = self._relabel_consistency(feats, lengths, post)
            loss = loss + cfg.relabel_weight * relabel
        probs = q.probs
        entropy = -(probs * torch.log(probs.clamp_min(1e-12))).sum(-1)
        if cfg.class_balance_weight > 0 and probs.shape[-1] > 1:
            # Entropy of the batch-average class distribution (no labels): keeps every class in use.
            marginal = (weight[..., None] * probs).sum(dim=(0, 1)) / denom
            marginal_entropy = -(marginal * torch.log(marginal.clamp_min(1e-12))).sum()
            loss = loss + cfg.class_balance_weight * (math.log(probs.shape[-1]) - marginal_entropy)
        def avg(x: torch.Tensor) -> torch.Tensor:
            return ((weight * x).sum() / denom).detach()

        stats = InferenceStats(loss.detach(), avg(recon), avg(kl_comp), avg(kl_cat), nce.detach(),
                               avg(entropy), relabel.detach())
        return loss, stats

    def relabelled_windows(
        self, feats: torch.Tensor, lengths: torch.Tensor, post: Posterior, partner: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Row ``m``: the transitions of window ``partner[m]`` with rewards the decoder predicts under row
        ``m``'s belief (``relabel_weight``; no gradient).

        Args:
            feats: ``[M, W, D]`` left-aligned raw features (:func:`left_align`).
            lengths: ``[M]`` real transitions per row.
            post: ``[M, W + 1, K, L]`` beliefs after ``0..W`` transitions of each row.
            partner: ``[M]`` row whose behaviour row ``m`` relabels.

        Returns:
            ``(relabelled [M, W, D] raw features, steps [M], anchor [M, F])``: the first ``steps[m] =
            min(n_m, n_partner)`` (at least 1) transitions of the partner with rewards ``decoder_r(s, a,
            z_m)``, where ``z_m`` is the mean of row ``m``'s most likely component after ``steps[m]`` of its
            own transitions, and that belief's policy features (mean and log-variance, ``F = 2L``).
        """
        enc = self.encoder
        rows = torch.arange(len(lengths), device=feats.device)
        steps = torch.minimum(lengths, lengths[partner]).clamp_min(1)
        anchor = belief_statistics(Posterior(post.mean[rows, steps], post.logvar[rows, steps],
                                             post.logits[rows, steps]))  # [M, 2L]
        mean = anchor[:, : anchor.shape[1] // 2]
        other = feats[partner]
        o, a = enc.obs_dim, enc.act_dim
        with torch.no_grad():
            reward = self.predicted_reward(other, mean.detach()[:, None, :].expand(-1, other.shape[1], -1))
        relabelled = torch.cat([other[..., : o + a], reward[..., None], other[..., o + a + 1 :]], dim=-1)
        return relabelled, steps, anchor

    def predicted_reward(self, feats: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """The decoder's reward ``[...]`` in raw units for the ``(s, a)`` of raw features ``feats [..., D]``
        under latents ``z [..., L]``."""
        enc = self.encoder
        o, a = enc.obs_dim, enc.act_dim
        x = enc.normalize(feats)
        _, pred = self.decoder(x[..., :o], x[..., o : o + a], z)  # normalised units
        return pred * enc.input_std[o + a] + enc.input_mean[o + a]

    def _relabel_consistency(
        self, feats: torch.Tensor, lengths: torch.Tensor, post: Posterior
    ) -> torch.Tensor:
        """``relabel_weight``'s term: squared error between the policy features of the belief read from a
        relabelled partner window (:meth:`relabelled_windows`; partners form a random cycle over the batch)
        and its anchor's (detached), averaged over features and rows."""
        m = len(lengths)
        if m < 2:
            return torch.zeros((), device=feats.device)
        partner = random_cycle(m, feats.device)
        relabelled, steps, anchor = self.relabelled_windows(feats, lengths, post, partner)
        return (self.statistics_after(relabelled, steps) - anchor.detach()).square().mean()

    def statistics_after(self, feats: torch.Tensor, steps: torch.Tensor) -> torch.Tensor:
        """``[M, 2L]`` mean and log-variance of the most likely component after the first ``steps[m]``
        transitions of each row of ``feats [M, W, D]`` (left-aligned raw features)."""
        hidden = self.encoder.rollout(feats)
        rows = torch.arange(len(steps), device=feats.device)
        return belief_statistics(self.encoder.posterior(hidden[rows, steps]))

    def _contrastive(self, post: Posterior, lengths: torch.Tensor, groups: torch.Tensor) -> torch.Tensor:
        """InfoNCE over the windows of the batch (:func:`contrastive_pairs` picks query and positive key)."""
        valid = lengths >= 2
        if int(valid.sum()) < 2:
            return torch.zeros((), device=lengths.device)
        n = lengths[valid]
        u = torch.rand(2, len(n), device=n.device)
        g = groups[valid]
        query, key = contrastive_pairs(post.mixture_mean()[valid], n, g, u,
                                       self.config.contrastive_positive == "task")
        return info_nce(query, key, g, self.config.contrastive_temperature)

    def update(
        self,
        batch: SequenceBatch,
        groups: torch.Tensor,
        contrast: tuple[SequenceBatch, torch.Tensor] | None = None,
    ) -> InferenceStats:
        """One gradient step of encoder and decoder on ``batch`` (``contrast``: as in :meth:`loss`)."""
        loss, stats = self.loss(batch, groups, contrast)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if self.config.max_grad_norm_vae is not None:
            params = [p for g in self.optimizer.param_groups for p in g["params"]]
            nn.utils.clip_grad_norm_(params, self.config.max_grad_norm_vae)
        self.optimizer.step()
        return stats

    # ------------------------------------------------------------------------------------------ beliefs

    @torch.no_grad()
    def transition_beliefs(self, batch: SequenceBatch) -> tuple[torch.Tensor, torch.Tensor]:
        """Policy features of the beliefs before and after each sampled transition (online inference).

        Args:
            batch: ``include_current=True`` windows ``[M, W + 1]`` ending with the sampled transition.

        Returns:
            ``(belief at s [M, F], belief at s' [M, F])`` with ``F = belief_feature_dim(config)``.
        """
        feats, lengths = left_align(batch.context, batch.mask)
        hidden = self.encoder.rollout(feats)  # [M, W+2, H]
        rows = torch.arange(feats.shape[0], device=feats.device)
        h = torch.stack([hidden[rows, lengths - 1], hidden[rows, lengths]], dim=0)  # [2, M, H]
        f = policy_features(self.encoder.posterior(h), self.config.bayes_adaptive)
        return f[0], f[1]

    @torch.no_grad()
    def window_transitions(
        self, batch: SequenceBatch, context: SequenceBatch | None = None, append: str | None = None
    ) -> tuple[torch.Tensor, ...]:
        """Every transition of every window with the beliefs before and after it (trajectory sampling).

        Args:
            batch: ``include_current=True`` windows ``[M, W]``.
            context: None: the belief before transition ``j`` of a window is computed from the window's
                transitions before ``j``. Else ``[M, W']`` windows of the same tasks in the same row order
                (``sac_belief_context = "same-task"``): transition ``j`` of row ``m`` gets the belief after
                the first ``min(j, n_m)`` transitions of ``context`` row ``m`` (``n_m`` its length), so the
                context lengths are distributed as with None but the evidence comes from another window.
            append: the name of an extras field of ``batch`` whose columns are appended to ``obs`` and to
                ``next_obs`` (both get the transition's own value: the privileged critic's task).

        Returns:
            ``(obs, belief, action, reward, next_obs, next_belief, terminated)``, each ``[S, ...]`` with ``S``
            the number of real transitions in the batch.
        """
        idx, lengths = left_align_index(batch.mask)
        ctx = batch.context
        w = idx.shape[1]
        valid = torch.arange(w, device=idx.device)[None, :] < lengths[:, None]
        source = batch if context is None else context
        s_idx, s_len = left_align_index(source.mask)
        sc = source.context
        feats = take_steps(transition_features(sc.obs, sc.action, sc.reward, sc.next_obs), s_idx)
        f = policy_features(self.encoder.posterior(self.encoder.rollout(feats)),
                            self.config.bayes_adaptive)  # [M, W'+1, F]
        # Belief after min(j, n) transitions of the source row (j <= n for every real transition of its own).
        steps = torch.arange(w + 1, device=idx.device)[None, :].expand(len(s_len), -1)
        g = take_steps(f, torch.minimum(steps, s_len[:, None]))  # [M, W+1, F]
        before, after = g[:, :w], g[:, 1:]
        parts = [take_steps(x, idx)[valid] for x in (ctx.obs, ctx.action, ctx.reward, ctx.next_obs,
                                                     ctx.terminated)]
        obs, action, reward, next_obs, terminated = parts
        if append is not None:
            extra = take_steps(ctx.extras[append], idx)[valid]
            obs, next_obs = with_columns(obs, extra), with_columns(next_obs, extra)
        return obs, before[valid], action, reward, next_obs, after[valid], terminated

    @torch.no_grad()
    def context_beliefs(self, batch: SequenceBatch) -> torch.Tensor:
        """Policy features ``[M, F]`` of the belief after each whole context window (trajectory-level)."""
        feats, lengths = left_align(batch.context, batch.mask)
        hidden = self.encoder.rollout(feats)
        rows = torch.arange(feats.shape[0], device=feats.device)
        return policy_features(self.encoder.posterior(hidden[rows, lengths]), self.config.bayes_adaptive)

    # -------------------------------------------------------------------------------------------- state

    def state_dict(self) -> dict[str, object]:
        return {"encoder": self.encoder.state_dict(), "decoder": self.decoder.state_dict(),
                "optimizer": self.optimizer.state_dict()}

    def load_state_dict(self, state: dict[str, object]) -> None:
        self.encoder.load_state_dict(state["encoder"])  # type: ignore[arg-type]
        self.decoder.load_state_dict(state["decoder"])  # type: ignore[arg-type]
        self.optimizer.load_state_dict(state["optimizer"])  # type: ignore[arg-type]


def random_cycle(m: int, device: torch.device) -> torch.Tensor:
    """``[m]`` partner of each row: a uniformly drawn cyclic order over the rows (no row is its own partner
    for ``m >= 2``; torch's global generator, seeded by the runner)."""
    order = torch.randperm(m, device=device)
    partner = torch.empty_like(order)
    partner[order] = order.roll(-1)
    return partner


def with_columns(x: torch.Tensor, columns: torch.Tensor) -> torch.Tensor:
    """``[..., d + c]``: ``x [..., d]`` followed by ``columns [..., c]``."""
    return torch.cat([x, columns], dim=-1)


def contrastive_pairs(
    emb: torch.Tensor, lengths: torch.Tensor, groups: torch.Tensor, u: torch.Tensor, across_windows: bool
) -> tuple[torch.Tensor, torch.Tensor]:
    """Query and positive key of each window for InfoNCE.

    Args:
        emb: ``[V, W+1, L]`` embeddings after 0..W transitions of each window.
        lengths: ``[V]`` real transitions per window (each >= 2).
        groups: ``[V]`` task identities (buffer ids).
        u: ``[2, V]`` uniform draws in [0, 1).
        across_windows: False: the key is the embedding after another step of the same window; True: after
            a step of another window of the same task (:func:`same_group_partner`).

    Returns:
        ``(query [V, L], key [V, L])``: the query is the embedding after ``j1`` transitions, ``j1`` uniform
        in ``1..n``.
    """
    n = lengths.long()
    rows = torch.arange(len(n), device=n.device)
    j1 = 1 + (u[0] * n).long().clamp_max(n - 1)
    if across_windows:
        partner = same_group_partner(groups)
        j2 = 1 + (u[1] * n[partner]).long().clamp_max(n[partner] - 1)
        return emb[rows, j1], emb[partner, j2]
    off = 1 + (u[1] * (n - 1)).long().clamp_max(n - 2)  # another step of the same window
    j2 = 1 + (j1 - 1 + off) % n
    return emb[rows, j1], emb[rows, j2]


def same_group_partner(groups: torch.Tensor) -> torch.Tensor:
    """``[B]`` index of another row of the same group (the next one, cyclically, in row order; a row alone
    in its group is its own partner)."""
    order = torch.argsort(groups, stable=True)
    g = groups[order]
    pos = torch.arange(len(g), device=g.device)
    is_start = torch.ones_like(g, dtype=torch.bool)
    is_start[1:] = g[1:] != g[:-1]
    start = torch.cummax(torch.where(is_start, pos, torch.zeros_like(pos)), dim=0).values
    has_next = torch.zeros_like(is_start)
    has_next[:-1] = ~is_start[1:]
    partner_sorted = torch.where(has_next, pos + 1, start)
    partner = torch.empty_like(order)
    partner[order] = order[partner_sorted]
    return partner


def sample_task_ids(rng: np.random.Generator, available: list[int], k: int) -> np.ndarray:
    """``min(k, len(available))`` distinct task ids drawn from ``available``."""
    return rng.choice(np.asarray(available), size=min(k, len(available)), replace=False)
