"""Unit tests of MoSS's pieces: shapes, KLs (vs Monte Carlo), InfoNCE, recurrent prior, gradient isolation."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np
import pytest
import torch

from harness.agent import StepBatch
from methods.common.replay import MultiTaskReplay, SequenceBatch, TransitionBatch
from methods.moss.agent import MossAgent
from methods.moss.config import MossConfig
from methods.moss.encoder import GMVAEEncoder, Posterior
from methods.moss.inference import (
    TaskInference,
    belief_feature_dim,
    flatten_tasks,
    left_align,
    policy_features,
)
from methods.moss.losses import categorical_kl, gaussian_kl, info_nce, mixture_kl
from methods.moss.policy import BeliefSAC

OBS, ACT = 3, 2
SMALL = MossConfig(num_classes=3, latent_dim=2, embed_dim=8, gru_hidden=16, decoder_hidden=(16,),
                   hidden=(16,), state_embed_dim=4, latent_embed_dim=4, time_steps=6,
                   elbo_complete_path=True)


def random_posterior(shape: tuple[int, ...], k: int, latent: int, gen: torch.Generator) -> Posterior:
    return Posterior(torch.randn(*shape, k, latent, generator=gen),
                     0.5 * torch.randn(*shape, k, latent, generator=gen),
                     torch.randn(*shape, k, generator=gen))


# ------------------------------------------------------------------------------------------ encoder


def test_encoder_shapes_and_rollout_matches_steps() -> None:
    torch.manual_seed(0)
    enc = GMVAEEncoder(OBS, ACT, num_classes=3, latent_dim=2, embed_dim=8, hidden_dim=16)
    feats = torch.randn(5, 7, enc.input_dim)
    hidden = enc.rollout(feats)
    assert hidden.shape == (5, 8, 16)
    assert torch.equal(hidden[:, 0], torch.zeros(5, 16))
    post = enc.posterior(hidden)
    assert post.mean.shape == (5, 8, 3, 2) and post.logvar.shape == (5, 8, 3, 2)
    assert post.logits.shape == (5, 8, 3)
    mean, logvar = post.best_component()
    assert mean.shape == (5, 8, 2) and logvar.shape == (5, 8, 2)
    best = post.logits.argmax(-1)
    assert torch.equal(mean[1, 3], post.mean[1, 3, best[1, 3]])
    # The online step-by-step update gives the same hidden states as one batched GRU call.
    h = enc.initial_hidden(5)
    for t in range(7):
        h = enc.step(feats[:, t], h)
        torch.testing.assert_close(h, hidden[:, t + 1], atol=1e-5, rtol=1e-5)


def test_left_align_puts_real_transitions_first() -> None:
    w = 4
    obs = torch.zeros(2, w, OBS)
    obs[0, 2:, 0] = torch.tensor([1.0, 2.0])  # 2 real transitions at the end of row 0
    obs[1, :, 0] = torch.tensor([1.0, 2.0, 3.0, 4.0])  # full row
    ctx = TransitionBatch(obs, torch.zeros(2, w, ACT), torch.zeros(2, w), torch.zeros(2, w, OBS),
                          torch.zeros(2, w), {})
    mask = torch.tensor([[0, 0, 1, 1], [1, 1, 1, 1]], dtype=torch.float32)
    feats, lengths = left_align(ctx, mask)
    assert lengths.tolist() == [2, 4]
    assert feats[0, :, 0].tolist() == [1.0, 2.0, 0.0, 0.0]
    assert feats[1, :, 0].tolist() == [1.0, 2.0, 3.0, 4.0]


# --------------------------------------------------------------------------------------------- losses


def test_gaussian_and_categorical_kl_match_torch_distributions() -> None:
    gen = torch.Generator().manual_seed(1)
    mq, lq, mp, lp = (torch.randn(6, 4, generator=gen) for _ in range(4))
    ref = torch.distributions.kl_divergence(
        torch.distributions.Normal(mq, (0.5 * lq).exp()), torch.distributions.Normal(mp, (0.5 * lp).exp())
    ).sum(-1)
    torch.testing.assert_close(gaussian_kl(mq, lq, mp, lp), ref)
    aq, ap = torch.randn(6, 3, generator=gen), torch.randn(6, 3, generator=gen)
    ref_cat = torch.distributions.kl_divergence(torch.distributions.Categorical(logits=aq),
                                                torch.distributions.Categorical(logits=ap))
    torch.testing.assert_close(categorical_kl(aq, ap), ref_cat)


def test_mixture_kl_matches_monte_carlo() -> None:
    """KL(q(y) q(z|y) || p(y) p(z|y)) from the two closed-form terms equals a Monte Carlo estimate."""
    gen = torch.Generator().manual_seed(2)
    q = random_posterior((), 3, 2, gen)
    p = random_posterior((), 3, 2, gen)
    comp, cat = mixture_kl(q, p)
    exact = float(comp + cat)
    n = 400_000
    y = torch.distributions.Categorical(logits=q.logits).sample((n,))
    z = q.mean[y] + torch.randn(n, 2, generator=gen) * (0.5 * q.logvar[y]).exp()

    def log_joint(post: Posterior) -> torch.Tensor:
        log_y = torch.log_softmax(post.logits, -1)[y]
        log_z = torch.distributions.Normal(post.mean[y], (0.5 * post.logvar[y]).exp()).log_prob(z).sum(-1)
        return log_y + log_z

    samples = log_joint(q) - log_joint(p)
    mc, se = float(samples.mean()), float(samples.std() / math.sqrt(n))
    assert abs(mc - exact) < 4 * se + 1e-3, (mc, exact, se)
    assert exact > 0.1  # not a trivially zero case


def test_info_nce_minimum_at_identical_positives() -> None:
    gen = torch.Generator().manual_seed(3)
    groups = torch.tensor([0, 0, 1, 1, 2, 2])
    query = 5.0 * torch.randn(6, 4, generator=gen)
    ideal = info_nce(query, query.clone(), groups)
    perturbed = info_nce(query, query + 0.5 * torch.randn(6, 4, generator=gen), groups)
    assert float(ideal) < float(perturbed)
    # Identical positives and far-apart negatives: the loss approaches its infimum 0.
    far = torch.stack([torch.full((4,), 100.0 * g) for g in groups.tolist()]) + 0.01 * query
    assert float(info_nce(far, far.clone(), groups)) < 1e-6
    # Same-task keys are not negatives: moving them does not change the loss.
    keys = query.clone()
    moved = keys.clone()
    moved[1] = query[0] + 1e-3  # row 1 (same task as row 0) sits on row 0's query
    l0 = info_nce(query[[0, 2, 4]], keys[[0, 2, 4]], groups[[0, 2, 4]])
    l_all = info_nce(query, moved, groups)
    assert torch.isfinite(l0) and torch.isfinite(l_all)
    # With a single task there are no negatives: the loss is 0.
    assert float(info_nce(query, query + 1.0, torch.zeros(6, dtype=torch.long))) == 0.0


def test_info_nce_equals_hand_computed_value() -> None:
    query = torch.tensor([[0.0], [1.0]])
    keys = torch.tensor([[0.5], [1.0]])
    groups = torch.tensor([0, 1])
    # Query 0: positive sim -0.25, negative -1 ; query 1: positive 0, negative -0.25.
    expected = 0.5 * (-math.log(math.exp(-0.25) / (math.exp(-0.25) + math.exp(-1.0)))
                      - math.log(1.0 / (1.0 + math.exp(-0.25))))
    assert float(info_nce(query, keys, groups)) == pytest.approx(expected, rel=1e-6)


def test_same_group_partner_pairs_rows_of_one_task() -> None:
    """``contrastive_positive = "task"``: each row's key comes from another row (window) of its task."""
    from methods.moss.inference import same_group_partner

    groups = torch.tensor([3, 1, 3, 3, 2, 1, 7])
    partner = same_group_partner(groups)
    assert partner.tolist() == [2, 5, 3, 0, 4, 1, 6]
    assert bool((groups[partner] == groups).all())


