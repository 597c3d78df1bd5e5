"""VariBAD configuration: defaults are lmzintgraf/varibad's HalfCheetahVel settings.

Source: ``config/mujoco/args_cheetah_vel_varibad.py`` of lmzintgraf/varibad at 57e1795 as summarized in
``shared/reference/methods.md`` §2 (PPO fields are inherited from :class:`methods.common.ppo.PPOConfig`,
whose defaults are the same file's). Per-suite columns of the reference (cheetah-dir, ant-dir, ant-goal,
humanoid-dir, walker-rand-params) are in ``hparams.yaml``.
"""

from __future__ import annotations

from dataclasses import dataclass

from methods.common.trial_ppo import TrialPPOConfig


@dataclass(frozen=True, kw_only=True)
class VaribadConfig(TrialPPOConfig):
    """VariBAD hyperparameters (varibad ``args_cheetah_vel_varibad.py`` names in parentheses)."""

    # ------------------------------------------------------------------------------------------ encoder
    latent_dim: int = 5
    """Dimension of the Gaussian task posterior (``latent_dim`` = 5 cheetah/ant-dir, 10 others)."""
    gru_hidden: int = 128
    """Encoder GRU hidden size (``encoder_gru_hidden_size`` = 128)."""
    state_embed: int = 32
    """ReLU embedding of states in encoder and decoders; 0 feeds the raw state (``state_embedding_size``)."""
    action_embed: int = 16
    """ReLU embedding of actions in encoder and decoders (``action_embedding_size`` = 16; walker 32)."""
    reward_embed: int = 16
    """ReLU embedding of rewards in the encoder (``reward_embedding_size`` = 16; walker 32)."""
    tbptt: int | None = 50
    """Truncated backpropagation through time in the VAE update every this many steps; None: whole
    trajectory (``tbptt_stepsize`` = 50)."""

    # ----------------------------------------------------------------------------------------- decoders
    decode_reward: bool = True
    """Train a reward decoder (``decode_reward`` = True; walker False)."""
    decode_state: bool = False
    """Train a state-transition decoder (``decode_state`` = False; walker True)."""
    reward_decoder_layers: tuple[int, ...] = (64, 32)
    """Hidden widths of the reward decoder (``reward_decoder_layers`` = [64, 32])."""
    state_decoder_layers: tuple[int, ...] = (64, 32)
    """Hidden widths of the state decoder (``state_decoder_layers``; walker [256, 128])."""
    rew_loss_coeff: float = 1.0
    """Weight of the reward reconstruction loss (``rew_loss_coeff`` = 1)."""
    state_loss_coeff: float = 1.0
    """Weight of the state reconstruction loss (``state_loss_coeff`` = 1)."""
    kl_weight: float = 0.1
    """Weight of the KL between consecutive posteriors (``kl_weight`` = 0.1; walker 1.0)."""

    # ------------------------------------------------------------------------------------- VAE training
    lr_vae: float = 1e-3
    """Adam learning rate of encoder and decoders (``lr_vae`` = 1e-3)."""
    vae_max_grad_norm: float | None = 1.0
    """Gradient-norm clip of the VAE step; None disables (methods.md §2.1: clipped at 1.0)."""
    vae_buffer_size: int = 10_000
    """Trajectories (whole trials) kept for VAE training, oldest dropped (``size_vae_buffer`` = 10000)."""
    vae_batch_num_trajs: int = 10
    """Trajectories per VAE update (``vae_batch_num_trajs`` = 10)."""
    vae_subsample_elbos: int | None = 50
    """ELBO terms (encoding times) sampled per trajectory; None: all (``vae_subsample_elbos`` = 50; ant-goal
    None, humanoid 100)."""
    vae_subsample_decodes: int | None = 50
    """Transitions decoded per ELBO term, sampled per trajectory; None: all (``vae_subsample_decodes`` = 50;
    ant-goal None, humanoid 100)."""
    num_vae_updates: int = 1
    """VAE gradient steps after every PPO update (``num_vae_updates`` = 1; ant-goal 5, humanoid 10)."""
    precollect_steps: int = 5000
    """Env steps in the VAE buffer before VAE updates start (``precollect_len`` = 5000); capped at a
    quarter of the run's budget so tiny budgets still train the VAE."""

    # ------------------------------------------------------------------------------------------- policy
    policy_layers: tuple[int, ...] = (128, 128)
    """Hidden widths of the actor and of the critic, tanh (``policy_layers`` = [128, 128]; humanoid
    [512, 256])."""
    policy_state_embed: int = 64
    """Tanh embedding of the (normalized) state for the policy; 0: raw (``policy_state_embedding_dim``)."""
    policy_latent_embed: int = 64
    """Tanh embedding of the (normalized) belief for the policy; 0: raw (``policy_latent_embedding_dim``)."""
    norm_state: bool = True
    """Running mean/std normalization of the policy's state input (``norm_state_for_policy`` = True)."""
    norm_belief: bool = True
    """Running mean/std normalization of the policy's belief input (``norm_latent_for_policy`` = True)."""
