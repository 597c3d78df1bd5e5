"""Unit tests of the shared SAC block, MLP builders and replay buffers (``methods.common``)."""

from __future__ import annotations

import io
import math

import numpy as np
import pytest
import torch
from torch import nn

from harness.rollout import Rollout
from methods.common.nets import EnsembleLinear, ensemble_mlp, init_weights_, mlp
from methods.common.replay import MultiTaskReplay, ReplayBuffer, TransitionBatch
from methods.common.sac import SAC, SACConfig, TanhGaussianActor, TwinQ

# ------------------------------------------------------------------------------------------------- nets


def test_mlp_shapes_and_trunk() -> None:
    net = mlp(3, [8, 8], 2)
    assert net(torch.zeros(5, 7, 3)).shape == (5, 7, 2)
    assert mlp(3, [8], None)(torch.zeros(4, 3)).shape == (4, 8)
    assert isinstance(mlp(3, [8], 1, output_activation=nn.Tanh)[-1], nn.Tanh)
    with pytest.raises(ValueError):
        mlp(3, [], None)


def test_ensemble_linear_matches_independent_linears() -> None:
    torch.manual_seed(0)
    layer = EnsembleLinear(3, 4, 5)
    x = torch.randn(6, 4)
    out = layer(x)
    for e in range(3):
        ref = x @ layer.weight[e] + layer.bias[e]
        torch.testing.assert_close(out[e], ref)
    assert ensemble_mlp(2, 4, [8], 1)(x).shape == (2, 6, 1)


def test_init_weights_orthogonal() -> None:
    lin, ens = nn.Linear(4, 4), EnsembleLinear(2, 4, 4)
    init_weights_(nn.Sequential(lin, ens), "orthogonal", bias=0.1)
    w = lin.weight.detach()
    torch.testing.assert_close(w @ w.T, torch.eye(4), atol=1e-5, rtol=0)
    we = ens.weight.detach()[1]
    torch.testing.assert_close(we.T @ we, torch.eye(4), atol=1e-5, rtol=0)
    assert torch.all(ens.bias == 0.1)


# ----------------------------------------------------------------------------------------------- actor


def test_tanh_log_prob_matches_change_of_variables() -> None:
    torch.manual_seed(0)
    actor = TanhGaussianActor(3, 2, (16,))
    x = torch.randn(64, 3)
    torch.manual_seed(1)
    action, log_prob = actor(x)
    mean, log_std = actor.dist_params(x)
    torch.manual_seed(1)
    u = mean + log_std.exp() * torch.randn_like(mean)
    base = torch.distributions.Normal(mean, log_std.exp())
    tanh = torch.distributions.transforms.TanhTransform()
    expected = (base.log_prob(u) - tanh.log_abs_det_jacobian(u, torch.tanh(u))).sum(-1)
    torch.testing.assert_close(action, torch.tanh(u))
    torch.testing.assert_close(log_prob, expected, atol=1e-4, rtol=1e-4)
    det_action, det_logp = actor(x, deterministic=True)
    torch.testing.assert_close(det_action, torch.tanh(mean))
    assert det_logp.shape == (64,)
    assert torch.all(action.abs() < 1)


def test_tanh_density_monte_carlo() -> None:
    """exp(log_prob) of 1-D samples matches their histogram density."""
    torch.manual_seed(0)
    actor = TanhGaussianActor(1, 1, (4,))
    with torch.no_grad():
        actor.head.weight.zero_()
        actor.head.bias.copy_(torch.tensor([0.4, math.log(0.8)]))
        a, logp = actor(torch.zeros(200_000, 1))
    a, dens = a[:, 0].numpy(), logp.exp().numpy()
    edges = np.linspace(-0.95, 0.95, 20)
    hist, _ = np.histogram(a, bins=edges)
    emp = hist / (len(a) * np.diff(edges))
    which = np.digitize(a, edges) - 1
    model = np.array([dens[which == b].mean() for b in range(len(edges) - 1)])
    np.testing.assert_allclose(emp, model, rtol=0.06, atol=0.02)


# ---------------------------------------------------------------------------------------------- critic


