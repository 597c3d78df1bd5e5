"""Unit and protocol tests of PEARL: product of Gaussians, encoder, gradient routing, evaluation agent,
terminal transitions, collection schedule, state round trip."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import torch

from harness.agent import StepBatch
from harness.collector import Collector
from harness.config import method_config
from harness.context import RunContext
from harness.evaluation import evaluate
from harness.loop import fit
from harness.registry import get_suite
from harness.rollout import Rollout
from methods.common.replay import ReplayBuffer
from methods.pearl import Pearl, PearlConfig
from methods.pearl.encoder import (
    MIN_VARIANCE,
    ContextEncoder,
    Gaussian,
    context_features,
    kl_to_standard_normal,
    product_of_gaussians,
)

TINY = PearlConfig(
    latent_dim=3, encoder_hidden=(16, 16), hidden=(16, 16), meta_batch=3, batch_size=8,
    embedding_batch_size=6, num_initial_steps=20, num_tasks_sample=2, num_steps_prior=20,
    num_extra_rl_steps_posterior=20, num_train_steps_per_itr=2, replay_buffer_size=5000,
)


def make_pearl(config: PearlConfig = TINY, suite_name: str = "point-goal", seed: int = 0) -> Pearl:
    suite = get_suite(suite_name)
    method = Pearl(config)
    method.setup(suite, suite.train_tasks(seed, 4), RunContext(seed=seed, budget=10_000))
    return method


# ------------------------------------------------------------------------------- product of Gaussians


def test_product_of_gaussians_matches_closed_form() -> None:
    gen = torch.Generator().manual_seed(0)
    mean = torch.randn(4, 7, 3, generator=gen)
    var = torch.rand(4, 7, 3, generator=gen) + 0.1
    q = product_of_gaussians(mean, var)
    # Closed form, one dimension at a time, in float64 with explicit loops.
    for b in range(4):
        for d in range(3):
            prec = sum(1.0 / float(var[b, n, d]) for n in range(7))
            mu = sum(float(mean[b, n, d]) / float(var[b, n, d]) for n in range(7)) / prec
            assert math.isclose(float(q.var[b, d]), 1.0 / prec, rel_tol=1e-5)
            assert math.isclose(float(q.mean[b, d]), mu, rel_tol=1e-4, abs_tol=1e-6)
    # Two equal factors halve the variance and keep the mean.
    two = product_of_gaussians(torch.ones(1, 2, 1), torch.full((1, 2, 1), 0.5))
    assert torch.allclose(two.var, torch.tensor([[0.25]])) and torch.allclose(two.mean, torch.ones(1, 1))


def test_product_of_gaussians_is_order_invariant_and_masks() -> None:
    gen = torch.Generator().manual_seed(1)
    mean, var = torch.randn(2, 9, 4, generator=gen), torch.rand(2, 9, 4, generator=gen) + 0.05
    perm = torch.randperm(9, generator=gen)
    q, qp = product_of_gaussians(mean, var), product_of_gaussians(mean[:, perm], var[:, perm])
    torch.testing.assert_close(q.mean, qp.mean)
    torch.testing.assert_close(q.var, qp.var)
    # A mask drops factors exactly; an empty context gives the prior N(0, I).
    mask = torch.zeros(2, 9)
    mask[0, :5] = 1.0
    qm = product_of_gaussians(mean, var, mask)
    q5 = product_of_gaussians(mean[:1, :5], var[:1, :5])
    torch.testing.assert_close(qm.mean[:1], q5.mean)
    torch.testing.assert_close(qm.var[:1], q5.var)
    assert torch.equal(qm.mean[1], torch.zeros(4)) and torch.equal(qm.var[1], torch.ones(4))


def test_variance_is_clamped() -> None:
    q = product_of_gaussians(torch.tensor([[[2.0], [5.0]]]), torch.tensor([[[0.0], [1.0]]]))
    assert torch.isfinite(q.var).all() and math.isclose(float(q.var), 1.0 / (1.0 / MIN_VARIANCE + 1.0),
                                                        rel_tol=1e-5)


def test_kl_to_standard_normal_matches_torch() -> None:
    gen = torch.Generator().manual_seed(2)
    q = Gaussian(torch.randn(5, 3, generator=gen), torch.rand(5, 3, generator=gen) + 0.1)
    ref = torch.distributions.kl_divergence(torch.distributions.Normal(q.mean, q.var.sqrt()),
                                            torch.distributions.Normal(0.0, 1.0)).sum(-1)
    torch.testing.assert_close(kl_to_standard_normal(q), ref)
    prior = Gaussian(torch.zeros(2, 3), torch.ones(2, 3))
    assert torch.allclose(kl_to_standard_normal(prior), torch.zeros(2))


# ------------------------------------------------------------------------------------------ encoder


def test_encoder_shapes_and_permutation_invariance() -> None:
    torch.manual_seed(0)
    enc = ContextEncoder(input_dim=6, latent_dim=5, hidden=(200, 200, 200))
    assert [m.out_features for m in enc.net if isinstance(m, torch.nn.Linear)] == [200, 200, 200, 10]
    feats = torch.randn(4, 11, 6)
    q = enc(feats)
    assert q.mean.shape == (4, 5) and q.var.shape == (4, 5) and (q.var > 0).all()
    qp = enc(feats[:, torch.randperm(11)])
    torch.testing.assert_close(q.mean, qp.mean, atol=1e-5, rtol=1e-4)
    assert enc.sample(q).shape == (4, 5)
    det = ContextEncoder(6, 5, (8,), information_bottleneck=False)
    qd = det(feats)
    torch.testing.assert_close(qd.mean, det.net(feats).mean(1))
    assert torch.equal(det.sample(qd), qd.mean)


def test_context_features_layout() -> None:
    obs, act = torch.ones(2, 3), torch.full((2, 2), 2.0)
    rew, nxt = torch.full((2,), 3.0), torch.full((2, 3), 4.0)
    assert context_features(obs, act, rew, None)[0].tolist() == [1, 1, 1, 2, 2, 3]
    assert context_features(obs, act, rew, nxt)[0].tolist() == [1, 1, 1, 2, 2, 3, 4, 4, 4]


# -------------------------------------------------------------------------------------- gradient flow


def _fill(method: Pearl, seed: int = 0) -> None:
    """Random transitions in every task's RL and encoder buffers."""
    rng = np.random.default_rng(seed)
    for tid in range(method.num_tasks):
        k = 30
        args = (rng.normal(size=(k, 2)), rng.uniform(-1, 1, (k, 2)), rng.normal(size=k),
                rng.normal(size=(k, 2)), np.zeros(k, bool), np.arange(k) % 10 == 0)
        method.rl_replay.buffer(tid).add_transitions(*args)
        method.enc_replay.buffer(tid).add_transitions(*args)


