"""RL2 (Duan et al. 2016): a recurrent policy whose hidden state is the task belief, trained by PPO.

Input at step ``t`` of a trial: the observation ``s_t``, the previous action ``a_{t-1}``, reward
``r_{t-1}`` and episode-end flag ``d_{t-1}`` (zeros at the first step), each embedded (ReLU) as in varibad's
RL2 ablation, then a GRU whose hidden state is kept across the episodes of a trial and reset between
trials. Actor and critic read the GRU output through a ReLU "latent" layer. PPO re-runs the GRU over whole
trials in every epoch (minibatches of trials); GAE runs over the trial as one sequence.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

from harness.agent import Agent, StepBatch
from harness.registry import register_method
from methods.common.recurrent import EmbeddedGRU
from methods.common.trial_ppo import ActorCriticHeads, TrialPPOMethod, sample_action
from methods.common.trials import ActionRecorder, TrialBatch
from methods.rl2.config import RL2Config

if TYPE_CHECKING:
    from harness.context import RunContext
    from harness.suite import Suite

HPARAMS = Path(__file__).with_name("hparams.yaml")
#: varibad RL2: 1e8 frames; metaworld-algorithms rl2_ml1: 2M steps (see published_budget).
VARIBAD_FRAMES = 100_000_000
METAWORLD_ML1_STEPS = 2_000_000
VARIBAD_SUITES = ("cheetah-vel", "cheetah-dir", "ant-dir", "ant-goal", "humanoid-dir", "walker-rand-params")


class RL2Net(nn.Module):
    """GRU over (s_t, a_{t-1}, r_{t-1}, d_{t-1}) -> ReLU latent -> Gaussian actor and critic."""

    def __init__(self, obs_dim: int, act_dim: int, cfg: RL2Config) -> None:
        super().__init__()
        self.rnn = EmbeddedGRU(obs_dim, act_dim, cfg.gru_hidden, cfg.state_embed, cfg.action_embed,
                               cfg.reward_embed, extra_dim=1)
        self.latent = nn.Sequential(nn.Linear(cfg.gru_hidden, 2 * cfg.latent_dim), nn.ReLU())
        self.heads = ActorCriticHeads(2 * cfg.latent_dim, act_dim, cfg.policy_layers, cfg.init_std)
        self.tbptt = cfg.tbptt

    def sequence(self, batch: TrialBatch) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Policy on every slot of ``batch``: ``(mean [N, L+1, act], log_std, value [N, L+1])``."""
        prev_action = torch.cat([torch.zeros_like(batch.action[:, :1]), batch.action], dim=1)
        prev_reward = torch.cat([torch.zeros_like(batch.reward[:, :1]), batch.reward], dim=1)
        out = self.rnn.sequence(batch.obs, prev_action, prev_reward, batch.prev_done.unsqueeze(-1),
                                tbptt=self.tbptt)
        return self.heads(self.latent(out))

    def step(
        self, h: torch.Tensor, obs: torch.Tensor, prev_action: torch.Tensor, prev_reward: torch.Tensor,
        prev_done: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """One step from hidden ``h [N, H]``: ``(next hidden [N, H], mean [N, act], log_std [act])``."""
        h_next = self.rnn.step(h, obs, prev_action, prev_reward, prev_done.unsqueeze(-1))
        mean, log_std, _ = self.heads(self.latent(h_next))
        return h_next, mean, log_std


class RL2Agent(Agent):
    """Acts with :class:`RL2Net` in ``N`` envs; hidden state kept across episodes, reset per trial.

    ``act`` feeds ``(s_t, a_{t-1}, r_{t-1}, d_{t-1})`` to the GRU; ``observe`` commits the new hidden state
    and the step's action, reward and done flag for the active rows only.
    """

    def __init__(self, net: RL2Net, num_envs: int, act_dim: int, device: torch.device,
                 recorder: ActionRecorder | None = None) -> None:
        self.net, self.device, self.recorder = net, device, recorder
        self.hidden = torch.zeros(num_envs, net.rnn.hidden, device=device)
        self.prev_action = torch.zeros(num_envs, act_dim, device=device)
        self.prev_reward = torch.zeros(num_envs, device=device)
        self.prev_done = torch.zeros(num_envs, device=device)
        self._pending = self.hidden

    def reset(self, task_boundary: bool) -> None:
        if task_boundary:
            for x in (self.hidden, self.prev_action, self.prev_reward, self.prev_done):
                x.zero_()
        else:
            self.prev_done.fill_(1.0)
        if self.recorder is not None:
            self.recorder.reset(task_boundary)

    @torch.no_grad()
    def act(self, obs: np.ndarray, deterministic: bool) -> np.ndarray:
        x = torch.as_tensor(obs, dtype=torch.float32, device=self.device)
        self._pending, mean, log_std = self.net.step(self.hidden, x, self.prev_action, self.prev_reward,
                                                     self.prev_done)
        action = sample_action(mean, log_std, deterministic).cpu().numpy()
        if self.recorder is not None:
            self.recorder.record(action)
        return action

    def observe(self, step: StepBatch) -> None:
        active = torch.as_tensor(step.active, device=self.device)
        act = torch.as_tensor(step.action, dtype=torch.float32, device=self.device)
        self.hidden = torch.where(active[:, None], self._pending, self.hidden)
        self.prev_action = torch.where(active[:, None], act, self.prev_action)
        self.prev_reward = torch.where(active, torch.as_tensor(step.reward, device=self.device),
                                       self.prev_reward)
        self.prev_done = torch.where(active, torch.as_tensor(step.done, device=self.device).float(),
                                     self.prev_done)


@register_method("rl2")
class RL2(TrialPPOMethod):
    """RL2 with the harness's shared PPO; see the module docstring."""

    config_cls = RL2Config
    hparams_file = HPARAMS
    eval_episodes = 2  # varibad RL2 ablation: max_rollouts_per_task = 2
    recurrent_policy = True

    def __init__(self, config: RL2Config | None = None) -> None:
        super().__init__(config or RL2Config())

    @classmethod
    def published_budget(cls, suite: Suite) -> int | None:
        """varibad's RL2 runs: 1e8 frames on its MuJoCo suites; metaworld-algorithms ``rl2_ml1``: 2M steps."""
        if suite.name in VARIBAD_SUITES:
            return VARIBAD_FRAMES
        if suite.group.startswith("metaworld"):
            return METAWORLD_ML1_STEPS
        return None

    def _build(self, suite: Suite, ctx: RunContext) -> list[nn.Parameter]:
        self.net = RL2Net(self.obs_dim, self.act_dim, self.config).to(ctx.device)
        return list(self.net.parameters())

    def _policy_outputs(self, batch: TrialBatch) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return self.net.sequence(batch)

    def _make_agent(self, num_envs: int, recorder: ActionRecorder | None) -> Agent:
        return RL2Agent(self.net, num_envs, self.act_dim, self.device, recorder)

    def _extra_state(self) -> dict[str, Any]:
        return {"net": self.net.state_dict()}

    def _load_extra_state(self, state: dict[str, Any]) -> None:
        self.net.load_state_dict(state["net"])