def _batch(n: int = 128, obs_dim: int = 3, act_dim: int = 2, seed: int = 0) -> TransitionBatch:
    g = torch.Generator().manual_seed(seed)
    return TransitionBatch(
        torch.randn(n, obs_dim, generator=g), torch.rand(n, act_dim, generator=g) * 2 - 1,
        torch.randn(n, generator=g), torch.randn(n, obs_dim, generator=g),
        (torch.rand(n, generator=g) < 0.1).float(), {},
    )


def test_twin_q_shapes() -> None:
    q = TwinQ(3, 2, (8,))
    assert q(torch.zeros(4, 5, 3), torch.zeros(4, 5, 2)).shape == (2, 4, 5)
    q1, q2 = q(torch.zeros(4, 3), torch.zeros(4, 2))
    assert not torch.equal(q1, q2)  # independent initialisations


def test_targets_start_equal_and_soft_update_uses_tau() -> None:
    torch.manual_seed(0)
    sac = SAC(3, 2, SACConfig(hidden=(16, 16), tau=0.1))
    for p, t in zip(sac.critic.parameters(), sac.critic_target.parameters(), strict=True):
        assert torch.equal(p, t)
    old = [t.detach().clone() for t in sac.critic_target.parameters()]
    with torch.no_grad():
        for p in sac.critic.parameters():
            p.add_(1.0)
    sac.soft_update_targets()
    for o, p, t in zip(old, sac.critic.parameters(), sac.critic_target.parameters(), strict=True):
        torch.testing.assert_close(t, 0.9 * o + 0.1 * p)
    sac.soft_update_targets(tau=1.0)
    for p, t in zip(sac.critic.parameters(), sac.critic_target.parameters(), strict=True):
        torch.testing.assert_close(t, p)


def test_critic_loss_decreases_on_fixed_batch() -> None:
    torch.manual_seed(0)
    sac = SAC(3, 2, SACConfig(hidden=(32, 32), critic_lr=1e-3))
    b = _batch()
    reward = b.obs.sum(-1) - b.action[:, 0]  # a learnable function of the transition
    first, _ = sac.critic_loss(b.obs, b.action, reward, b.next_obs, b.terminated)
    for _ in range(300):
        loss, _ = sac.critic_loss(b.obs, b.action, reward, b.next_obs, b.terminated)
        sac.critic_step(loss)
    assert float(loss.detach()) < 0.2 * float(first.detach())


def test_critic_loss_backpropagates_into_obs_and_target_is_constant() -> None:
    sac = SAC(3, 2, SACConfig(hidden=(16,)))
    b = _batch(16)
    obs = b.obs.clone().requires_grad_(True)
    nxt = b.next_obs.clone().requires_grad_(True)
    loss, info = sac.critic_loss(obs, b.action, b.reward, nxt, b.terminated)
    loss.backward()
    assert obs.grad is not None and obs.grad.abs().sum() > 0
    assert nxt.grad is None  # the target side is computed without gradient
    assert all(p.grad is None for p in sac.actor.parameters())
    assert set(info) == {"q", "target_q"}


def test_critic_target_uses_reward_scale_discount_and_done() -> None:
    sac = SAC(3, 2, SACConfig(hidden=(16,), reward_scale=5.0, gamma=0.5))
    b = _batch(8)
    done = torch.ones(8)
    _, info = sac.critic_loss(b.obs, b.action, b.reward, b.next_obs, done)
    torch.testing.assert_close(info["target_q"], 5.0 * b.reward.mean())


def test_actor_loss_gives_no_critic_gradient() -> None:
    sac = SAC(3, 2, SACConfig(hidden=(16,)))
    loss, info = sac.actor_loss(_batch(16).obs)
    loss.backward()
    assert all(p.grad is None for p in sac.critic.parameters())
    assert all(p.grad is not None for p in sac.actor.parameters())
    assert info["log_prob"].shape == (16,) and not info["log_prob"].requires_grad
    assert all(p.requires_grad for p in sac.critic.parameters())


def test_learned_alpha_moves_toward_target_entropy() -> None:
    torch.manual_seed(0)
    obs = _batch(256).obs
    for target, direction in ((-10.0, -1), (10.0, +1)):  # entropy above / below the target
        sac = SAC(3, 2, SACConfig(hidden=(16,), target_entropy=target, alpha_lr=1e-2))
        start = float(sac.alpha)
        for _ in range(20):
            _, info = sac.actor_loss(obs)
            sac.alpha_step(sac.alpha_loss(info["log_prob"]))
        assert direction * (float(sac.alpha) - start) > 0.1
    fixed = SAC(3, 2, SACConfig(hidden=(16,), learn_alpha=False, alpha=0.3))
    assert fixed.alpha_loss(torch.zeros(3)) is None and fixed.alpha_opt is None
    fixed.update(_batch())
    assert float(fixed.alpha) == pytest.approx(0.3)


