"""VariBAD (Zintgraf et al. 2020): a Bayes-adaptive policy on the state and the VAE's task belief.

* The encoder (:mod:`methods.varibad.vae`) updates the belief ``q(m | tau_{:t})`` after every transition;
  it is carried across the episodes of a trial (a BAMDP of ``trial_episodes`` episodes) and reset at the
  next task.
* The policy sees the state (plus a flag marking the first step of a new episode inside the trial, varibad's
  ``done_mdp`` input), and the belief ``[mean, logvar]``, both normalized by running statistics and embedded
  (tanh); the belief is detached: no RL gradient reaches the encoder.
* Each ``train_step`` collects one trial per sampled task, stores the trials in the VAE buffer, runs PPO
  (step minibatches, GAE over each trial) and then ``num_vae_updates`` ELBO steps on trials from the buffer.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

from harness.agent import Agent, StepBatch
from harness.registry import register_method
from methods.common.running_stats import RunningMeanStd
from methods.common.trial_ppo import ActorCriticHeads, TrialPPOMethod, sample_action
from methods.common.trials import ActionRecorder, TrialBatch
from methods.varibad.config import VaribadConfig
from methods.varibad.vae import Encoder, RewardDecoder, StateDecoder, TrajectoryBuffer, elbo_loss

if TYPE_CHECKING:
    from harness.context import RunContext
    from harness.suite import Suite

HPARAMS = Path(__file__).with_name("hparams.yaml")
#: ``num_frames`` = 1e8 in every varibad MuJoCo config (``config/mujoco/args_*_varibad.py``).
VARIBAD_FRAMES = 100_000_000
VARIBAD_SUITES = ("cheetah-vel", "cheetah-dir", "ant-dir", "ant-goal", "humanoid-dir", "walker-rand-params")


class BeliefPolicy(nn.Module):
    """Actor-critic on ``[state, done flag]`` and the belief ``[mean, logvar]``, each embedded with tanh."""

    def __init__(self, state_dim: int, belief_dim: int, act_dim: int, cfg: VaribadConfig) -> None:
        super().__init__()

        def embed(in_dim: int, width: int) -> tuple[nn.Module, int]:
            if width <= 0:
                return nn.Identity(), in_dim
            return nn.Sequential(nn.Linear(in_dim, width), nn.Tanh()), width

        self.state_embed, s_dim = embed(state_dim, cfg.policy_state_embed)
        self.belief_embed, b_dim = embed(belief_dim, cfg.policy_latent_embed)
        self.heads = ActorCriticHeads(s_dim + b_dim, act_dim, cfg.policy_layers, cfg.init_std)

    def forward(
        self, state: torch.Tensor, belief: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``state [..., state_dim]``, ``belief [..., belief_dim]`` -> ``(mean, log_std, value)``."""
        return self.heads(torch.cat([self.state_embed(state), self.belief_embed(belief)], dim=-1))


class VaribadAgent(Agent):
    """Belief-conditioned policy in ``N`` envs; the encoder's hidden state is kept across the episodes of
    a trial and reset to the prior at a task boundary."""

    def __init__(self, method: Varibad, num_envs: int, recorder: ActionRecorder | None = None) -> None:
        self.method, self.recorder = method, recorder
        self.device = method.device
        self.hidden, self.mean, self.logvar = method.encoder.prior(num_envs, self.device)
        self.prev_done = torch.zeros(num_envs, device=self.device)

    @torch.no_grad()
    def reset(self, task_boundary: bool) -> None:
        if task_boundary:
            self.hidden, self.mean, self.logvar = self.method.encoder.prior(len(self.prev_done), self.device)
            self.prev_done.zero_()
        else:
            self.prev_done.fill_(1.0)
        if self.recorder is not None:
            self.recorder.reset(task_boundary)

    @torch.no_grad()
    def act(self, obs: np.ndarray, deterministic: bool) -> np.ndarray:
        x = torch.as_tensor(obs, dtype=torch.float32, device=self.device)
        belief = torch.cat([self.mean, self.logvar], dim=-1)
        mean, log_std, _ = self.method.policy_forward(x, self.prev_done, belief)
        action = sample_action(mean, log_std, deterministic).cpu().numpy()
        if self.recorder is not None:
            self.recorder.record(action)
        return action

    @torch.no_grad()
    def observe(self, step: StepBatch) -> None:
        def t(x: np.ndarray) -> torch.Tensor:
            return torch.as_tensor(x, dtype=torch.float32, device=self.device)

        encoder = self.method.encoder
        h, mean, logvar = encoder.step(self.hidden, t(step.action), t(step.reward), t(step.next_obs))
        active = torch.as_tensor(step.active, device=self.device)[:, None]
        self.hidden = torch.where(active, h, self.hidden)
        self.mean = torch.where(active, mean, self.mean)
        self.logvar = torch.where(active, logvar, self.logvar)
        self.prev_done = torch.where(active[:, 0], t(step.done), self.prev_done)

    def belief(self) -> dict[str, np.ndarray]:
        """Posterior ``mean`` and ``var`` ``[N, latent_dim]``."""
        return {"mean": self.mean.cpu().numpy(), "var": self.logvar.exp().cpu().numpy()}