def test_critic_loss_reaches_encoder_and_actor_loss_does_not() -> None:
    torch.manual_seed(0)
    no_kl = make_pearl(dataclasses.replace(TINY, kl_lambda=0.0))
    _fill(no_kl)
    enc_before = [p.detach().clone() for p in no_kl.encoder.parameters()]
    actor_before = [p.detach().clone() for p in no_kl.sac.actor.parameters()]
    no_kl.update(np.array([0, 1, 2]))
    assert any(not torch.equal(a, p) for a, p in zip(enc_before, no_kl.encoder.parameters(), strict=True))
    assert any(not torch.equal(a, p) for a, p in zip(actor_before, no_kl.sac.actor.parameters(), strict=True))

    # The actor loss alone puts no gradient on the encoder; the critic loss does.
    method = make_pearl()
    _fill(method)
    tids = [0, 1, 2]
    ctx = method.enc_replay.sample(tids, 6)
    q = method.encoder(method._features(ctx))
    z = method.encoder.sample(q)
    batch = method.rl_replay.sample(tids, 8)
    z_rl = z.unsqueeze(1).expand(-1, 8, -1)
    method.encoder.zero_grad(set_to_none=True)
    a_loss, _ = method.sac.actor_loss(torch.cat([batch.obs, z_rl.detach()], -1))
    a_loss.backward()
    assert all(p.grad is None for p in method.encoder.parameters())
    c_loss, _ = method.sac.critic_loss(torch.cat([batch.obs, z_rl], -1), batch.action, batch.reward,
                                       torch.cat([batch.next_obs, z_rl.detach()], -1), batch.terminated)
    c_loss.backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in method.encoder.parameters())