def test_update_stats_and_grad_clipping() -> None:
    sac = SAC(3, 2, SACConfig(hidden=(16,), max_grad_norm=0.5))
    stats = sac.update(_batch())
    assert set(stats) == {"critic_loss", "actor_loss", "q", "entropy", "alpha"}
    assert all(math.isfinite(v) for v in stats.values())
    assert sac.update(_batch(), return_stats=False) == {}
    many = sac.update_many(lambda: _batch(), 3)
    assert set(many) == set(stats) and sac.num_updates == 5


def test_state_dict_round_trip_gives_identical_actions_and_updates() -> None:
    torch.manual_seed(0)
    a = SAC(3, 2, SACConfig(hidden=(16, 16)))
    for s in range(3):
        a.update(_batch(seed=s))
    buf = io.BytesIO()
    torch.save(a.state_dict(), buf)
    buf.seek(0)
    torch.manual_seed(123)
    b = SAC(3, 2, SACConfig(hidden=(16, 16)))
    b.load_state_dict(torch.load(buf, weights_only=False))
    x = _batch(8).obs
    assert torch.equal(a.act(x, deterministic=True), b.act(x, deterministic=True))
    torch.manual_seed(5)
    sa = a.update(_batch(seed=9))
    torch.manual_seed(5)
    sb = b.update(_batch(seed=9))
    assert sa == sb
    assert torch.equal(a.act(x, True), b.act(x, True))
    assert float(a.alpha) == float(b.alpha)


# ---------------------------------------------------------------------------------------------- replay