@pytest.mark.parametrize("across", [False, True])
def test_contrastive_key_comes_from_the_configured_window(across: bool) -> None:
    """The InfoNCE key of a window is the embedding after another step of the same window
    (``contrastive_positive = "trajectory"``) or after a step of another window of its task ("task")."""
    from methods.moss.inference import contrastive_pairs

    gen = torch.Generator().manual_seed(12)
    lengths = torch.tensor([5, 3, 4, 2])
    groups = torch.tensor([0, 0, 1, 1])
    emb = torch.arange(4 * 6, dtype=torch.float32).reshape(4, 6, 1)  # row r, step j -> 6 r + j
    for _ in range(20):
        u = torch.rand(2, 4, generator=gen)
        query, key = contrastive_pairs(emb, lengths, groups, u, across)
        q_row, q_step = query[:, 0].long() // 6, query[:, 0].long() % 6
        k_row, k_step = key[:, 0].long() // 6, key[:, 0].long() % 6
        assert q_row.tolist() == [0, 1, 2, 3]
        assert bool((q_step >= 1).all()) and bool((q_step <= lengths).all())
        assert bool((k_step >= 1).all()) and bool((k_step <= lengths[k_row]).all())
        if across:
            assert k_row.tolist() == [1, 0, 3, 2]
        else:
            assert k_row.tolist() == [0, 1, 2, 3] and bool((k_step != q_step).all())


# ---------------------------------------------------------------------------------- recurrent prior


def _window_batch(m: int, w: int, gen: torch.Generator, full: bool = True) -> SequenceBatch:
    ctx = TransitionBatch(torch.randn(m, w, OBS, generator=gen), torch.rand(m, w, ACT, generator=gen) * 2 - 1,
                          torch.randn(m, w, generator=gen), torch.randn(m, w, OBS, generator=gen),
                          torch.zeros(m, w), {})
    mask = torch.ones(m, w)
    cur = TransitionBatch(ctx.obs[:, -1], ctx.action[:, -1], ctx.reward[:, -1], ctx.next_obs[:, -1],
                          ctx.terminated[:, -1], {})
    return SequenceBatch(cur, ctx, mask)


