"""PEARL (Rakelly, Zhou, Quillen, Finn, Levine; ICML 2019) as a registered method, following oyster.

One ``train_step`` is one oyster iteration (``rlkit/core/rl_algorithm.py`` ``MetaRLAlgorithm.train``):

1. first iteration only: ``num_initial_steps`` env steps with z from the prior on **every** training task
   (into the RL buffer and the encoder buffer);
2. draw ``num_tasks_sample`` training tasks (with replacement) and collect on all of them **in parallel**
   (one batched collector call per episode), each phase in whole episodes until every task has at least the
   phase's steps (oyster ``collect_data``):

   * clear each drawn task's encoder buffer;
   * ``num_steps_prior`` steps, z from the prior redrawn every episode (encoder + RL buffer);
   * ``num_steps_posterior`` steps (encoder + RL buffer), then ``num_extra_rl_steps_posterior`` steps
     (RL buffer only) with z from the posterior: each phase starts from the prior (oyster ``clear_z``) and
     after every episode the posterior is re-inferred from ``embedding_batch_size`` transitions of the
     task's encoder buffer, i.e. from recent prior-z data of the task;

3. ``num_train_steps_per_itr`` gradient steps, each on ``meta_batch`` training tasks (with replacement):
   a context of ``embedding_batch_size`` transitions per task from its encoder buffer gives the posterior
   q(z|c) (product of Gaussians) and a reparameterised z per task; an RL batch of ``batch_size``
   transitions per task from its RL buffer (all data) is paired with that task's z. The critic (Bellman)
   loss plus ``kl_lambda * sum_tasks KL(q(z|c) || N(0, I))`` is back-propagated into critics **and the
   encoder**; actor (and temperature) see a detached z; then the target critics are updated. With
   ``sac_variant = "v_net"`` the Bellman target comes from oyster's state-value network instead
   (:mod:`methods.pearl.value`).

Terminal transitions: the harness's rollouts keep the transition with ``terminated=True`` (it is stored in
both buffers and enters the evaluation context). This is the fix of oyster commit 062870e ("don't drop last
transition of each rollout"): before it, the rollout loop broke on ``done`` before appending the env info and
a ``zip`` silently dropped the terminal transition of every rollout, which broke Humanoid and Walker.

Train stats (averages over the iteration's gradient steps): ``critic_loss``, ``actor_loss``, ``kl`` (summed
over the meta-batch), ``q``, ``entropy``, ``alpha``, ``z_var`` (mean posterior variance), plus
``collected_steps``; the runner adds the collection and update times.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import torch

from harness.method import Method
from harness.registry import register_method
from methods.common.replay import MultiTaskReplay, TransitionBatch
from methods.common.sac import SAC, SacBatch, SacHooks, StatsMean, Upstream
from methods.common.sac_graph import GraphedStep, graph_supported, step_adam
from methods.common.search import suggest_batch_size, suggest_gamma, suggest_hidden, suggest_lr
from methods.pearl.agent import PearlAgent
from methods.pearl.config import PearlConfig
from methods.pearl.encoder import ContextEncoder, Gaussian, context_features, kl_to_standard_normal
from methods.pearl.value import StateValue

if TYPE_CHECKING:
    from harness.collector import Collector
    from harness.context import RunContext
    from harness.rollout import Rollout
    from harness.suite import Suite, Task

#: Suites with a published PEARL schedule and the episode length it was run with: oyster's six locomotion
#: configs (``max_path_length = 200``) and garage's ML1 example (150-step Meta-World v1 episodes).
PUBLISHED_HORIZONS: dict[str, int] = {
    **dict.fromkeys(("cheetah-vel", "cheetah-dir", "ant-dir", "ant-goal", "humanoid-dir",
                     "walker-rand-params"), 200),
    **dict.fromkeys(("ml1-reach-v1", "ml1-push-v1", "ml1-pick-place-v1", "ml1-reach-v2", "ml1-push-v2",
                     "ml1-pick-place-v2"), 150),
}


@register_method("pearl")
class Pearl(Method):
    """PEARL: probabilistic context encoder + posterior sampling + SAC; see the module docstring."""

    config_cls: ClassVar[type[Any]] = PearlConfig
    hparams_file: ClassVar[Path | None] = Path(__file__).with_name("hparams.yaml")
    #: oyster evaluates 3 trajectories per test task (``num_steps_per_eval = 600``); the last is reported.
    eval_episodes: ClassVar[int] = 3

    config: PearlConfig

    def __init__(self, config: PearlConfig | None = None) -> None:
        super().__init__(config or PearlConfig())

    @classmethod
    def search_space(cls, trial: Any) -> dict[str, Any]:
        """One learning rate (actor, critics, encoder), discount, tau, RL batch, SAC width, reward scale,
        KL weight and the context batch (natural spaces, :mod:`methods.common.search`)."""
        lr = suggest_lr(trial)
        return {
            "actor_lr": lr, "critic_lr": lr, "vf_lr": lr, "context_lr": lr,
            "gamma": suggest_gamma(trial),
            "tau": float(trial.suggest_float("tau", 1e-3, 0.05, log=True)),
            "batch_size": suggest_batch_size(trial),
            "hidden": suggest_hidden(trial, (64, 128, 256, 300), depth=3),
            "reward_scale": float(trial.suggest_float("reward_scale", 1.0, 100.0, log=True)),
            "kl_lambda": float(trial.suggest_float("kl_lambda", 0.01, 1.0, log=True)),
            "embedding_batch_size": int(2 ** trial.suggest_int("embedding_batch_size_pow", 5, 8)),
        }

    @classmethod
    def published_budget(cls, suite: Suite) -> int | None:
        """Env steps of the published schedule on ``suite`` (its ``paper`` config) at the published episode
        length: initial steps on every training task plus ``num_iterations`` iterations, in whole episodes
        (oyster cheetah-vel: 100 x 2000 + 500 x 5 x 1000 = 2.7M; garage ML1: 22.7M)."""
        if suite.name not in PUBLISHED_HORIZONS:
            return None
        from harness.config import method_config

        cfg: PearlConfig = method_config(cls, suite, "paper")
        h = PUBLISHED_HORIZONS[suite.name]
        initial = suite.n_train * math.ceil(cfg.num_initial_steps / h) * h
        return initial + cfg.num_iterations * cfg.steps_per_iteration(h)

    # ------------------------------------------------------------------------------------------- setup

    def setup(self, suite: Suite, train_tasks: list[Task], ctx: RunContext) -> None:
        cfg = self.config
        spec = suite.spec
        self.device = torch.device(ctx.device)
        self.obs_dim, self.act_dim, self.horizon = spec.obs_dim, spec.act_dim, suite.horizon
        self.num_tasks = len(train_tasks)
        in_dim = spec.obs_dim * (2 if cfg.use_next_obs_in_context else 1) + spec.act_dim + 1
        self.encoder = ContextEncoder(in_dim, cfg.latent_dim, cfg.encoder_hidden,
                                      cfg.use_information_bottleneck).to(self.device)
        self.sac = SAC(self.obs_dim + cfg.latent_dim, self.act_dim, cfg.sac_config(), self.device)
        graphed = graph_supported(self.sac)
        self.encoder_opt = step_adam(self.encoder.parameters(), cfg.context_lr, graphed)
        self.value = (StateValue(self.obs_dim + cfg.latent_dim, cfg.hidden, cfg.vf_lr, self.device, graphed)
                      if cfg.sac_variant == "v_net" else None)
        self._graphed = self._graph()
        self.rl_replay = MultiTaskReplay(self.num_tasks, self.obs_dim, self.act_dim, cfg.replay_buffer_size,
                                         ctx.rng("pearl", "rl-replay"), self.device)
        self.enc_replay = MultiTaskReplay(self.num_tasks, self.obs_dim, self.act_dim, cfg.replay_buffer_size,
                                          ctx.rng("pearl", "enc-replay"), self.device)
        self.task_rng = ctx.rng("pearl", "tasks")
        self.z_gen = torch.Generator(device=self.device)
        self.z_gen.manual_seed(ctx.seed_for("pearl", "collect-z"))
        self.eval_seed = ctx.seed_for("pearl", "eval-z")
        self.iteration = 0

    # ------------------------------------------------------------------------------------------- agent

    def _make_agent(self, num_envs: int, accumulate: bool, generator: torch.Generator) -> PearlAgent:
        cfg = self.config
        return PearlAgent(self.encoder, self.sac.actor, num_envs, cfg.use_next_obs_in_context,
                          cfg.num_exp_traj_eval, accumulate, generator, self.device)

    def agent(self, num_envs: int) -> PearlAgent:
        """Evaluation agent (prior for ``num_exp_traj_eval`` episodes, then the trial's own posterior).

        Its z samples come from a generator seeded identically at every call, so an evaluation neither
        depends on nor changes the training RNG streams.
        """
        gen = torch.Generator(device=self.device)
        gen.manual_seed(self.eval_seed)
        return self._make_agent(num_envs, accumulate=True, generator=gen)

    # -------------------------------------------------------------------------------------- collection

    def _features(self, batch: TransitionBatch) -> torch.Tensor:
        nxt = batch.next_obs if self.config.use_next_obs_in_context else None
        return context_features(batch.obs, batch.action, batch.reward, nxt)

    @torch.no_grad()
    def infer_from_buffer(self, task_ids: np.ndarray) -> Gaussian:
        """Posterior ``[len(task_ids), L]`` from ``embedding_batch_size`` encoder-buffer transitions per task
        (the prior for tasks whose encoder buffer is empty)."""
        cfg = self.config
        mean = torch.zeros(len(task_ids), cfg.latent_dim, device=self.device)
        var = torch.ones_like(mean)
        rows = [i for i, t in enumerate(task_ids) if self.enc_replay.size(int(t)) > 0]
        if rows:
            ctx = self.enc_replay.sample([int(task_ids[i]) for i in rows], cfg.embedding_batch_size)
            q = self.encoder(self._features(ctx))
            mean[rows], var[rows] = q.mean, q.var
        return Gaussian(mean, var)

    def _store(self, rollout: Rollout, to_encoder: bool) -> None:
        self.rl_replay.add_rollout(rollout)
        if to_encoder:
            self.enc_replay.add_rollout(rollout)

    def _collect_phase(
        self, collector: Collector, task_ids: np.ndarray, steps: int, posterior: bool, to_encoder: bool
    ) -> int:
        """Whole episodes on ``task_ids`` (one env each, in parallel) until each has ``steps`` env steps.

        With ``posterior``, z comes from the prior in the first episode and from the posterior inferred from
        the task's encoder buffer after every episode (oyster ``update_post_train = 1``); otherwise from
        the prior, redrawn every episode. Returns the env steps collected.
        """
        if steps <= 0:
            return 0
        counts = np.zeros(len(task_ids), dtype=np.int64)
        belief = Gaussian(torch.zeros(len(task_ids), self.config.latent_dim, device=self.device),
                          torch.ones(len(task_ids), self.config.latent_dim, device=self.device))
        inferred = False
        while not collector.exhausted:
            pending = np.flatnonzero(counts < steps)
            if pending.size == 0:
                break
            agent = self._make_agent(len(pending), accumulate=False, generator=self.z_gen)
            agent.set_belief(Gaussian(belief.mean[pending], belief.var[pending]), posterior=inferred)
            rollout = collector.collect(agent, task_ids[pending].tolist(), episodes=1)
            self._store(rollout, to_encoder)
            counts[pending] += rollout.active.sum(axis=1)
            if posterior:
                belief = self.infer_from_buffer(task_ids)
                inferred = True
        return int(counts.sum())

    def _collect(self, collector: Collector) -> int:
        cfg = self.config
        steps = 0
        if self.iteration == 0:
            steps += self._collect_phase(collector, np.arange(self.num_tasks), cfg.num_initial_steps,
                                         posterior=False, to_encoder=True)
        if collector.exhausted:
            return steps
        tids = self.task_rng.integers(0, self.num_tasks, size=cfg.num_tasks_sample)
        self.enc_replay.clear(np.unique(tids).tolist())
        phases = ((cfg.num_steps_prior, False, True), (cfg.num_steps_posterior, True, True),
                  (cfg.num_extra_rl_steps_posterior, True, False))
        for n, posterior, to_encoder in phases:
            steps += self._collect_phase(collector, tids, n, posterior, to_encoder)
        return steps

    # ----------------------------------------------------------------------------------------- updates

    def _graph(self) -> GraphedStep | None:
        """:meth:`update`'s step replayed from a CUDA graph (:mod:`methods.common.sac_graph`) where
        supported: encoder, critics, actor, temperature, V and every target in one launch."""
        if not graph_supported(self.sac):
            return None
        opts = [self.encoder_opt] + ([self.value.opt] if self.value is not None else [])
        return GraphedStep(self._update, self.sac, opts)

    def update(self, task_ids: np.ndarray) -> dict[str, torch.Tensor]:
        """One PEARL gradient step on the tasks ``task_ids`` (``[meta_batch]``); detached stats.

        The shared SAC step (:meth:`methods.common.sac.SAC.step`) with PEARL's hooks: the encoder is the
        critics' upstream module (the critic loss plus the weighted KL trains it), the actor reads a detached
        z and carries oyster's mean/std penalty, and ``v_net`` swaps the Bellman target and the target update.
        The context and the RL batch are drawn here (host-side indices); the step itself (:meth:`_update`) is
        replayed from a CUDA graph on a GPU (``config.cuda_graph``).
        """
        cfg = self.config
        tids = [int(t) for t in task_ids]
        context = self._features(self.enc_replay.sample(tids, cfg.embedding_batch_size))  # [T, N, F]
        batch = self.rl_replay.sample(tids, cfg.batch_size)  # [T, B, ...]
        inputs = (context, batch.obs, batch.action, batch.reward, batch.next_obs, batch.terminated)
        if self._graphed is not None:
            return self._graphed(*inputs)
        return self._update(*inputs)

    def _update(self, context: torch.Tensor, obs: torch.Tensor, action: torch.Tensor, reward: torch.Tensor,
                next_obs: torch.Tensor, terminated: torch.Tensor) -> dict[str, torch.Tensor]:
        """The step of :meth:`update` on a context ``[T, N, F]`` and an RL batch ``[T, B, ...]``."""
        cfg = self.config
        q = self.encoder(context)  # [T, L]
        z = self.encoder.sample(q)
        z_rl = z.unsqueeze(1).expand(-1, reward.shape[1], -1)  # [T, B, L], gradient to the encoder
        z_det = z_rl.detach()
        actor_in = torch.cat([obs, z_det], dim=-1)
        sac_batch = SacBatch(obs=torch.cat([obs, z_rl], dim=-1), action=action, reward=reward,
                             next_obs=torch.cat([next_obs, z_det], dim=-1), done=terminated,
                             actor_obs=actor_in)
        kl = (kl_to_standard_normal(q).sum() if cfg.use_information_bottleneck  # summed over tasks
              else torch.zeros((), device=z.device))
        penalize = cfg.policy_mean_reg_weight > 0 or cfg.policy_std_reg_weight > 0
        v_net = self.value is not None
        out = self.sac.step(sac_batch, SacHooks(
            critic_upstream=Upstream(self.encoder_opt), critic_penalty=cfg.kl_lambda * kl,
            bellman=self._v_net_critic_loss if v_net else None,
            actor_penalty=self._policy_penalty if penalize else None,
            targets=(lambda: {"v_loss": self._v_net_step(actor_in)}) if v_net else None,
        ))
        extra = {"kl": kl.detach(), "z_var": q.var.detach().mean()}
        order = ("critic_loss", "actor_loss", "kl", "q", "entropy", "alpha", "z_var")  # train.parquet columns
        return {**{k: extra[k] if k in extra else out[k] for k in order}, **out}

    def _policy_penalty(self, actor_in: torch.Tensor) -> torch.Tensor:
        """Oyster's penalty on the squared pre-tanh mean and log-std of the policy."""
        cfg = self.config
        mean, log_std = self.sac.actor.dist_params(actor_in)
        return (cfg.policy_mean_reg_weight * mean.square().mean()
                + cfg.policy_std_reg_weight * log_std.square().mean())

    def _v_net_critic_loss(self, batch: SacBatch) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Oyster's Q loss: target ``reward_scale * r + gamma (1 - d) V_target(s', z)``, both critics."""
        assert self.value is not None
        cfg = self.config
        q = self.sac.critic(batch.obs, batch.action)  # [2, T, B]
        target = (cfg.reward_scale * batch.reward
                  + cfg.gamma * (1.0 - batch.done) * self.value.target_value(batch.next_obs))
        loss = (q - target).square().mean(dim=tuple(range(1, q.dim()))).sum()
        return loss, {"q": q.detach().mean()}

    def _v_net_step(self, actor_in: torch.Tensor) -> torch.Tensor:
        """V towards ``min_i Q_i(s, a~pi, z) - alpha log pi`` (oyster's vf update), then its target update."""
        assert self.value is not None
        with torch.no_grad():
            action, log_prob = self.sac.actor(actor_in)
            v_target = self.sac.critic(actor_in, action).min(dim=0).values - self.sac.alpha * log_prob
        loss = self.value.step(actor_in, v_target)
        self.value.soft_update(self.config.tau)
        return loss

    def _train(self) -> dict[str, float]:
        cfg = self.config
        ready = [t for t in range(self.num_tasks)
                 if self.rl_replay.size(t) > 0 and self.enc_replay.size(t) > 0]
        if not ready or cfg.num_train_steps_per_itr < 1:
            return {}
        mean = StatsMean()
        for _ in range(cfg.num_train_steps_per_itr):
            mean.add(self.update(self.task_rng.choice(np.asarray(ready), size=cfg.meta_batch)))
        return mean.result()

    def train_step(self, collector: Collector) -> dict[str, float]:
        steps = self._collect(collector)
        stats = self._train()
        self.iteration += 1
        return {"collected_steps": float(steps), **stats}

    # -------------------------------------------------------------------------------------------- state

    def state_dict(self) -> dict[str, Any]:
        return {
            "encoder": self.encoder.state_dict(), "encoder_opt": self.encoder_opt.state_dict(),
            "sac": self.sac.state_dict(), "rl_replay": self.rl_replay.state_dict(),
            "enc_replay": self.enc_replay.state_dict(), "task_rng": self.task_rng.bit_generator.state,
            "z_gen": self.z_gen.get_state(), "iteration": self.iteration,
            "value": None if self.value is None else self.value.full_state(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.encoder.load_state_dict(state["encoder"])
        self.encoder_opt.load_state_dict(state["encoder_opt"])
        self.sac.load_state_dict(state["sac"])
        self.rl_replay.load_state_dict(state["rl_replay"])
        self.enc_replay.load_state_dict(state["enc_replay"])
        self.task_rng.bit_generator.state = state["task_rng"]
        # A generator's state is a CPU byte tensor even for a CUDA generator (a checkpoint loaded with
        # ``map_location="cuda"`` brings it back on the device).
        self.z_gen.set_state(state["z_gen"].cpu())
        self.iteration = int(state["iteration"])
        if self.value is not None:
            self.value.load_full_state(state["value"])
        self._graphed = self._graph()  # the optimizers' state tensors were replaced: capture anew