def test_update_trains_encoder_through_critic_only() -> None:
    """With kl_lambda = 0 and a frozen critic optimizer, the encoder does not move; with it, it does."""
    torch.manual_seed(0)
    method = make_pearl(dataclasses.replace(TINY, kl_lambda=0.0))
    _fill(method)
    for group in method.sac.critic_opt.param_groups:
        group["lr"] = 0.0
    # The encoder still gets the Bellman gradient (its own optimizer steps), critics do not move.
    critic_before = [p.detach().clone() for p in method.sac.critic.parameters()]
    enc_before = [p.detach().clone() for p in method.encoder.parameters()]
    method.update(np.array([0, 1]))
    assert all(torch.equal(a, p) for a, p in zip(critic_before, method.sac.critic.parameters(), strict=True))
    assert any(not torch.equal(a, p) for a, p in zip(enc_before, method.encoder.parameters(), strict=True))


def _params(module: torch.nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in module.parameters()]


def _changed(before: list[torch.Tensor], module: torch.nn.Module) -> bool:
    return any(not torch.equal(a, p) for a, p in zip(before, module.parameters(), strict=True))


def test_v_net_variant_trains_value_critics_and_encoder() -> None:
    torch.manual_seed(0)
    cfg = dataclasses.replace(TINY, sac_variant="v_net", kl_lambda=0.0)
    method = make_pearl(cfg)
    assert method.value is not None
    _fill(method)
    enc, v, v_target = _params(method.encoder), _params(method.value.net), _params(method.value.target)
    critic_target = _params(method.sac.critic_target)
    stats = method.update(np.array([0, 1, 2]))
    assert "v_loss" in stats
    assert _changed(enc, method.encoder) and _changed(v, method.value.net)
    assert _changed(v_target, method.value.target)
    assert not _changed(critic_target, method.sac.critic_target)  # the twin-Q targets are unused
    other = make_pearl(cfg, seed=0)
    other.load_state_dict(method.state_dict())
    assert other.value is not None and not _changed(_params(method.value.net), other.value.net)


# ----------------------------------------------------------------------------------- evaluation agent


class _FakeEncoder(ContextEncoder):
    """Encoder whose factor mean is the transition's reward in every dimension, variance 1."""

    def factors(self, features: torch.Tensor) -> Gaussian:
        r = features[..., -1:].expand(*features.shape[:-1], self.latent_dim)
        return Gaussian(r, torch.ones_like(r))


def _step(n: int, reward: float, active: np.ndarray | None = None, terminated: bool = False) -> StepBatch:
    act = np.ones(n, bool) if active is None else active
    zeros = np.zeros((n, 2), np.float32)
    return StepBatch(zeros, zeros, np.full(n, reward, np.float32), zeros, np.full(n, terminated),
                     np.zeros(n, bool), act)


def test_eval_agent_prior_then_posterior_of_its_own_context() -> None:
    method = make_pearl(dataclasses.replace(TINY, num_exp_traj_eval=2))
    method.encoder = _FakeEncoder(method.encoder.input_dim, TINY.latent_dim, (4,))
    agent = method.agent(2)
    agent.reset(task_boundary=True)
    prior_mean, prior_var = agent.belief_dist
    assert torch.equal(prior_mean, torch.zeros(2, 3)) and torch.equal(prior_var, torch.ones(2, 3))
    rewards = {0: [1.0, 2.0], 1: [3.0, 5.0, 7.0]}
    for ep in range(3):
        if ep > 0:
            agent.reset(task_boundary=False)
        if ep < 2:  # exploration episodes act on the prior (a fresh sample each episode)
            assert torch.equal(agent.belief_dist.mean, torch.zeros(2, 3)) and not agent.posterior_active
        for r in rewards.get(ep, [0.0]):
            agent.act(np.zeros((2, 2), np.float32), deterministic=True)
            # env 1 ended its episode early: inactive rows must not enter the context
            agent.observe(_step(2, r, np.array([True, r != 7.0])))
    # Episode 2 acts on the posterior of everything observed in episodes 0 and 1 (not replay data).
    assert agent.posterior_active
    seen = {0: [1.0, 2.0, 3.0, 5.0, 7.0], 1: [1.0, 2.0, 3.0, 5.0]}
    for env, rs in seen.items():
        torch.testing.assert_close(agent.belief_dist.mean[env], torch.full((3,), float(np.mean(rs))))
        torch.testing.assert_close(agent.belief_dist.var[env], torch.full((3,), 1.0 / len(rs)))
    # A new task forgets the trial's context.
    agent.reset(task_boundary=True)
    assert not agent.posterior_active and agent.context()[0].shape[1] == 0