def test_kl_prior_is_previous_posterior() -> None:
    """The ELBO's KL at step t is KL(q_t || q_{t-1}) (N(0, I)/uniform at t=0); the global prior differs."""
    torch.manual_seed(4)
    gen = torch.Generator().manual_seed(4)
    batch = _window_batch(4, 5, gen)
    groups = torch.arange(4)
    base = dict(alpha_kl_component=1.0, beta_kl_categorical=1.0, use_contrastive=False)
    cfg = MossConfig(**{**SMALL.__dict__, **base})
    inf = TaskInference(OBS, ACT, cfg, contrastive=False, device=torch.device("cpu"))
    _, stats = inf.loss(batch, groups)

    feats, _ = left_align(batch.context, batch.mask)
    post = inf.encoder.posterior(inf.encoder.rollout(feats))
    expected_comp, expected_cat = [], []
    for t in range(5):
        q = Posterior(post.mean[:, t], post.logvar[:, t], post.logits[:, t])
        if t == 0:
            p = Posterior(torch.zeros_like(q.mean), torch.zeros_like(q.logvar), torch.zeros_like(q.logits))
        else:
            p = Posterior(post.mean[:, t - 1], post.logvar[:, t - 1], post.logits[:, t - 1])
        c, k = mixture_kl(q, p)
        expected_comp.append(c)
        expected_cat.append(k)
    torch.testing.assert_close(stats.kl_component, torch.stack(expected_comp).mean(), rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(stats.kl_categorical, torch.stack(expected_cat).mean(), rtol=1e-5, atol=1e-6)

    glob = TaskInference(OBS, ACT, cfg.__class__(**{**cfg.__dict__, "recurrent_prior": False}), False,
                         torch.device("cpu"))
    glob.encoder.load_state_dict(inf.encoder.state_dict())
    _, gstats = glob.loss(batch, groups)
    assert not torch.allclose(gstats.kl_component, stats.kl_component)


def test_loss_backpropagates_into_encoder_and_decoder() -> None:
    torch.manual_seed(5)
    gen = torch.Generator().manual_seed(5)
    inf = TaskInference(OBS, ACT, SMALL, contrastive=True, device=torch.device("cpu"))
    loss, stats = inf.loss(_window_batch(8, 6, gen), torch.tensor([0, 0, 1, 1, 2, 2, 3, 3]))
    loss.backward()
    assert all(p.grad is not None for p in inf.encoder.parameters())
    assert all(p.grad is not None for p in inf.decoder.parameters())
    assert float(stats.contrastive) > 0


# ----------------------------------------------------------------------------------- decoupling


def test_policy_update_leaves_encoder_unchanged() -> None:
    """A SAC step on beliefs from the encoder changes the policy and never touches encoder parameters."""
    torch.manual_seed(6)
    gen = torch.Generator().manual_seed(6)
    cpu = torch.device("cpu")
    inf = TaskInference(OBS, ACT, SMALL, contrastive=True, device=cpu)
    policy = BeliefSAC(OBS, ACT, belief_feature_dim(SMALL), SMALL, cpu)
    before_enc = [p.detach().clone() for p in inf.encoder.parameters()]
    before_pol = [p.detach().clone() for p in policy.parameters()]
    batch = _window_batch(16, SMALL.time_steps + 1, gen)
    b, nb = inf.transition_beliefs(batch)
    assert b.shape == (16, belief_feature_dim(SMALL)) and not b.requires_grad
    cur = batch.current
    policy.update(cur.obs, b, cur.action, cur.reward, cur.next_obs, nb, cur.terminated)
    assert all(torch.equal(a, p) for a, p in zip(before_enc, inf.encoder.parameters(), strict=True))
    assert all(p.grad is None for p in inf.encoder.parameters())
    assert any(not torch.equal(a, p) for a, p in zip(before_pol, policy.parameters(), strict=True))


def test_transition_beliefs_use_the_context_before_each_state() -> None:
    """Belief at s_t = encoder state after the window's transitions before t; at s_{t+1}: including t."""
    torch.manual_seed(7)
    gen = torch.Generator().manual_seed(7)
    inf = TaskInference(OBS, ACT, SMALL, contrastive=False, device=torch.device("cpu"))
    batch = _window_batch(3, 4, gen)
    batch.mask[0, :2] = 0.0  # row 0: only 2 real transitions
    b, nb = inf.transition_beliefs(batch)
    feats, _ = left_align(batch.context, batch.mask)
    hidden = inf.encoder.rollout(feats[:1, :2])
    mean, logvar = inf.encoder.posterior(hidden[:, 1]).best_component()
    torch.testing.assert_close(b[0], torch.cat([mean[0], logvar[0]]))
    mean2, logvar2 = inf.encoder.posterior(hidden[:, 2]).best_component()
    torch.testing.assert_close(nb[0], torch.cat([mean2[0], logvar2[0]]))


# ------------------------------------------------------------------------------------------ agent


def _agent(online: bool, n: int = 3) -> tuple[MossAgent, TaskInference]:
    cpu = torch.device("cpu")
    inf = TaskInference(OBS, ACT, SMALL, contrastive=False, device=cpu)
    policy = BeliefSAC(OBS, ACT, belief_feature_dim(SMALL), SMALL, cpu)
    return MossAgent(inf.encoder, policy, n, online=online, bayes_adaptive=True, device=cpu), inf


def _step(n: int, rng: np.random.Generator, active: np.ndarray | None = None) -> StepBatch:
    f = np.float32
    return StepBatch(rng.normal(size=(n, OBS)).astype(f), rng.uniform(-1, 1, (n, ACT)).astype(f),
                     rng.normal(size=n).astype(f), rng.normal(size=(n, OBS)).astype(f), np.zeros(n, bool),
                     np.zeros(n, bool), np.ones(n, bool) if active is None else active)


def test_agent_belief_updates_every_step_and_matches_batched_encoding() -> None:
    torch.manual_seed(8)
    rng = np.random.default_rng(8)
    agent, inf = _agent(online=True)
    agent.reset(task_boundary=True)
    b0 = agent.belief()
    assert b0["mean"].shape == (3, 2) and b0["var"].shape == (3, 2) and b0["class_probs"].shape == (3, 3)
    steps = [_step(3, rng) for _ in range(4)]
    beliefs = []
    for s in steps:
        assert agent.act(s.obs, deterministic=True).shape == (3, ACT)
        agent.observe(s)
        beliefs.append(agent.belief()["mean"])
    assert not np.allclose(beliefs[0], beliefs[1])
    feats = torch.stack([torch.as_tensor(np.concatenate([s.obs, s.action, s.reward[:, None], s.next_obs], 1))
                         for s in steps], dim=1)
    mean, _ = inf.encoder.posterior(inf.encoder.rollout(feats)[:, -1]).best_component()
    np.testing.assert_allclose(beliefs[-1], mean.detach().numpy(), atol=1e-5)
    # Inactive rows keep their belief.
    before = agent.belief()["mean"].copy()
    agent.observe(_step(3, rng, active=np.array([True, False, True])))
    after = agent.belief()["mean"]
    np.testing.assert_array_equal(after[1], before[1])
    assert not np.allclose(after[0], before[0])


def test_trajectory_agent_refreshes_belief_only_between_episodes() -> None:
    torch.manual_seed(9)
    rng = np.random.default_rng(9)
    agent, _ = _agent(online=False)
    agent.reset(task_boundary=True)
    prior = agent.belief()["mean"].copy()
    for _ in range(3):
        agent.observe(_step(3, rng))
    np.testing.assert_array_equal(agent.belief()["mean"], prior)  # frozen within the episode
    agent.reset(task_boundary=False)
    assert not np.allclose(agent.belief()["mean"], prior)  # refreshed from the whole first episode
    agent.reset(task_boundary=True)
    np.testing.assert_allclose(agent.belief()["mean"], prior)


def test_flatten_tasks_and_multitask_sampling_shapes() -> None:
    replay = MultiTaskReplay(2, OBS, ACT, 100, np.random.default_rng(0))
    rng = np.random.default_rng(1)
    for tid in (0, 1):
        n = 10
        starts = np.zeros(n, bool)
        starts[[0, 5]] = True
        replay.buffer(tid).add_transitions(rng.normal(size=(n, OBS)), rng.normal(size=(n, ACT)),
                                           rng.normal(size=n), rng.normal(size=(n, OBS)), np.zeros(n), starts)
    seq = flatten_tasks(replay.sample_sequences([0, 1], 4, 6, include_current=True))
    assert seq.context.obs.shape == (8, 6, OBS) and seq.mask.shape == (8, 6)
    assert seq.current.reward.shape == (8,)
    assert float(seq.mask.sum(1).max()) <= 5  # windows never cross an episode start


def test_window_transitions_give_every_step_with_its_belief() -> None:
    """Trajectory sampling: each real transition of a window, with the beliefs before and after it."""
    torch.manual_seed(10)
    gen = torch.Generator().manual_seed(10)
    inf = TaskInference(OBS, ACT, SMALL, contrastive=False, device=torch.device("cpu"))
    batch = _window_batch(2, 4, gen)
    batch.mask[0, :1] = 0.0  # row 0: 3 real transitions (right-aligned)
    obs, b, _, reward, _, nb, term = inf.window_transitions(batch)
    assert obs.shape == (7, OBS) and term.shape == (7,)
    assert b.shape == nb.shape == (7, belief_feature_dim(SMALL))
    torch.testing.assert_close(obs[:3], batch.context.obs[0, 1:])
    torch.testing.assert_close(reward[3:], batch.context.reward[1])
    feats, _ = left_align(batch.context, batch.mask)
    hidden = inf.encoder.rollout(feats[1:])
    mean, logvar = inf.encoder.posterior(hidden[0, 2]).best_component()
    torch.testing.assert_close(b[5], torch.cat([mean, logvar]))
    torch.testing.assert_close(nb[4], torch.cat([mean, logvar]))


def test_window_transitions_take_beliefs_from_another_window_of_the_task() -> None:
    """``sac_belief_context = "same-task"``: the transitions are the batch's, the belief of transition j is
    the one after min(j, n) transitions of the context window; the batch as its own context is the default."""
    torch.manual_seed(11)
    gen = torch.Generator().manual_seed(11)
    inf = TaskInference(OBS, ACT, SMALL, contrastive=False, device=torch.device("cpu"))
    batch = _window_batch(2, 4, gen)
    batch.mask[0, :1] = 0.0
    own = inf.window_transitions(batch)
    for a, b in zip(own, inf.window_transitions(batch, batch), strict=True):
        torch.testing.assert_close(a, b)
    other = _window_batch(2, 3, gen)
    other.mask[1, :1] = 0.0  # row 1 of the context: 2 real transitions
    obs, b, action, reward, next_obs, nb, term = inf.window_transitions(batch, other)
    for x, y in zip((obs, action, reward, next_obs, term), (own[0], *own[2:5], own[6]), strict=True):
        torch.testing.assert_close(x, y)
    feats, _ = left_align(other.context, other.mask)
    hidden = inf.encoder.rollout(feats)  # [2, 4, H]
    def belief(row: int, n: int) -> torch.Tensor:
        mean, logvar = inf.encoder.posterior(hidden[row, n]).best_component()
        return torch.cat([mean, logvar])
    torch.testing.assert_close(b[0], belief(0, 0))
    torch.testing.assert_close(b[2], belief(0, 2))
    torch.testing.assert_close(nb[2], belief(0, 3))
    torch.testing.assert_close(b[3 + 3], belief(1, 2))  # row 1, transition 3: only 2 context transitions
    torch.testing.assert_close(nb[3 + 3], belief(1, 2))
    assert not torch.allclose(b, own[1])

@pytest.mark.parametrize("learn", [False, True])
def test_temperature_is_fixed_unless_learned(learn: bool) -> None:
    """The paper's fixed 0.2 stays put; ``learn_alpha`` (alias ``sac_learn_alpha``) starts there and moves it
    towards -act_dim."""
    torch.manual_seed(7)
    cfg = dataclasses.replace(SMALL, learn_alpha=learn)
    policy = BeliefSAC(OBS, ACT, belief_feature_dim(cfg), cfg, torch.device("cpu"))
    assert float(policy.sac.alpha) == pytest.approx(0.2)
    n = 32
    obs, nobs = torch.randn(n, OBS), torch.randn(n, OBS)
    belief = torch.randn(n, belief_feature_dim(cfg))
    for _ in range(20):
        stats = policy.update(obs, belief, torch.rand(n, ACT) * 2 - 1, torch.randn(n), nobs, belief,
                              torch.zeros(n))
    if learn:  # a fresh policy's entropy is above the target -act_dim: the temperature goes down
        assert float(stats["alpha"]) < 0.2
        assert policy.state_dict()["sac"]["log_alpha"] == pytest.approx(math.log(float(stats["alpha"])))
    else:
        assert float(stats["alpha"]) == pytest.approx(0.2) and policy.sac.alpha_opt is None


# ------------------------------------------------------------- acting-time vs training-time beliefs


def test_window_agent_acts_on_the_beliefs_the_policy_is_trained_on() -> None:
    """The default agent (``retain_hidden=False``) acts at every step on exactly the belief the SAC batches
    compute for that transition (the ``time_steps`` transitions before it); the carried hidden state of
    ``retain_hidden=True`` does not once the episode is longer than the window. If acting and training
    beliefs drift apart again (the cause of MoSS standing still on cheetah-vel), this fails."""
    from harness.collector import Collector
    from harness.config import method_config
    from harness.context import RunContext
    from harness.registry import get_method, get_suite
    from harness.rollout import EnvPool, run_trial

    suite = get_suite("point-goal-nonstat")  # 100-step episodes, windows of 16 (smoke) slide
    cls = get_method("moss")
    method: Any = cls(method_config(cls, suite, "smoke"))
    method.setup(suite, suite.train_tasks(0, 2), RunContext(seed=0))
    method.train_step(Collector(suite, suite.train_tasks(0, 2), 0, 10_000))
    w = method.config.time_steps
    assert not method.config.retain_hidden and w < suite.horizon
    # A barely trained GRU forgets within a few steps, which would hide a carried hidden state; larger
    # recurrent weights give it the long memory a trained encoder has.
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in method.inference.encoder.gru.parameters():
            p.copy_(torch.randn(p.shape, generator=gen))

    class Recorder:
        """Wraps an agent; records the policy features of the belief it acts on at each step."""

        def __init__(self, agent: MossAgent) -> None:
            self.agent, self.features = agent, []

        def reset(self, task_boundary: bool) -> None:
            self.agent.reset(task_boundary)

        def act(self, obs: np.ndarray, deterministic: bool) -> np.ndarray:
            self.features.append(policy_features(self.agent._posterior(), True))
            return self.agent.act(obs, deterministic)

        def observe(self, step: StepBatch) -> None:
            self.agent.observe(step)

    def acting_beliefs(retain: bool) -> tuple[Any, torch.Tensor]:
        method.config = dataclasses.replace(method.config, retain_hidden=retain)
        rec = Recorder(method.agent(2))
        pool = EnvPool(suite, suite.test_tasks(0, 2), 0, "eval", task_obs=False)
        rollout, _ = run_trial(pool, [0, 1], rec, 1, True)  # type: ignore[arg-type]
        pool.close()
        return rollout, torch.stack(rec.features, dim=1)  # [N, T, F]

    rollout, acted = acting_beliefs(retain=False)
    replay = MultiTaskReplay(2, suite.spec.obs_dim, suite.spec.act_dim, 1000, np.random.default_rng(0))
    replay.add_rollout(rollout)
    t = suite.horizon
    for env in range(2):
        seq = replay.buffer(env).gather_sequences(np.arange(t), w + 1, include_current=True)
        trained, _ = method.inference.transition_beliefs(seq)  # [T, F]: what SAC sees for each transition
        torch.testing.assert_close(acted[env], trained, atol=1e-4, rtol=1e-4)
    # The carried hidden state gives other beliefs after the first window (same trajectory rebuilt).
    carried_rollout, carried = acting_beliefs(retain=True)
    replay.clear()
    replay.add_rollout(carried_rollout)
    seq = replay.buffer(0).gather_sequences(np.arange(t), w + 1, include_current=True)
    trained, _ = method.inference.transition_beliefs(seq)
    torch.testing.assert_close(carried[0, : w + 1], trained[: w + 1], atol=1e-4, rtol=1e-4)
    assert float((carried[0, w + 1 :] - trained[w + 1 :]).abs().max()) > 0.1


@pytest.mark.parametrize("next_in_target", [False, True])
def test_critic_target_belief_switch(next_in_target: bool) -> None:
    """By default (tigr) the Bellman target reuses the belief of s for s'; ``next_belief_in_target`` passes
    the belief after the transition. With the next belief, samples whose belief has no context carry the
    task information of the next step into their target (the cause of MoSS standing still on cheetah-vel);
    :func:`critic_error_by_context` splits the error by context length."""
    from harness.collector import Collector
    from harness.config import method_config
    from harness.context import RunContext
    from harness.registry import get_method, get_suite
    from methods.moss.diagnostics import critic_error_by_context

    suite = get_suite("point-goal-nonstat")
    cls = get_method("moss")
    method: Any = cls(method_config(cls, suite, "smoke", sets={"next_belief_in_target": next_in_target}))
    method.setup(suite, suite.train_tasks(0, 2), RunContext(seed=0))
    seen: list[tuple[torch.Tensor, torch.Tensor]] = []
    update = method.policy.update

    def spy(obs: torch.Tensor, belief: torch.Tensor, *rest: torch.Tensor) -> dict[str, torch.Tensor]:
        seen.append((belief, rest[3]))
        return update(obs, belief, *rest)

    method.policy.update = spy
    method.train_step(Collector(suite, suite.train_tasks(0, 2), 0, 10_000))
    assert seen
    for belief, next_belief in seen:
        assert torch.equal(belief, next_belief) != next_in_target
    err = critic_error_by_context(method, windows=32)
    assert err.share.sum() == pytest.approx(1.0) and err.loss_share.sum() == pytest.approx(1.0)
    assert err.bins[0] == (0, 1) and err.share[0] > 0  # every window's first transition has no context
    assert np.all(np.isfinite(err.mse[err.share > 0])) and np.all(np.isfinite(err.mse_same[err.share > 0]))


def test_critic_on_behaviour_values_given_and_greedy_actions() -> None:
    """:func:`critic_on_behaviour` (``moss_belief_drift.py --against``): the critics' value of the
    trajectories' own actions equals that of the greedy policy when the trajectories are the policy's
    greedy actions, differs for other actions, and the return-to-go is the discounted sum of rewards."""
    from harness.collector import Collector
    from harness.config import method_config
    from harness.context import RunContext
    from harness.registry import get_method, get_suite
    from methods.moss.diagnostics import critic_on_behaviour, episode_features, window_beliefs

    suite = get_suite("point-goal")
    cls = get_method("moss")
    method: Any = cls(method_config(cls, suite, "smoke"))
    method.setup(suite, suite.train_tasks(0, 2), RunContext(seed=0))
    method.train_step(Collector(suite, suite.train_tasks(0, 2), 0, 10_000))
    cfg, rng = method.config, np.random.default_rng(0)
    n, t, od, ad = 3, 10, suite.spec.obs_dim, suite.spec.act_dim
    obs = rng.normal(size=(n, t, od)).astype(np.float32)
    next_obs = rng.normal(size=(n, t, od)).astype(np.float32)
    reward = np.ones((n, t), dtype=np.float32)
    other = rng.uniform(-1, 1, size=(n, t, ad)).astype(np.float32)
    # Greedy actions depend on the beliefs, which depend on the actions: fix the context from ``other``
    # and replace the actions step by step until they are the policy's own.
    actions = other.copy()
    for _ in range(t + 1):
        feats = episode_features(obs, actions, reward, next_obs, torch.device("cpu"))
        belief = window_beliefs(method.inference.encoder, feats, cfg.time_steps, cfg.bayes_adaptive)
        with torch.no_grad():
            actions = method.policy.act(torch.as_tensor(obs), belief, True).numpy()
    own = critic_on_behaviour(method, obs, actions, reward, next_obs)
    assert own.steps == t // 2
    assert own.q_data == pytest.approx(own.q_policy, abs=1e-4)
    rand = critic_on_behaviour(method, obs, other, reward, next_obs, steps=t)
    assert rand.q_data != pytest.approx(rand.q_policy, abs=1e-4)
    expected = np.mean([sum(cfg.gamma ** k for k in range(t - s)) for s in range(t)])
    assert rand.mc_return == pytest.approx(expected, rel=1e-6) and rand.episode_return == pytest.approx(t)


def test_readout_transfer_separates_task_from_behaviour() -> None:
    """:func:`readout_transfer` (``moss_belief_drift.py --against``): beliefs that name the task whatever
    the behaviour keep the read-out's R^2 and a slope of 1 on the other episodes; beliefs that read another
    behaviour as smaller task values (the stuck cheetah-vel seed: slope 0.64) lose both."""
    from methods.moss.diagnostics import readout_transfer

    rng = np.random.default_rng(0)
    tau = rng.uniform(0.0, 3.0, size=12)
    noise = rng.normal(size=(12, 40, 4))
    own = np.concatenate([tau[:, None, None] + 0.05 * noise[..., :1], noise[..., 1:]], axis=-1)
    same = readout_transfer(own, own + 0.05 * rng.normal(size=own.shape), tau, latent_dim=2)
    assert same.r2_own > 0.95 and same.r2_other > 0.9
    assert same.slope_other == pytest.approx(1.0, abs=0.05) and same.shift < 0.2
    shifted = own.copy()
    shifted[..., 0] *= 0.6
    moved = readout_transfer(own, shifted, tau, latent_dim=2)
    assert moved.r2_own == pytest.approx(same.r2_own, abs=0.02)
    assert moved.r2_other < 0.6 and moved.slope_other == pytest.approx(0.6, abs=0.05) and moved.shift > 0.2


def test_same_task_beliefs_in_the_bench_profile_and_on_request() -> None:
    """The fix of the stuck cheetah-vel seed (MoSS README, "The belief reads the behaviour"): the bench
    profile pairs SAC samples with beliefs from another window of the task and takes InfoNCE positives from
    another window on the stationary MuJoCo and Meta-World groups, and with beliefs from another window of
    the same segment on the non-stationary group (see the next test); the paper profile keeps the paper's
    settings."""
    from harness.config import method_config
    from harness.context import RunContext
    from harness.registry import get_method, get_suite

    cls = get_method("moss")
    for name in ("cheetah-vel", "cheetah-vel-ood", "cheetah-dir", "ant-dir", "ml1-reach-v2"):
        cfg = method_config(cls, get_suite(name), "bench")
        assert (cfg.sac_belief_context, cfg.contrastive_positive) == ("same-task", "task"), name
        paper = method_config(cls, get_suite(name), "paper")
        assert (paper.sac_belief_context, paper.contrastive_positive) == ("preceding", "trajectory"), name
    assert method_config(cls, get_suite("cheetah-vel-nonstat"), "bench").sac_belief_context == "same-task"
    assert method_config(cls, get_suite("cheetah-vel-nonstat"), "paper").sac_belief_context == "preceding"
    for name, expected in (("point-goal", True), ("point-goal-nonstat", True)):
        suite = get_suite(name)
        method: Any = cls(method_config(cls, suite, "smoke", sets={"sac_belief_context": "same-task"}))
        method.setup(suite, suite.train_tasks(0, 2), RunContext(seed=0))
        assert method.same_task_beliefs is expected, name


def test_bench_profile_gives_every_sac_based_method_the_same_sac_settings() -> None:
    """The bench profile's SAC widths, update ratio and batch (harness/profiles.py ``bench_sac``: identical
    for every SAC-based method, per suite) hold for moss, pearl, sac-mt and sac-oracle on each bench suite,
    also where the suite has only two training tasks (MoSS's and PEARL's ratio is per iteration)."""
    from harness.config import method_config
    from harness.profiles import BENCH_BUDGETS, bench_sac, get_profile
    from harness.registry import get_method, get_suite

    for name in BENCH_BUDGETS:
        suite = get_suite(name)
        want = bench_sac(name)
        moss = method_config(get_method("moss"), suite, "bench")
        n_train = get_profile("bench").num_tasks(suite)[0]
        tasks = min(moss.num_train_tasks_per_episode, n_train)
        steps = tasks * math.ceil(moss.num_transitions_per_episode / suite.horizon) * suite.horizon
        assert (tuple(moss.hidden), moss.batch_size) == (want.hidden, want.batch), name
        assert moss.num_training_steps_policy / steps == pytest.approx(want.updates_per_env_step), name
        pearl = method_config(get_method("pearl"), suite, "bench")
        assert (tuple(pearl.hidden), pearl.meta_batch * pearl.batch_size) == (want.hidden, want.batch), name
        ratio = pearl.num_train_steps_per_itr / pearl.steps_per_iteration(suite.horizon)
        assert ratio == pytest.approx(want.updates_per_env_step), name
        for baseline in ("sac-mt", "sac-oracle"):
            cfg = method_config(get_method(baseline), suite, "bench")
            got = (tuple(cfg.hidden), cfg.utd, cfg.batch_size)
            assert got == (want.hidden, want.updates_per_env_step, want.batch), (name, baseline)


@pytest.mark.parametrize("warmup", ["every-task", "iteration"])
def test_warmup_collects_on_every_task_or_as_an_iteration(warmup: str) -> None:
    """``warmup``: the first iteration collects on every training task (the paper) or, like every later
    iteration, on ``num_train_tasks_per_episode`` of them; either way ``num_transitions_initial`` steps
    each."""
    from harness.collector import Collector
    from harness.config import method_config
    from harness.context import RunContext
    from harness.registry import get_method, get_suite

    suite = get_suite("point-goal")
    cls = get_method("moss")
    cfg = method_config(cls, suite, "smoke", sets={"warmup": warmup, "num_train_tasks_per_episode": 2,
                                                   "num_transitions_initial": 2 * suite.horizon})
    method: Any = cls(cfg)
    tasks = suite.train_tasks(0, 6)
    method.setup(suite, tasks, RunContext(seed=0))
    stats = method.train_step(Collector(suite, tasks, 0, 100_000))
    collected = 6 if warmup == "every-task" else 2
    assert len(method.replay.task_ids()) == collected
    assert stats["stored_steps"] == collected * 2 * suite.horizon


def test_bench_profile_scales_metaworld_rewards_by_one() -> None:
    """ML1 with the Push column's reward scale 10 kept MoSS's pipeline from learning reach at the bench
    budget (MoSS README, "ML1 reach"): the bench profile uses 1 there, the paper profile keeps 10."""
    from harness.config import method_config
    from harness.registry import get_method, get_suite

    cls = get_method("moss")
    for name in ("ml1-reach-v2", "ml1-push-v2"):
        assert method_config(cls, get_suite(name), "bench").reward_scale == 1.0, name
        assert method_config(cls, get_suite(name), "paper").reward_scale == 10.0, name


def _segment_labelled_rollout(
    switched: np.ndarray, horizon: int, obs_dim: int, rng: np.random.Generator
) -> Any:
    """A rollout of ``switched.shape = [N, T]`` steps (episodes of ``horizon``, task ids 0, 1, 0, 1, ...)
    whose first observation component labels the segment (row, episode, switches so far): a window that
    crosses a switch or an episode start shows two labels. The rest is noise from ``rng``."""
    from harness.rollout import Rollout

    n, t = switched.shape
    episode = np.repeat((np.arange(t) // horizon)[None], n, 0)
    label = 1000 * np.arange(n)[:, None] + 100 * episode + np.cumsum(switched, axis=1) + 1
    obs = np.concatenate([label[..., None], rng.normal(size=(n, t, obs_dim - 1))], -1).astype(np.float32)
    return Rollout(obs=obs, action=rng.uniform(-1, 1, (n, t, 2)).astype(np.float32),
                   reward=rng.normal(size=(n, t)).astype(np.float32), next_obs=obs.copy(),
                   terminated=np.zeros((n, t), bool), truncated=np.zeros((n, t), bool),
                   active=np.ones((n, t), bool), episode=episode, success=np.zeros((n, t), bool),
                   task_ids=np.arange(n) % 2, switched=switched)


@pytest.mark.parametrize("trajectory", [True, False])
def test_nonstationary_same_task_beliefs_come_from_the_same_segment(trajectory: bool) -> None:
    """Non-stationary ``same-task``: every SAC sample's window stays inside one segment (no task switch in
    it) and its belief comes from another window of that same segment. Observations here carry a segment
    label (row, episode, segment), so a window that crosses a switch or a context from another segment
    shows up as a second label."""
    from harness.config import method_config
    from harness.context import RunContext
    from harness.registry import get_method, get_suite

    suite = get_suite("point-goal-nonstat")
    cls = get_method("moss")
    sets = {"sac_belief_context": "same-task", "use_trajectory_sample_sac": trajectory}
    method: Any = cls(method_config(cls, suite, "smoke", sets=sets))
    method.setup(suite, suite.train_tasks(0, 2), RunContext(seed=0))
    n, t, horizon, d = 4, 2 * suite.horizon, suite.horizon, suite.spec.obs_dim
    rng = np.random.default_rng(1)
    switched = np.zeros((n, t), bool)
    for row in range(n):
        for ep in range(2):
            for b in range(1, horizon // 20):  # switches at random 20-step boundaries
                switched[row, ep * horizon + 20 * b] = rng.random() < 0.5
    method.replay.add_rollout(_segment_labelled_rollout(switched, horizon, d, rng))
    counts = method._window_counts(64)
    own, other = method._segment_windows(counts, method.config.time_steps + 1, True, method.config.time_steps)
    own_labels = own.context.obs[..., 0] * own.mask
    other_labels = other.context.obs[..., 0] * other.mask
    current = own.current.obs[:, 0]
    for row in range(len(current)):
        assert set(own_labels[row][own.mask[row] > 0].tolist()) == {float(current[row])}
        got = set(other_labels[row][other.mask[row] > 0].tolist())
        assert got <= {float(current[row])}, (float(current[row]), got)
    assert (other.mask.sum(1) > 0).float().mean() > 0.8  # most contexts are not empty
    # The SAC samples of a policy phase take this path.
    calls: list[tuple[Any, ...]] = []
    draw = method._segment_windows

    def spy(*args: Any) -> Any:
        calls.append(args)
        return draw(*args)

    method._segment_windows = spy
    samples = method._policy_samples(256)
    assert len(calls) == 1 and len(samples[0]) > 0 and samples[1].shape[1] == samples[5].shape[1]


def test_first_segment_switch_without_same_task_beliefs_is_refused() -> None:
    from harness.config import ConfigError, method_config
    from harness.registry import get_method, get_suite

    with pytest.raises((ConfigError, ValueError), match="needs sac_belief_context='same-task'"):
        method_config(get_method("moss"), get_suite("point-goal-nonstat"), "smoke",
                      sets={"same_task_first_segment": True})


def test_first_segment_beliefs_come_from_any_episode_of_the_training_task() -> None:
    """``same_task_first_segment``: a SAC sample in its episode's first segment (under the training task)
    gets its belief from a window of the first segment of any stored episode of the same training task;
    later segments keep windows of their own segment."""
    from harness.config import method_config
    from harness.context import RunContext
    from harness.registry import get_method, get_suite

    suite = get_suite("point-goal-nonstat")
    cls = get_method("moss")
    sets = {"sac_belief_context": "same-task", "same_task_first_segment": True}
    method: Any = cls(method_config(cls, suite, "smoke", sets=sets))
    method.setup(suite, suite.train_tasks(0, 2), RunContext(seed=0))
    n, horizon, d = 4, suite.horizon, suite.spec.obs_dim
    t = 3 * horizon
    rng = np.random.default_rng(1)
    switched = np.zeros((n, t), bool)
    switched[:, 40::horizon] = True  # every episode: first segment 0-39, then one switch
    rollout = _segment_labelled_rollout(switched, horizon, d, rng)
    method.replay.add_rollout(rollout)
    labels = rollout.obs[..., 0]
    first = {task: {float(labels[r, e * horizon]) for r in range(n) if r % 2 == task for e in range(3)}
             for task in (0, 1)}
    own, other = method._segment_windows(method._window_counts(400), method.config.time_steps + 1, True,
                                         method.config.time_steps)
    current = own.current.obs[:, 0]
    across = 0
    for row in range(len(current)):
        label = float(current[row])
        got = set((other.context.obs[row, :, 0] * other.mask[row])[other.mask[row] > 0].tolist())
        task = next((k for k, v in first.items() if label in v), None)
        if task is None:  # a later segment: its own
            assert got <= {label}, (label, got)
        else:
            assert len(got) <= 1 and got <= first[task], (label, got)
            across += got != {label} and bool(got)
    assert across > 50  # most first-segment rows draw another episode's first segment


@pytest.mark.parametrize("enabled", [True, False])
def test_segment_contrastive_pairs_windows_of_one_segment(enabled: bool) -> None:
    """``segment_contrastive`` on a non-stationary suite: the InfoNCE windows stay inside one segment and
    come in pairs of the same segment (the pair's group id), and the encoder phase's InfoNCE is nonzero;
    without it (the paper) there is no InfoNCE there. Observations carry a segment label, as above."""
    from harness.config import method_config
    from harness.context import RunContext
    from harness.registry import get_method, get_suite

    suite = get_suite("point-goal-nonstat")
    cls = get_method("moss")
    sets = {"segment_contrastive": enabled, "contrastive_positive": "task"}
    method: Any = cls(method_config(cls, suite, "smoke", sets=sets))
    method.setup(suite, suite.train_tasks(0, 2), RunContext(seed=0))
    assert method.segment_contrast is enabled and method.inference.contrastive is enabled
    n, t, horizon, d = 4, 2 * suite.horizon, suite.horizon, suite.spec.obs_dim
    rng = np.random.default_rng(2)
    switched = np.zeros((n, t), bool)
    switched[:, 20::20] = rng.random((n, len(range(20, t, 20)))) < 0.5
    switched[:, horizon] = False  # episode starts are not switches
    method.replay.add_rollout(_segment_labelled_rollout(switched, horizon, d, rng))
    batch, groups = method._segment_pairs(np.array([0, 1]), 16)
    labels = batch.context.obs[..., 0]
    seg = [set(labels[i][batch.mask[i] > 0].tolist()) for i in range(len(groups))]
    assert all(len(s) == 1 for s in seg)  # no window crosses a switch or an episode start
    half = len(groups) // 2
    assert groups.tolist() == list(range(half)) * 2
    assert all(seg[i] == seg[i + half] for i in range(half))  # a pair: two windows of one segment
    assert len({next(iter(s)) for s in seg}) > 4  # many segments
    stats = method._encoder_phase()
    assert (float(stats.contrastive) > 0) is enabled


# ---------------------------------------------------------------------------------- behaviour swap


def test_belief_swap_stretches_have_the_configured_length_and_share() -> None:
    """``BeliefSwap``: a stretch acts on one other env's belief for ``steps`` steps, about ``share`` of the
    steps are swapped, an episode start ends every stretch, share 0 swaps nothing, and the draws are
    reproducible for a seeded generator."""
    from methods.moss.agent import BeliefSwap

    n, steps = 8, 5
    swap = BeliefSwap(n, 0.3, steps, np.random.default_rng(0))
    sources = np.stack([swap.next_sources() for _ in range(4000)])  # [T, N]
    swapped = sources != np.arange(n)
    assert abs(swapped.mean() - 0.3) < 0.03
    for env in range(n):  # every stretch: one source for at least `steps` steps
        col, src = swapped[:, env], sources[:, env]
        starts = np.flatnonzero(col & ~np.r_[False, col[:-1]])
        for s in starts[:-1]:
            assert col[s: s + steps].all() and (src[s: s + steps] == src[s]).all()
        lengths = np.diff(np.r_[0, np.flatnonzero(np.diff(np.r_[0, col.astype(int), 0]))])[1::2]
        assert (lengths[:-1] % steps == 0).all()  # back-to-back stretches add up whole ones (last: cut)
    swap.reset()
    assert (swap.source == np.arange(n)).all() and (swap.remaining == 0).all()
    again = BeliefSwap(n, 0.3, steps, np.random.default_rng(0))
    np.testing.assert_array_equal(np.stack([again.next_sources() for _ in range(4000)]), sources)
    none = BeliefSwap(n, 0.0, steps, np.random.default_rng(0))
    assert all((none.next_sources() == np.arange(n)).all() for _ in range(100))
    single = BeliefSwap(1, 1.0, steps, np.random.default_rng(0))
    assert all(single.next_sources()[0] == 0 for _ in range(10))
    with pytest.raises(ValueError, match="share"):
        BeliefSwap(n, 1.5, steps, np.random.default_rng(0))


def test_agent_with_belief_swap_acts_on_the_other_envs_belief() -> None:
    """With a swap in force the agent's action for env i is the policy's action for env i's observation
    and the source env's belief; outside a stretch (and for the evaluation agent) its own."""
    from methods.moss.agent import BeliefSwap
    from methods.moss.inference import policy_features

    torch.manual_seed(11)
    rng = np.random.default_rng(11)
    agent, _ = _agent(online=True, n=3)
    agent.reset(task_boundary=True)
    for _ in range(3):  # different beliefs per env
        agent.observe(_step(3, rng))
    agent.swap = BeliefSwap(3, 1.0, 4, np.random.default_rng(0))  # always swapped
    obs = rng.normal(size=(3, OBS)).astype(np.float32)
    belief = policy_features(agent._posterior(), True)
    acted = agent.act(obs, deterministic=True)
    src = agent.swap.source
    assert (src != np.arange(3)).all()
    expected = agent.policy.act(torch.as_tensor(obs), belief[torch.as_tensor(src)], True).detach().numpy()
    np.testing.assert_allclose(acted, expected, atol=1e-6)
    own = agent.policy.act(torch.as_tensor(obs), belief, True).detach().numpy()
    assert not np.allclose(acted, own)
    agent.swap = None
    np.testing.assert_allclose(agent.act(obs, deterministic=True), own, atol=1e-6)


def test_behaviour_swap_changes_training_collection_only() -> None:
    """``behaviour_swap_share`` > 0 makes the training collection act on other tasks' beliefs (other
    stored actions than with 0, reproducibly for one seed); the evaluation agent never swaps."""
    from harness.collector import Collector
    from harness.config import method_config
    from harness.context import RunContext
    from harness.registry import get_method, get_suite

    suite = get_suite("point-goal-nonstat")
    cls = get_method("moss")

    def collected(share: float) -> tuple[np.ndarray, Any]:
        torch.manual_seed(0)  # as the training loop does (the policy samples its actions from torch's RNG)
        sets = {"behaviour_swap_share": share, "behaviour_swap_steps": 5, "num_train_tasks_per_episode": 3,
                "warmup": "iteration"}
        cfg = method_config(cls, suite, "smoke", sets=sets)
        method: Any = cls(cfg)
        tasks = suite.train_tasks(0, 3)
        method.setup(suite, tasks, RunContext(seed=0))
        method.train_step(Collector(suite, tasks, 0, 100_000))  # warm-up collection
        method._collect(Collector(suite, tasks, 1, 100_000))  # a collection by the trained policy
        acts = np.concatenate([method.replay.buffer(t).gather(np.arange(len(method.replay.buffer(t))))
                               .action.numpy() for t in method.replay.task_ids()])
        return acts, method

    base, method = collected(0.0)
    swapped, _ = collected(0.5)
    again, _ = collected(0.5)
    np.testing.assert_array_equal(swapped, again)
    assert base.shape == swapped.shape and not np.allclose(base, swapped)
    assert method.agent(3).swap is None


# ------------------------------------------------------------------------------ relabelling


def _ragged_windows(gen: torch.Generator, lengths: list[int], w: int) -> SequenceBatch:
    """Right-aligned windows with the given numbers of real transitions (zeros in front)."""
    batch = _window_batch(len(lengths), w, gen)
    mask = torch.zeros(len(lengths), w)
    for i, n in enumerate(lengths):
        mask[i, w - n:] = 1.0
    ctx = batch.context
    keep = mask.bool()
    zero = ~keep
    parts = [x.masked_fill(zero.reshape(*zero.shape, *([1] * (x.dim() - 2))), 0.0)
             for x in (ctx.obs, ctx.action, ctx.reward, ctx.next_obs)]
    return SequenceBatch(batch.current, TransitionBatch(*parts, ctx.terminated, {}), mask)


def test_relabelled_windows_keep_the_partners_behaviour_and_take_the_decoders_rewards() -> None:
    """Row m of the relabelled batch is window partner[m] with rewards decoder_r(s, a, z_m), z_m the mean
    of m's most likely component after min(n_m, n_partner) of m's own transitions."""
    torch.manual_seed(11)
    gen = torch.Generator().manual_seed(11)
    inf = TaskInference(OBS, ACT, dataclasses.replace(SMALL, relabel_weight=1.0), False, torch.device("cpu"))
    inf.encoder.set_normalization(torch.rand(inf.encoder.input_dim, generator=gen),
                                  1 + torch.rand(inf.encoder.input_dim, generator=gen))
    batch = _ragged_windows(gen, [6, 3, 5, 1], 6)
    feats, lengths = left_align(batch.context, batch.mask)
    post = inf.encoder.posterior(inf.encoder.rollout(feats))
    partner = torch.tensor([1, 2, 3, 0])
    relabelled, steps, anchor = inf.relabelled_windows(feats, lengths, post, partner)
    assert steps.tolist() == [3, 3, 1, 1]
    r = OBS + ACT  # the reward column
    for m in range(4):
        p = int(partner[m])
        torch.testing.assert_close(relabelled[m, :, :r], feats[p, :, :r])
        torch.testing.assert_close(relabelled[m, :, r + 1:], feats[p, :, r + 1:])
        k = int(post.logits[m, steps[m]].argmax())
        z = post.mean[m, steps[m], k]
        torch.testing.assert_close(anchor[m], torch.cat([z, post.logvar[m, steps[m], k]]))
        x = inf.encoder.normalize(feats[p])
        _, pred = inf.decoder(x[:, :OBS], x[:, OBS:r], z.expand(6, -1))
        expected = pred * inf.encoder.input_std[r] + inf.encoder.input_mean[r]
        torch.testing.assert_close(relabelled[m, :, r], expected)
    assert not relabelled.requires_grad


def test_relabel_term_trains_the_encoder_only_and_is_off_by_default() -> None:
    """With relabel_weight > 0 the term adds to the loss and its gradient reaches the encoder, never the
    decoder (the relabelling is a fixed target); with the default 0 the loss is the paper's."""
    gen = torch.Generator().manual_seed(12)
    batch = _window_batch(8, 6, gen)
    groups = torch.arange(8)
    torch.manual_seed(12)
    on = TaskInference(OBS, ACT, dataclasses.replace(SMALL, relabel_weight=1.0), False, torch.device("cpu"))
    off = TaskInference(OBS, ACT, SMALL, False, torch.device("cpu"))
    off.encoder.load_state_dict(on.encoder.state_dict())
    off.decoder.load_state_dict(on.decoder.state_dict())
    torch.manual_seed(0)
    loss_off, stats_off = off.loss(batch, groups)
    assert float(stats_off.relabel) == 0.0
    torch.manual_seed(0)
    _, stats_on = on.loss(batch, groups)  # same draws for the ELBO's samples as ``off``
    assert float(stats_on.relabel) > 0
    torch.testing.assert_close(stats_on.loss, loss_off.detach() + stats_on.relabel)

    feats, lengths = left_align(batch.context, batch.mask)
    post = on.encoder.posterior(on.encoder.rollout(feats))
    on._relabel_consistency(feats, lengths, post).backward()
    assert any(p.grad is not None and bool(p.grad.abs().sum() > 0) for p in on.encoder.parameters())
    assert all(p.grad is None for p in on.decoder.parameters())


def test_relabel_gap_is_one_for_an_encoder_blind_to_rewards() -> None:
    """:func:`relabel_gap` on a trained toy MoSS: finite figures; an encoder whose embedding ignores the
    reward reads a relabelled window exactly as the window it came from (ratio 1)."""
    from harness.collector import Collector
    from harness.config import method_config
    from harness.context import RunContext
    from harness.registry import get_method, get_suite
    from methods.moss.diagnostics import relabel_gap

    torch.manual_seed(0)
    suite = get_suite("point-goal-nonstat")
    cls = get_method("moss")
    method: Any = cls(method_config(cls, suite, "smoke", sets={"relabel_weight": 1.0}))
    method.setup(suite, suite.train_tasks(0, 2), RunContext(seed=0))
    stats = method.train_step(Collector(suite, suite.train_tasks(0, 2), 0, 10_000))
    assert stats["encoder_relabel"] > 0
    torch.manual_seed(0)
    gap = relabel_gap(method, windows=32)
    assert gap.spread > 0 and gap.reward_std > 0 and math.isfinite(gap.reward_rmse)
    assert gap.ratio >= 0 and math.isfinite(gap.ratio)
    enc = method.inference.encoder
    with torch.no_grad():
        enc.embed[0].weight[:, suite.spec.obs_dim + suite.spec.act_dim] = 0.0  # the reward column
    torch.manual_seed(0)
    blind = relabel_gap(method, windows=32)
    assert blind.ratio == pytest.approx(1.0)
    assert blind.mean_distance == pytest.approx(blind.own_distance)
