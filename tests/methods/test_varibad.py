"""VariBAD unit tests: KL to the previous posterior, ELBO reductions, belief across episodes and trials,
online belief == sequence recompute, resuming."""

from __future__ import annotations

import numpy as np
import torch
from torch.distributions import Normal, kl_divergence

from harness.agent import StepBatch
from harness.collector import Collector
from harness.context import RunContext
from harness.registry import get_suite
from methods.common.trials import ActionRecorder, TrialBatch
from methods.varibad import Varibad, VaribadConfig
from methods.varibad.method import VaribadAgent
from methods.varibad.vae import consecutive_kl, elbo_loss, gaussian_kl, subsample
from tests.helpers import second_train_step

SMALL = VaribadConfig(num_processes=2, policy_num_steps=1, gru_hidden=16, policy_layers=(16,),
                      vae_subsample_elbos=None, vae_subsample_decodes=None, vae_batch_num_trajs=2,
                      precollect_steps=0)


def _method(seed: int = 0, cfg: VaribadConfig = SMALL) -> Varibad:
    torch.manual_seed(seed)
    suite = get_suite("point-goal")
    method = Varibad(cfg)
    method.setup(suite, suite.train_tasks(seed, 4), RunContext(seed=seed, budget=10_000))
    return method


def _normal(mean: torch.Tensor, logvar: torch.Tensor) -> Normal:
    return Normal(mean, (0.5 * logvar).exp())


def test_kl_is_to_the_previous_posterior() -> None:
    mean = torch.tensor([[[0.5, -1.0], [1.0, 0.0], [1.2, 0.3]]])  # [B=1, T=3, d=2]
    logvar = torch.tensor([[[0.0, -1.0], [-0.5, -2.0], [-1.0, -2.5]]])
    kl = consecutive_kl(mean, logvar)
    prior = Normal(torch.zeros(2), torch.ones(2))
    expected = [kl_divergence(_normal(mean[0, 0], logvar[0, 0]), prior).sum()]
    for t in (1, 2):
        expected.append(kl_divergence(_normal(mean[0, t], logvar[0, t]),
                                      _normal(mean[0, t - 1], logvar[0, t - 1])).sum())
    torch.testing.assert_close(kl[0], torch.stack(expected))
    # the fixed-prior KL differs from the recurrent one (the test would catch a KL to N(0, I) everywhere)
    to_prior = gaussian_kl(mean, logvar, torch.zeros_like(mean), torch.zeros_like(logvar))
    assert not torch.allclose(kl[0, 1:], to_prior[0, 1:])


def test_elbo_kl_term_sums_consecutive_kls_over_valid_steps() -> None:
    method = _method()
    suite = get_suite("point-goal")
    collector = Collector(suite, suite.train_tasks(0, 4), 0, 1000)
    ro = collector.collect(method.agent(2), [0, 1], episodes=2)
    batch = TrialBatch.from_rollout(ro, None, method.device)
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    terms = elbo_loss(method.encoder, method.reward_decoder, None, batch, method.config, rng)
    with torch.no_grad():
        mean, logvar = method.encoder.sequence(batch.action, batch.reward, batch.next_obs)
    expected = consecutive_kl(mean, logvar).sum(1).mean()  # full trials: every ELBO term is valid
    torch.testing.assert_close(terms["kl"].detach(), expected, rtol=1e-4, atol=1e-6)
    total = method.config.rew_loss_coeff * terms["rew_loss"] + method.config.kl_weight * terms["kl"]
    torch.testing.assert_close(terms["loss"], total)
    assert terms["rew_loss"] > 0


def test_subsample_picks_valid_positions_only() -> None:
    valid = torch.tensor([[True, True, False, False], [True, True, True, True]])
    idx, chosen = subsample(valid, 3, np.random.default_rng(0))
    assert idx.shape == (2, 3)
    assert set(idx[0, chosen[0]].tolist()) == {0, 1} and int(chosen[0].sum()) == 2
    assert chosen[1].all() and len(set(idx[1].tolist())) == 3
    full, ok = subsample(valid, None, np.random.default_rng(0))
    assert full.shape == (2, 4) and torch.equal(ok, valid)


def test_belief_kept_across_episodes_and_reset_between_trials() -> None:
    method = _method()
    agent = method.agent(2)
    assert isinstance(agent, VaribadAgent)
    prior_mean = agent.mean.clone()
    obs = np.zeros((2, 2), np.float32)
    agent.reset(task_boundary=True)
    action = agent.act(obs, deterministic=True)
    step = StepBatch(obs, action, np.array([-1.0, -0.5], np.float32), obs + 0.1, np.zeros(2, bool),
                     np.array([True, True]), np.array([True, False]))
    agent.observe(step)
    assert not torch.allclose(agent.mean[0], prior_mean[0]) and torch.equal(agent.mean[1], prior_mean[1])
    after = agent.mean.clone()
    agent.reset(task_boundary=False)
    torch.testing.assert_close(agent.mean, after)
    assert agent.prev_done.tolist() == [1.0, 1.0]
    agent.reset(task_boundary=True)
    torch.testing.assert_close(agent.mean, prior_mean)
    assert set(agent.belief()) == {"mean", "var"}


def test_online_beliefs_and_actions_match_sequence_recompute() -> None:
    method = _method()
    suite = get_suite("point-goal")
    collector = Collector(suite, suite.train_tasks(0, 4), 0, 1000)
    recorder = ActionRecorder(3, 2, suite.horizon)
    agent = VaribadAgent(method, 3, recorder)
    ro = collector.collect(agent, [0, 1, 2], episodes=2, deterministic=True)
    batch = TrialBatch.from_rollout(ro, recorder.actions(ro.active.shape[1]), method.device)
    method._prepare(batch)
    assert batch.context is not None
    last = torch.as_tensor(batch.lengths)
    torch.testing.assert_close(batch.context[torch.arange(3), last, :5], agent.mean, atol=1e-5, rtol=1e-4)
    with torch.no_grad():
        mean, _, _ = method._policy_outputs(batch)
    length = batch.mask.shape[1]
    online = batch.raw_action[batch.mask]
    torch.testing.assert_close(mean[:, :length][batch.mask], online, atol=1e-5, rtol=1e-4)


def test_train_step_vae_update_and_resume() -> None:
    a, b = second_train_step(_method, resume=False), second_train_step(_method, resume=True)
    assert a == b
    assert {"vae_loss", "vae_kl", "vae_rew_loss", "ppo_loss"} <= set(a)
    assert Varibad.published_budget(get_suite("walker-rand-params")) == 100_000_000
    assert Varibad.published_budget(get_suite("point-goal")) is None and Varibad.eval_episodes == 2
