"""PEARL configuration: defaults are oyster's cheetah-vel experiment (``configs/default.py`` updated by
``configs/cheetah-vel.json``, katerakelly/oyster 44e20fd).

Source tags: "[oyster default]" = ``configs/default.py``; "[oyster cheetah-vel]" =
``configs/cheetah-vel.json``; "[oyster launch]" = ``launch_experiment.py`` (network sizes); "[oyster sac]" =
``rlkit/torch/sac/sac.py``; "[harness]" = a choice of this harness (reason given). The other oyster configs
(cheetah-dir, ant-dir, ant-goal, humanoid-dir, walker-rand-params), garage's ML1 values for Meta-World,
and the toy/profile settings are in ``hparams.yaml``.

The RL learner is the shared modern twin-Q SAC (:mod:`methods.common.sac`) by default; oyster's older
V-network SAC is available with ``sac_variant = "v_net"``. Oyster's entropy weighting (``reward_scale`` 5
with an implicit temperature of 1) is kept by default through ``reward_scale = 5``, ``learn_alpha = False``
and ``alpha = 1`` (see README.md).

The SAC settings are the shared block's fields (:class:`methods.common.sac.SACConfig`, the same names as
every SAC-based method); oyster's names are aliases: ``policy_lr`` (``actor_lr``), ``qf_lr``
(``critic_lr``), ``soft_target_tau`` (``tau``) and ``discount`` (``gamma``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar, Literal

from harness.config_fields import Alias
from methods.common.sac import SACConfig


@dataclass(frozen=True, kw_only=True)
class PearlConfig(SACConfig):
    """Hyperparameters of PEARL (see the module docstring for the source tags)."""

    aliases: ClassVar[Mapping[str, Alias]] = {
        **SACConfig.aliases,
        "policy_lr": Alias(("actor_lr",), "oyster's name (configs/default.py ``policy_lr``)"),
        "qf_lr": Alias(("critic_lr",), "oyster's name (configs/default.py ``qf_lr``)"),
        "soft_target_tau": Alias(("tau",), "oyster's name (configs/default.py ``soft_target_tau``)"),
    }

    # ------------------------------------------------------------------------------------- encoder
    latent_dim: int = 5
    """Size of the latent context z [oyster default: latent_size = 5]."""
    encoder_hidden: tuple[int, ...] = (200, 200, 200)
    """Hidden widths of the per-transition context encoder [oyster launch: 3 x 200]."""
    use_information_bottleneck: bool = True
    """Gaussian factors, product of Gaussians and the KL term; False: deterministic z = mean of the
    per-transition outputs, no KL [oyster default: True]."""
    use_next_obs_in_context: bool = False
    """Context transitions are (s, a, r, s') instead of (s, a, r) [oyster default: False; True for
    walker-rand-params, oyster#4]."""
    kl_lambda: float = 0.1
    """Weight of KL(q(z|c) || N(0, I)), summed over the tasks of the meta-batch [oyster default: 0.1;
    ant-goal 1.0]."""
    context_lr: float = 3e-4
    """Adam learning rate of the context encoder [oyster default: context_lr = 3e-4]."""
    embedding_batch_size: int = 100
    """Context transitions per task for each gradient step, drawn from the task's encoder buffer
    [oyster cheetah-vel: 100]."""

    # ------------------------------------------------------------------------------------------ SAC
    sac_variant: Literal["twin_q", "v_net"] = "twin_q"
    """``twin_q``: the shared modern SAC (Bellman target from Polyak-averaged target critics);
    ``v_net``: oyster's older SAC, whose target comes from a Polyak-averaged state-value network V trained
    on ``min Q - alpha log pi`` [harness: twin_q, the harness's shared block; oyster sac: v_net]."""
    vf_lr: float = 3e-4
    """Adam learning rate of V (``v_net`` only) [oyster default: vf_lr = 3e-4]."""
    hidden: tuple[int, ...] = (300, 300, 300)
    """Hidden widths of actor and critics [oyster default / launch: net_size = 300, 3 layers]."""
    actor_lr: float = 3e-4
    """Adam learning rate of the actor [oyster default: policy_lr = 3e-4]."""
    critic_lr: float = 3e-4
    """Adam learning rate of the critics [oyster default: qf_lr = 3e-4]."""
    gamma: float = 0.99
    """Discount factor [oyster default: discount = 0.99]."""
    tau: float = 0.005
    """Polyak coefficient of the target critics [oyster default: soft_target_tau = 0.005]."""
    batch_size: int = 256
    """RL transitions per task for each gradient step [oyster default: batch_size = 256]."""
    reward_scale: float = 5.0
    """Rewards are multiplied by this in the Bellman target; with ``alpha = 1`` it sets the entropy weight
    to ``1 / reward_scale`` [oyster default: reward_scale = 5]."""
    learn_alpha: bool = False
    """Learn the temperature towards ``-act_dim`` (modern SAC); False keeps ``alpha`` fixed [harness: False
    matches oyster, whose V-network SAC has no temperature]."""
    alpha: float = 1.0
    """Fixed temperature when ``learn_alpha`` is False (and the start of a learned one); 1 reproduces
    oyster's entropy weighting together with ``reward_scale`` [oyster sac: policy loss ``log_pi - Q``]."""
    init_alpha: float | None = None
    """Start of a learned temperature; None: ``alpha`` [harness]."""
    alpha_lr: float = 3e-4
    """Adam learning rate of log(alpha) when it is learned [SAC paper: 3e-4]."""
    policy_mean_reg_weight: float = 1e-3
    """Penalty on the squared pre-tanh mean of the policy [oyster sac: policy_mean_reg_weight = 1e-3]."""
    policy_std_reg_weight: float = 1e-3
    """Penalty on the squared log-std of the policy [oyster sac: policy_std_reg_weight = 1e-3]."""
    replay_buffer_size: int = 1_000_000
    """Transitions kept per training task, in the RL buffer and in the encoder buffer each
    [oyster default: replay_buffer_size = 1e6]."""

    # ---------------------------------------------------------------------------------- schedule
    meta_batch: int = 16
    """Training tasks per gradient step, drawn with replacement [oyster default: meta_batch = 16]."""
    num_train_steps_per_itr: int = 2000
    """Gradient steps per training iteration [oyster default: 2000]."""
    num_initial_steps: int = 2000
    """Env steps collected with z from the prior on every training task in the first iteration, in whole
    episodes [oyster cheetah-vel: 2000]."""
    num_tasks_sample: int = 5
    """Training tasks (drawn with replacement) on which data is collected per iteration, all in parallel
    [oyster default: 5]."""
    num_steps_prior: int = 400
    """Env steps per sampled task with z from the prior (resampled every episode); stored in the encoder
    and the RL buffers [oyster cheetah-vel: 400]."""
    num_steps_posterior: int = 0
    """Env steps per sampled task with z from the posterior (inferred from the encoder buffer after every
    episode); stored in both buffers [oyster cheetah-vel: 0]."""
    num_extra_rl_steps_posterior: int = 600
    """Env steps per sampled task with z from the posterior; stored in the RL buffer only
    [oyster cheetah-vel: 600]."""
    num_iterations: int = 500
    """Training iterations of the published run; only used by ``Pearl.published_budget`` (the harness
    trains until the env-step budget is spent) [oyster default: num_iterations = 500]."""

    # ---------------------------------------------------------------------------------- evaluation
    num_exp_traj_eval: int = 2
    """Episodes of a test trial acted with z from the prior before the posterior (inferred from all the
    trial's context so far) takes over [oyster cheetah-vel: num_exp_traj_eval = 2]."""

    def __post_init__(self) -> None:
        if self.latent_dim < 1 or self.meta_batch < 1 or self.batch_size < 1 or self.embedding_batch_size < 1:
            raise ValueError("latent_dim, meta_batch, batch_size and embedding_batch_size must be >= 1")
        if self.num_exp_traj_eval < 0:
            raise ValueError(f"num_exp_traj_eval must be >= 0, got {self.num_exp_traj_eval}")
        if min(self.num_initial_steps, self.num_steps_prior, self.num_steps_posterior,
               self.num_extra_rl_steps_posterior, self.num_train_steps_per_itr) < 0:
            raise ValueError("step counts must be >= 0")

    # ------------------------------------------------------------------------------------- derived
    def steps_per_iteration(self, horizon: int) -> int:
        """Env steps one iteration collects after the first, without early terminations."""
        per_task = sum(math.ceil(s / horizon) * horizon for s in
                       (self.num_steps_prior, self.num_steps_posterior, self.num_extra_rl_steps_posterior))
        return self.num_tasks_sample * per_task