def _rollout(n: int = 3, t: int = 10, horizon: int = 5, task_ids: tuple[int, ...] = (0, 1, 0)) -> Rollout:
    """Rows of 2 episodes of ``horizon`` slots; obs value = 100 * row + slot (unique per transition)."""
    obs = (100 * np.arange(n)[:, None] + np.arange(t)[None]).astype(np.float32)[..., None]
    active = np.ones((n, t), bool)
    active[1, 3:5] = False  # row 1: first episode ends early (terminated at slot 2)
    active[2, 7:] = False  # row 2: budget ran out
    term = np.zeros((n, t), bool)
    term[1, 2] = True
    return Rollout(
        obs=obs, action=np.zeros((n, t, 1), np.float32), reward=obs[..., 0].copy(), next_obs=obs + 0.5,
        terminated=term, truncated=np.zeros((n, t), bool), active=active,
        episode=np.repeat((np.arange(t) // horizon)[None], n, 0), success=np.zeros((n, t), bool),
        task_ids=np.asarray(task_ids),
    )


def _stored_obs(buf: ReplayBuffer) -> list[float]:
    return buf.gather(np.arange(len(buf))).obs[:, 0].tolist()


def test_replay_stores_only_active_slots_and_rows() -> None:
    ro = _rollout()
    buf = ReplayBuffer(1, 1, 100, np.random.default_rng(0))
    assert buf.add_rollout(ro, row_mask=np.array([True, True, False])) == 18
    stored = _stored_obs(buf)
    assert stored == [*range(10), 100, 101, 102, *range(105, 110)]
    batch = buf.gather(np.arange(len(buf)))
    assert batch.terminated.tolist() == [0.0] * 12 + [1.0] + [0.0] * 5
    torch.testing.assert_close(batch.next_obs, batch.obs + 0.5)


def test_replay_ring_wraps_and_grows_lazily() -> None:
    buf = ReplayBuffer(2, 1, 1_000_000, np.random.default_rng(0))
    assert buf._data.shape[0] <= 1024  # not 1e6 rows up front
    small = ReplayBuffer(1, 1, 4, np.random.default_rng(0))
    for start in (0, 3):
        v = np.arange(start, start + 3, dtype=np.float32)[:, None]
        small.add_transitions(v, v, v[:, 0], v, np.zeros(3), np.array([True, False, False]))
    assert len(small) == 4 and small.total_added == 6
    assert sorted(_stored_obs(small)) == [2.0, 3.0, 4.0, 5.0]
    big = np.arange(10, dtype=np.float32)[:, None]
    small.add_transitions(big, big, big[:, 0], big, np.zeros(10), np.zeros(10, bool))
    assert sorted(_stored_obs(small)) == [6.0, 7.0, 8.0, 9.0]


def test_multitask_routing_and_shapes() -> None:
    mt = MultiTaskReplay(3, 1, 1, 100, np.random.default_rng(0))
    assert mt.add_rollout(_rollout()) == 25
    assert (mt.size(0), mt.size(1), mt.size(2)) == (17, 8, 0)
    assert mt.task_ids() == [0, 1]
    assert set(_stored_obs(mt.buffer(1))) == {100.0, 101.0, 102.0, *map(float, range(105, 110))}
    assert all(v < 100 or v >= 200 for v in _stored_obs(mt.buffer(0)))
    batch = mt.sample([1, 0, 1], 7)
    assert batch.obs.shape == (3, 7, 1) and batch.reward.shape == (3, 7)
    assert torch.all(batch.obs[0] // 100 == 1) and torch.all(batch.obs[1] // 100 != 1)
    union = mt.sample_union(500)
    frac_task1 = float((union.obs[:, 0] // 100 == 1).float().mean())
    assert abs(frac_task1 - 8 / 25) < 0.08
    with pytest.raises(ValueError):
        mt.sample([2], 4)
    mt.clear([0])
    assert mt.size(0) == 0 and mt.size(1) == 8


def test_sequences_stop_at_episode_and_trial_starts() -> None:
    buf = ReplayBuffer(1, 1, 100, np.random.default_rng(0))
    buf.add_rollout(_rollout(), row_mask=np.array([True, True, False]))
    stored = _stored_obs(buf)
    idx = np.array([stored.index(v) for v in (7.0, 105.0, 107.0, 1.0)])
    seq = buf.gather_sequences(idx, 3)
    ctx = (seq.context.obs[..., 0] * seq.mask).tolist()
    assert ctx == [[0, 5, 6], [0, 0, 0], [0, 105, 106], [0, 0, 0]]
    assert seq.mask.tolist() == [[0, 1, 1], [0, 0, 0], [0, 1, 1], [0, 0, 1]]
    assert seq.context.obs[..., 0][0].tolist() == [0, 5, 6]  # padding is zero
    trial = buf.gather_sequences(idx, 3, boundary="trial", include_current=True)
    expected = [[5, 6, 7], [101, 102, 105], [105, 106, 107], [0, 0, 1]]
    assert (trial.context.obs[..., 0] * trial.mask).tolist() == expected
    assert trial.mask.tolist() == [[1, 1, 1], [1, 1, 1], [1, 1, 1], [0, 1, 1]]
    assert seq.current.obs[:, 0].tolist() == [7, 105, 107, 1]
    mt = MultiTaskReplay(2, 1, 1, 100, np.random.default_rng(0))
    mt.add_rollout(_rollout())
    s = mt.sample_sequences([0, 1], 6, 4)
    assert s.context.obs.shape == (2, 6, 4, 1) and s.mask.shape == (2, 6, 4)


def test_sequences_ignore_overwritten_transitions() -> None:
    buf = ReplayBuffer(1, 1, 4, np.random.default_rng(0))
    v = np.arange(6, dtype=np.float32)[:, None]
    buf.add_transitions(v, v, v[:, 0], v, np.zeros(6), np.array([True] + [False] * 5))
    pos = _stored_obs(buf).index(3.0)
    seq = buf.gather_sequences(np.array([pos]), 3)
    assert seq.mask.tolist() == [[0, 0, 1]] and seq.context.obs[0, 2, 0] == 2.0


def test_seeded_sampling_is_deterministic_and_state_round_trips() -> None:
    def filled(seed: int) -> ReplayBuffer:
        b = ReplayBuffer(1, 1, 16, np.random.default_rng(seed), extra_fields={"z": (2,)})
        v = np.arange(20, dtype=np.float32)[:, None]
        b.add_transitions(v, v, v[:, 0], v, np.zeros(20), np.arange(20) % 5 == 0,
                          extras={"z": np.repeat(v, 2, axis=1)})
        return b

    a, b = filled(7), filled(7)
    assert torch.equal(a.sample(32).obs, b.sample(32).obs)
    assert a.sample(4).extras["z"].shape == (4, 2)
    state = a.state_dict()
    c = filled(99)
    c.load_state_dict(state)
    for _ in range(3):
        x, y = a.sample_sequences(8, 3), c.sample_sequences(8, 3)
        assert torch.equal(x.context.obs, y.context.obs) and torch.equal(x.mask, y.mask)
    with pytest.raises(KeyError):
        a.add_transitions(np.zeros((1, 1)), np.zeros((1, 1)), np.zeros(1), np.zeros((1, 1)), np.zeros(1),
                          np.ones(1, bool))
    mt1, mt2 = MultiTaskReplay(2, 1, 1, 50, np.random.default_rng(3)), MultiTaskReplay(2, 1, 1, 50,
                                                                                          np.random.default_rng(4))
    mt1.add_rollout(_rollout())
    mt2.load_state_dict(mt1.state_dict())
    assert torch.equal(mt1.sample([0, 1], 5).obs, mt2.sample([0, 1], 5).obs)


def test_segments_split_episodes_at_switches_and_pair_within_a_segment() -> None:
    """``rollout.switched`` starts a segment: ``boundary="segment"`` windows stop there, and
    ``same_segment_indices`` draws uniformly from the stored part of each row's segment, also after the ring
    wrapped and after a state round trip (states saved before segments existed load episodes as segments)."""
    ro = _rollout()
    ro.switched = np.zeros((3, 10), bool)
    ro.switched[0, 2] = True  # segments 0-1 | 2-4 (episode 0) | 5-9 (episode 1)
    buf = ReplayBuffer(1, 1, 100, np.random.default_rng(0))
    row0 = np.array([True, False, False])
    buf.add_rollout(ro, row_mask=row0)
    stored = _stored_obs(buf)
    idx = np.array([stored.index(v) for v in (1.0, 3.0, 4.0, 7.0)])
    seg = buf.gather_sequences(idx, 3, boundary="segment", include_current=True)
    assert (seg.context.obs[..., 0] * seg.mask).tolist() == [[0, 0, 1], [0, 2, 3], [2, 3, 4], [5, 6, 7]]
    episode = buf.gather_sequences(idx, 3, boundary="episode", include_current=True)
    assert (episode.context.obs[..., 0] * episode.mask).tolist()[1] == [1, 2, 3]  # crosses the switch
    segment_of = {0: 0, 1: 0, 2: 1, 3: 1, 4: 1, 5: 2, 6: 2, 7: 2, 8: 2, 9: 2}
    draws = buf.same_segment_indices(np.repeat(idx, 400))
    got = np.asarray(stored)[draws].reshape(4, 400)
    for row, v in enumerate((1, 3, 4, 7)):
        members = [k for k, s in segment_of.items() if s == segment_of[v]]
        counts = np.array([(got[row] == m).sum() for m in members])
        assert set(got[row].tolist()) == set(members), (v, set(got[row].tolist()))
        assert counts.min() > 400 / len(members) * 0.6, (v, counts)  # about uniform
    # Ring: capacity 6 keeps slots 4-9; slot 4's segment (2-4) survives only as itself.
    small = ReplayBuffer(1, 1, 6, np.random.default_rng(0))
    small.add_rollout(ro, row_mask=row0)
    kept = _stored_obs(small)
    draws = small.same_segment_indices(np.full(50, kept.index(4.0)))
    assert {kept[d] for d in draws} == {4.0}
    draws = small.same_segment_indices(np.full(50, kept.index(9.0)))
    assert {kept[d] for d in draws} == {5.0, 6.0, 7.0, 8.0, 9.0}
    state = buf.state_dict()
    copy = ReplayBuffer(1, 1, 100, np.random.default_rng(0))
    copy.load_state_dict(state)
    assert torch.equal(copy.gather_sequences(idx, 3, "segment", True).context.obs, seg.context.obs)
    del state["seg_start"], state["last_seg_start"]
    old = ReplayBuffer(1, 1, 100, np.random.default_rng(0))
    old.load_state_dict(state)
    assert torch.equal(old.gather_sequences(idx, 3, "segment", True).context.obs, episode.context.obs)
    with pytest.raises(ValueError, match="'episode', 'trial' or 'segment'"):
        buf.gather_sequences(idx, 3, boundary="switch")  # type: ignore[arg-type]
