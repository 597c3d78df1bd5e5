"""RL2 configuration: defaults are lmzintgraf/varibad's RL2 ablation for HalfCheetahVel.

Source: ``config/mujoco/args_cheetah_vel_rl2.py`` (lmzintgraf/varibad), i.e. the RL2 the VariBAD paper
compares against: VariBAD's encoder (per-input embeddings, GRU 128) trained end to end by PPO, its "latent"
a ReLU layer, no decoder and no KL. Meta-World overrides (``hparams.yaml``, group ``metaworld-v1`` /
``metaworld-v2``) follow rainx0r/metaworld-algorithms ``examples/meta_learning/rl2_ml1.py`` (see
``shared/reference/methods.md`` §3).
"""

from __future__ import annotations

from dataclasses import dataclass

from methods.common.trial_ppo import TrialPPOConfig


@dataclass(frozen=True, kw_only=True)
class RL2Config(TrialPPOConfig):
    """RL2 hyperparameters; PPO fields as in :class:`methods.common.ppo.PPOConfig` with RL2's values."""

    policy_num_steps: int = 800
    """Env steps per process per update, rounded up to whole trials (varibad RL2 ``policy_num_steps``
    = 800: two 2-episode trials of 200 steps)."""
    num_minibatch: int = 4
    """Minibatches (of whole trials) per PPO epoch (varibad RL2 ``ppo_num_minibatch`` = 4)."""
    gru_hidden: int = 128
    """GRU hidden size (varibad RL2 ``encoder_gru_hidden_size`` = 128)."""
    state_embed: int = 32
    """ReLU embedding width of the observation (varibad RL2 ``state_embedding_size`` = 32)."""
    action_embed: int = 16
    """ReLU embedding width of the previous action (varibad RL2 ``action_embedding_size`` = 16)."""
    reward_embed: int = 16
    """ReLU embedding width of the previous reward (varibad RL2 ``reward_embedding_size`` = 16)."""
    latent_dim: int = 128
    """Width of each of the two ReLU "latent" heads after the GRU (mean and logvar heads of varibad's
    encoder, concatenated: 2 x latent_dim features for the policy; varibad RL2 ``latent_dim`` = 128,
    ``add_nonlinearity_to_latent``)."""
    policy_layers: tuple[int, ...] = (128,)
    """Hidden widths of the actor and of the critic after the latent layer, tanh (varibad RL2
    ``policy_layers`` = [128])."""
    tbptt: int | None = None
    """Truncated backpropagation through time every this many steps; None: through the whole trial
    (varibad RL2 ``tbptt_stepsize`` = None)."""