@register_method("varibad")
class Varibad(TrialPPOMethod):
    """VariBAD with the harness's shared PPO; see the module docstring."""

    config_cls = VaribadConfig
    hparams_file = HPARAMS
    eval_episodes = 2  # varibad utils/evaluation.py: max_rollouts_per_task = 2 consecutive episodes
    recurrent_policy = False

    def __init__(self, config: VaribadConfig | None = None) -> None:
        super().__init__(config or VaribadConfig())

    @classmethod
    def published_budget(cls, suite: Suite) -> int | None:
        """1e8 env steps (varibad ``num_frames``) on the six MuJoCo suites of the paper, else None."""
        return VARIBAD_FRAMES if suite.name in VARIBAD_SUITES else None

    @classmethod
    def search_space(cls, trial: Any) -> dict[str, Any]:
        """The shared PPO space plus the VAE's KL weight and learning rate."""
        return {
            **super().search_space(trial),
            "kl_weight": trial.suggest_float("kl_weight", 0.01, 1.0, log=True),
            "lr_vae": trial.suggest_float("lr_vae", 1e-4, 3e-3, log=True),
        }

    # ------------------------------------------------------------------------------------------ build

    def _build(self, suite: Suite, ctx: RunContext) -> list[nn.Parameter]:
        cfg: VaribadConfig = self.config
        if not (cfg.decode_reward or cfg.decode_state):
            raise ValueError("varibad needs decode_reward or decode_state")
        dev = ctx.device
        self.encoder = Encoder(self.obs_dim, self.act_dim, cfg).to(dev)
        obs, act = self.obs_dim, self.act_dim
        self.reward_decoder = RewardDecoder(obs, act, cfg).to(dev) if cfg.decode_reward else None
        self.state_decoder = StateDecoder(obs, act, cfg).to(dev) if cfg.decode_state else None
        vae_params = [p for m in (self.encoder, self.reward_decoder, self.state_decoder) if m is not None
                      for p in m.parameters()]
        self.vae_params = vae_params
        self.vae_optimizer = torch.optim.Adam(vae_params, lr=cfg.lr_vae)
        self.vae_buffer = TrajectoryBuffer(cfg.vae_buffer_size)
        self.vae_rng = ctx.rng("varibad", "vae")
        cap = ctx.budget // 4 if ctx.budget > 0 else cfg.precollect_steps
        self.precollect = min(cfg.precollect_steps, cap)
        self.state_rms = RunningMeanStd((self.obs_dim,))
        self.belief_rms = RunningMeanStd((2 * cfg.latent_dim,))
        self.policy = BeliefPolicy(self.obs_dim + 1, 2 * cfg.latent_dim, self.act_dim, cfg).to(dev)
        return list(self.policy.parameters())

    def policy_forward(
        self, obs: torch.Tensor, prev_done: torch.Tensor, belief: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Policy on raw ``obs [..., obs_dim]``, ``prev_done [...]`` and ``belief [..., 2 d]`` (normalized
        here with the running statistics)."""
        cfg: VaribadConfig = self.config
        state = self.state_rms.normalize(obs) if cfg.norm_state else obs
        flag = prev_done if cfg.trial_episodes > 1 else torch.zeros_like(prev_done)
        belief = self.belief_rms.normalize(belief) if cfg.norm_belief else belief
        return self.policy(torch.cat([state, flag.unsqueeze(-1)], dim=-1), belief.detach())

    def _policy_outputs(self, batch: TrialBatch) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        assert batch.context is not None, "beliefs are computed in _prepare"
        return self.policy_forward(batch.obs, batch.prev_done, batch.context)

    def _make_agent(self, num_envs: int, recorder: ActionRecorder | None) -> Agent:
        return VaribadAgent(self, num_envs, recorder)

    # ------------------------------------------------------------------------------------- training

    def _prepare(self, batch: TrialBatch) -> dict[str, float]:
        """Store the trials for the VAE and attach the beliefs the agent acted on (``[N, L + 1, 2 d]``)."""
        self.vae_buffer.add(batch)
        with torch.no_grad():
            mean, logvar = self.encoder.sequence(batch.action, batch.reward, batch.next_obs)
        batch.context = torch.cat([mean, logvar], dim=-1)
        return {"vae_buffer_trajs": float(len(self.vae_buffer))}

    def _after_update(self, batch: TrialBatch) -> dict[str, float]:
        cfg: VaribadConfig = self.config
        stats: dict[str, float] = {}
        if self.vae_buffer.num_steps >= self.precollect:
            stats = self.vae_update(cfg.num_vae_updates)
        assert batch.context is not None
        length = batch.mask.shape[1]
        self.state_rms.update(batch.obs[:, :length][batch.mask].cpu().numpy())
        self.belief_rms.update(batch.context[:, :length][batch.mask].cpu().numpy())
        return stats

    def vae_update(self, steps: int) -> dict[str, float]:
        """``steps`` ELBO gradient steps on trials from the buffer; returns the mean loss terms."""
        cfg: VaribadConfig = self.config
        sums: dict[str, float] = {}
        for _ in range(steps):
            data = self.vae_buffer.sample(cfg.vae_batch_num_trajs, self.vae_rng, self.device)
            terms = elbo_loss(self.encoder, self.reward_decoder, self.state_decoder, data, cfg, self.vae_rng)
            self.vae_optimizer.zero_grad(set_to_none=True)
            terms["loss"].backward()
            if cfg.vae_max_grad_norm is not None:
                nn.utils.clip_grad_norm_(self.vae_params, cfg.vae_max_grad_norm)
            self.vae_optimizer.step()
            for key, value in terms.items():
                sums[f"vae_{key}"] = sums.get(f"vae_{key}", 0.0) + float(value.detach()) / steps
        return sums

    # ----------------------------------------------------------------------------------------- state

    def _extra_state(self) -> dict[str, Any]:
        return {
            "encoder": self.encoder.state_dict(),
            "reward_decoder": None if self.reward_decoder is None else self.reward_decoder.state_dict(),
            "state_decoder": None if self.state_decoder is None else self.state_decoder.state_dict(),
            "policy": self.policy.state_dict(),
            "vae_optimizer": self.vae_optimizer.state_dict(),
            "vae_buffer": self.vae_buffer.state_dict(),
            "vae_rng": self.vae_rng.bit_generator.state,
            "state_rms": self.state_rms.state_dict(),
            "belief_rms": self.belief_rms.state_dict(),
        }

    def _load_extra_state(self, state: dict[str, Any]) -> None:
        self.encoder.load_state_dict(state["encoder"])
        if self.reward_decoder is not None:
            self.reward_decoder.load_state_dict(state["reward_decoder"])
        if self.state_decoder is not None:
            self.state_decoder.load_state_dict(state["state_decoder"])
        self.policy.load_state_dict(state["policy"])
        self.vae_optimizer.load_state_dict(state["vae_optimizer"])
        self.vae_buffer.load_state_dict(state["vae_buffer"])
        self.vae_rng.bit_generator.state = state["vae_rng"]
        self.state_rms.load_state_dict(state["state_rms"])
        self.belief_rms.load_state_dict(state["belief_rms"])
