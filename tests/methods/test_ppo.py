"""Unit tests of the shared PPO (``methods.common.ppo``), reward scaling and trial compaction."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from harness.rollout import Rollout
from methods.common.ppo import PPO, PPOBatch, PPOConfig, gae
from methods.common.running_stats import RunningMeanStd, scale_rewards
from methods.common.trials import ActionRecorder, TrialBatch

# ------------------------------------------------------------------------------------------------- GAE

R = np.array([[1.0, 2.0, 3.0]])
V = np.array([[0.5, 1.0, 1.5]])
NV = np.array([[1.0, 1.5, 2.0]])
G, LAM = 0.9, 0.8


def test_gae_termination_does_not_bootstrap() -> None:
    term = np.array([[False, False, True]])
    adv, ret = gae(R, V, NV, term, term, G, LAM)
    # delta2 = 3 - 1.5; delta1 = 2 + .9 * 1.5 - 1; delta0 = 1 + .9 * 1 - .5; A_t = delta_t + .72 A_{t+1}
    a2 = 1.5
    a1 = 2.35 + 0.72 * a2
    a0 = 1.4 + 0.72 * a1
    np.testing.assert_allclose(adv, [[a0, a1, a2]], rtol=1e-6)
    np.testing.assert_allclose(ret, adv + V, rtol=1e-6)


def test_gae_truncation_bootstraps_from_the_final_state() -> None:
    end = np.array([[False, False, True]])
    adv, _ = gae(R, V, NV, np.zeros_like(end), end, G, LAM)
    a2 = 3.0 + 0.9 * 2.0 - 1.5  # time limit: bootstrap with V(final observation) = 2.0
    a1 = 2.35 + 0.72 * a2
    np.testing.assert_allclose(adv[0, 1:], [a1, a2], rtol=1e-6)


def test_gae_end_cuts_the_recursion() -> None:
    end = np.array([[True, False, True]])  # an episode boundary after step 0 (truncated there)
    term = np.array([[False, False, True]])
    adv, _ = gae(R, V, NV, term, end, G, LAM)
    np.testing.assert_allclose(adv[0, 0], 1.4, rtol=1e-6)  # delta0 only
    np.testing.assert_allclose(adv[0, 1], 2.35 + 0.72 * 1.5, rtol=1e-6)


# ----------------------------------------------------------------------------------------------- PPO


def _batch(adv: float, old_value: float = 0.0, ret: float = 0.0) -> PPOBatch:
    one = torch.ones(1, 1)
    return PPOBatch(old_log_prob=0 * one, old_value=old_value * one, advantage=adv * one, returns=ret * one,
                    mask=one)


@pytest.mark.parametrize(
    ("ratio", "adv", "grad"),
    [
        (1.5, 1.0, 0.0),     # above 1 + clip with a positive advantage: clipped, no gradient
        (1.5, -1.0, 1.5),    # negative advantage: the unclipped (pessimistic) term is active
        (1.1, 1.0, -1.1),    # inside the trust region: d(-ratio * A)/d log_prob = -ratio * A
        (0.5, -1.0, 0.0),    # below 1 - clip with a negative advantage: clipped
    ],
)
def test_clipped_surrogate_gradient(ratio: float, adv: float, grad: float) -> None:
    ppo = PPO([torch.nn.Parameter(torch.zeros(1))], PPOConfig(clip=0.2))
    log_prob = torch.full((1, 1), float(np.log(ratio)), requires_grad=True)
    terms = ppo.losses(log_prob, torch.zeros(1, 1), torch.zeros(1, 1), _batch(adv))
    terms["policy_loss"].backward()
    assert log_prob.grad is not None
    np.testing.assert_allclose(float(log_prob.grad), grad, atol=1e-6)


def test_clipped_value_loss_takes_the_larger_error() -> None:
    cfg = PPOConfig(clip=0.2, value_loss="mse", clip_value_loss=True)
    ppo = PPO([torch.nn.Parameter(torch.zeros(1))], cfg)
    value = torch.full((1, 1), 1.0, requires_grad=True)
    # old value 0, target 1: the clipped prediction 0.2 has the larger error -> constant, no gradient
    terms = ppo.losses(torch.zeros(1, 1), torch.zeros(1, 1), value, _batch(0.0, old_value=0.0, ret=1.0))
    np.testing.assert_allclose(float(terms["value_loss"].detach()), 0.5 * 0.8**2, rtol=1e-6)
    terms["value_loss"].backward()
    assert float(value.grad) == 0.0  # type: ignore[arg-type]
    huber = PPO([torch.nn.Parameter(torch.zeros(1))], PPOConfig(clip=0.2, clip_value_loss=False))
    t = huber.losses(torch.zeros(1, 1), torch.zeros(1, 1), torch.full((1, 1), 3.0), _batch(0.0, ret=0.0))
    np.testing.assert_allclose(float(t["value_loss"]), 2.5, rtol=1e-6)  # smooth_l1(3) = 3 - 0.5


def test_update_moves_a_gaussian_mean_towards_positive_advantages() -> None:
    torch.manual_seed(0)
    mean = torch.nn.Parameter(torch.zeros(1))
    actions = torch.linspace(-1, 1, 64).reshape(64, 1)
    dist0 = torch.distributions.Normal(torch.zeros(1), torch.ones(1))
    old = dist0.log_prob(actions).squeeze(-1).reshape(64, 1)
    adv = actions.clone()  # actions to the right are better
    batch = PPOBatch(old, torch.zeros(64, 1), adv, torch.zeros(64, 1), torch.ones(64, 1))
    cfg = PPOConfig(lr=0.05, epochs=4, num_minibatch=4, entropy_coef=0.0, value_coef=0.0)
    ppo = PPO([mean], cfg)
    assert ppo.optimizer.defaults["eps"] == 1e-8

    def evaluate(idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        dist = torch.distributions.Normal(mean, torch.ones(1))
        lp = dist.log_prob(actions[idx]).reshape(-1, 1)
        return lp, torch.zeros_like(lp), torch.zeros_like(lp)

    stats = ppo.update(evaluate, batch, np.random.default_rng(0))
    assert float(mean) > 0.05
    assert 0.0 <= stats["ppo_clip_fraction"] <= 1.0 and np.isfinite(stats["ppo_grad_norm"])


# ------------------------------------------------------------------------------------- running stats


def test_running_mean_std_matches_numpy() -> None:
    rms = RunningMeanStd((2,), epsilon=0.0)
    data = np.random.default_rng(0).normal(size=(100, 2)) * 3 + 1
    rms.update(data[:30])
    rms.update(data[30:])
    np.testing.assert_allclose(rms.mean, data.mean(0))
    np.testing.assert_allclose(rms.var, data.var(0))


def test_scale_rewards_uses_discounted_return_std() -> None:
    reward = np.array([[1.0, 1.0, 1.0], [2.0, 0.0, 0.0]])
    mask = np.array([[True, True, True], [True, False, False]])
    rms = RunningMeanStd((), epsilon=0.0)
    out = scale_rewards(reward, mask, 0.5, rms)
    returns = np.array([1.0, 1.5, 1.75, 2.0])  # running discounted returns of the valid steps
    np.testing.assert_allclose(rms.var, returns.var())
    np.testing.assert_allclose(out[0], 1.0 / np.sqrt(returns.var() + 1e-8), rtol=1e-5)
    assert out[1, 1] == 0.0 and out[1, 0] == pytest.approx(2.0 / np.sqrt(returns.var() + 1e-8), rel=1e-5)


# ------------------------------------------------------------------------------------------- trials


def _rollout() -> Rollout:
    """2 envs, 2 episodes of horizon 3; env 0 terminates after 1 step in episode 0."""
    n, t = 2, 6
    active = np.array([[1, 0, 0, 1, 1, 1], [1, 1, 1, 1, 1, 0]], bool)
    term = np.zeros((n, t), bool)
    term[0, 0] = True
    trunc = np.zeros((n, t), bool)
    trunc[0, 5] = trunc[1, 2] = True
    obs = np.arange(n * t, dtype=np.float32).reshape(n, t, 1)
    return Rollout(obs=obs, action=obs.copy(), reward=obs[..., 0].copy(), next_obs=obs + 100,
                   terminated=term, truncated=trunc, active=active,
                   episode=np.repeat([[0, 0, 0, 1, 1, 1]], n, 0), success=np.zeros((n, t), bool),
                   task_ids=np.arange(n))


def test_trial_batch_compacts_valid_steps() -> None:
    b = TrialBatch.from_rollout(_rollout(), None, torch.device("cpu"))
    assert b.lengths.tolist() == [4, 5]
    assert b.reward[0].tolist() == [0.0, 3.0, 4.0, 5.0, 0.0]
    assert b.reward[1].tolist() == [6.0, 7.0, 8.0, 9.0, 10.0]
    assert b.obs[0, 4, 0] == 105.0 and b.obs[1, 5, 0] == 110.0  # observation reached by the last step
    assert b.prev_done[0].tolist() == [0, 1, 0, 0, 1, 0]  # new episode after the termination at step 0
    assert b.prev_done[1].tolist() == [0, 0, 0, 1, 0, 0]
    assert b.mask[0].tolist() == [True, True, True, True, False]
    assert b.is_last[0, 3] and b.is_last[1, 4]
    steps = b.steps()
    assert steps.mask.shape == (9, 1) and steps.obs.shape == (9, 2, 1)
    assert steps.obs[3, :, 0].tolist() == [5.0, 105.0]


def test_action_recorder_slots() -> None:
    rec = ActionRecorder(num_envs=1, act_dim=1, horizon=3)
    rec.reset(True)
    rec.record(np.array([[1.0]]))
    rec.reset(False)
    rec.record(np.array([[2.0]]))
    rec.record(np.array([[3.0]]))
    assert rec.actions(6)[0, :, 0].tolist() == [1.0, 0.0, 0.0, 2.0, 3.0, 0.0]