def test_eval_agent_keeps_terminal_transition_in_context() -> None:
    method = make_pearl(dataclasses.replace(TINY, num_exp_traj_eval=1))
    method.encoder = _FakeEncoder(method.encoder.input_dim, TINY.latent_dim, (4,))
    agent = method.agent(1)
    agent.reset(task_boundary=True)
    agent.observe(_step(1, 1.0))
    agent.observe(_step(1, 9.0, terminated=True))  # the terminal transition (oyster 062870e dropped it)
    agent.reset(task_boundary=False)
    feats, mask = agent.context()
    assert feats.shape[1] == 2 and feats[0, -1, -1] == 9.0 and mask.sum() == 2
    torch.testing.assert_close(agent.belief_dist.mean, torch.full((1, 3), 5.0))


def test_eval_agent_is_independent_of_training_rng() -> None:
    method = make_pearl()
    z1 = method.agent(3).z.clone()
    torch.randn(10)  # the global stream moves; the agent's draws do not
    assert torch.equal(method.agent(3).z, z1)


# ------------------------------------------------------------------------------ collection schedule


class _Early(gym.Wrapper):
    """Terminates every episode (true termination) after 7 steps."""

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        self.t = 0

    def reset(self, **kwargs: Any) -> Any:
        self.t = 0
        return self.env.reset(**kwargs)

    def step(self, action: Any) -> Any:
        obs, reward, _, truncated, info = self.env.step(action)
        self.t += 1
        return obs, reward, self.t >= 7, truncated, info


class _SpyCollector(Collector):
    """Records (number of envs, episodes, whether z came from a posterior) of every collect call."""

    calls: list[tuple[int, int, bool]]

    def collect(self, agent: Any, task_ids: Any, episodes: int = 1, deterministic: bool = False) -> Rollout:
        self.calls.append((len(task_ids), episodes, agent.posterior_active))
        return super().collect(agent, task_ids, episodes, deterministic)


def test_collection_schedule_and_terminal_transitions_in_buffers() -> None:
    base = get_suite("point-goal")
    suite = dataclasses.replace(base)
    object.__setattr__(suite, "make_env", lambda task, seed: _Early(base.make_env(task, seed)))
    tasks = suite.train_tasks(0, 4)
    method = Pearl(TINY)
    method.setup(suite, tasks, RunContext(seed=0, budget=10_000))
    collector = _SpyCollector(suite, tasks, 0, 10_000)
    collector.calls = []
    steps = method._collect(collector)
    calls = collector.calls
    # 7-step episodes: 3 episodes reach 20 steps per task in every phase (oyster: whole trajectories).
    assert calls[:3] == [(4, 1, False)] * 3  # initial: all 4 tasks, prior
    assert calls[3:6] == [(2, 1, False)] * 3  # prior phase on the 2 drawn tasks
    assert calls[6:] == [(2, 1, False), (2, 1, True), (2, 1, True)]  # extra phase: prior, then posterior
    assert steps == collector.steps_used == (4 + 2 + 2) * 21
    # Terminal transitions are stored: 3 per task and phase, in the RL buffer and the encoder buffer.
    def terminals(buf: ReplayBuffer) -> float:
        return float(buf.gather(np.arange(len(buf))).terminated.sum())

    assert sum(terminals(method.rl_replay.buffer(t)) for t in method.rl_replay.task_ids()) == (4 + 2 + 2) * 3
    for t in method.enc_replay.task_ids():  # initial data, or the prior data of this iteration's draws
        assert terminals(method.enc_replay.buffer(t)) == method.enc_replay.size(t) // 7 > 0


# ------------------------------------------------------------------------------------ training state


def test_state_dict_round_trip_and_determinism() -> None:
    suite = get_suite("point-goal")
    tasks, test = suite.train_tasks(0, 4), suite.test_tasks(0, 2)

    def run(budget: int) -> Pearl:
        m = Pearl(TINY)
        fit(m, suite, tasks, RunContext(seed=3, budget=budget))
        return m

    a, b = run(200), run(200)
    for (k, p), q in zip(a.sac.actor.state_dict().items(), b.sac.actor.state_dict().values(), strict=True):
        assert torch.equal(p, q), k
    state = a.state_dict()
    c = Pearl(TINY)
    c.setup(suite, tasks, RunContext(seed=3, budget=200))  # fresh weights, same run seed
    c.load_state_dict(state)
    ra = evaluate(a, suite, test, seed=0, episodes=3)
    rc = evaluate(c, suite, test, seed=0, episodes=3)
    np.testing.assert_array_equal(ra.returns, rc.returns)
    assert c.iteration == a.iteration and c.rl_replay.size(0) == a.rl_replay.size(0)
    assert c.z_gen.get_state().equal(a.z_gen.get_state())


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_state_reloads_on_cuda(tmp_path: Any) -> None:
    """A checkpoint loaded with ``map_location="cuda"`` (what a resumed CUDA run does) restores the
    generator of z, whose state must be a CPU byte tensor."""
    suite = get_suite("point-goal")
    tasks = suite.train_tasks(0, 4)
    ctx = RunContext(seed=3, device=torch.device("cuda"), budget=200)
    a = Pearl(TINY)
    fit(a, suite, tasks, ctx)
    torch.save(a.state_dict(), tmp_path / "state.pt")
    c = Pearl(TINY)
    c.setup(suite, tasks, ctx)
    c.load_state_dict(torch.load(tmp_path / "state.pt", map_location="cuda", weights_only=False))
    assert c.z_gen.get_state().equal(a.z_gen.get_state())


def test_published_budget_and_configs() -> None:
    assert Pearl.published_budget(get_suite("cheetah-vel")) == 2_700_000
    assert Pearl.published_budget(get_suite("point-goal")) is None
    assert method_config(Pearl, get_suite("ant-goal"), "paper").kl_lambda == 1.0
    assert method_config(Pearl, get_suite("walker-rand-params"), "paper").use_next_obs_in_context
    assert method_config(Pearl, get_suite("cheetah-vel"), "paper") == PearlConfig()
    with pytest.raises(ValueError):
        PearlConfig(num_exp_traj_eval=-1)


def _pearl_updates(device: str, graph: bool, steps: int, variant: str = "twin_q"
                   ) -> tuple[Pearl, list[dict[str, float]]]:
    """PEARL after collecting (no gradient step) on point-goal, then ``steps`` updates on fixed tasks."""
    torch.manual_seed(0)  # the z draws of the updates come from the default (CUDA) generator
    suite = get_suite("point-goal")
    cfg = dataclasses.replace(TINY, num_train_steps_per_itr=0, cuda_graph=graph, sac_variant=variant)
    m = Pearl(cfg)
    fit(m, suite, suite.train_tasks(0, 4), RunContext(seed=3, device=torch.device(device), budget=200))
    torch.manual_seed(1)
    stats = [{k: float(v) for k, v in m.update(np.array([0, 1, 3])).items()} for _ in range(steps)]
    return m, stats


def test_cuda_graph_of_the_step_is_ignored_on_cpu() -> None:
    a, stats_a = _pearl_updates("cpu", True, 4)
    _, stats_b = _pearl_updates("cpu", False, 4)
    assert a._graphed is None and stats_a == stats_b


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("variant", ["twin_q", "v_net"])
def test_graphed_step_matches_eager_on_cuda(variant: str) -> None:
    """Warm-up, capture and replays of PEARL's step (encoder, critics, actor, V, targets) give the eager
    step's stats and parameters; after a reload the step captures anew."""
    from methods.common.sac_graph import WARMUP

    steps = WARMUP + 6
    a, stats_a = _pearl_updates("cuda", True, steps, variant)
    b, stats_b = _pearl_updates("cuda", False, steps, variant)
    assert a._graphed is not None and a._graphed.graph is not None and b._graphed is None
    assert a.sac.num_updates == b.sac.num_updates == steps
    print("pearl graph vs eager, last stats", stats_a[-1], stats_b[-1])
    for sa, sb in zip(stats_a, stats_b, strict=True):
        assert sa == pytest.approx(sb, rel=1e-3, abs=1e-4)
    mods = [(a.encoder, b.encoder), (a.sac.critic, b.sac.critic), (a.sac.actor, b.sac.actor)]
    if variant == "v_net":
        assert a.value is not None and b.value is not None
        mods.append((a.value, b.value))
    for mod_a, mod_b in mods:
        for p, q in zip(mod_a.parameters(), mod_b.parameters(), strict=True):
            assert float((p - q).detach().abs().max()) < 1e-4
    a.load_state_dict(a.state_dict())
    assert a._graphed is not None and a._graphed.graph is None
    assert all(math.isfinite(float(v)) for v in a.update(np.array([0, 1, 3])).values())
