"""MoSS configuration: defaults are the Cheetah-Vel column of the paper's hyperparameter table.

Sources: "[paper]" = the MoSS paper (Wang, Bing et al., AAAI 2023, appendix table "Hyperparameters");
"[tigr]" = lknak/tigr ``configs/default.py`` / ``tigr/sac.py`` (MoSS's public predecessor, same authors'
group); "[inferred]" = the paper's value was lost in the text conversion or never stated; the chosen value
and its reason are given. Per-suite columns (Cheetah-Multi-Task, ML1 Push) and toy/profile settings are in
``hparams.yaml``. The ablations (``moss-no-gmm``, ``moss-no-contrastive``, ``moss-traj``, ``moss-ps``) are
subclasses that only change the defaults of the four switch fields at the end.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from harness.config_fields import Alias
from harness.config_types import coerce
from methods.common.sac import SACConfig


def _hidden_of_width(width: Any, values: Mapping[str, Any]) -> tuple[int, ...]:
    """``hidden`` with every layer ``width`` wide (the depth of the values so far)."""
    return (coerce(width, int),) * len(values["hidden"])


def _hidden_of_depth(depth: Any, values: Mapping[str, Any]) -> tuple[int, ...]:
    """``hidden`` with ``depth`` layers as wide as the last one of the values so far."""
    n = coerce(depth, int)
    if n < 1:
        raise ValueError(f"expected at least one layer, got {n}")
    return (int(values["hidden"][-1]),) * n


@dataclass(frozen=True, kw_only=True)
class MossConfig(SACConfig):
    """Hyperparameters of MoSS (see the module docstring for the source tags).

    The SAC settings are the shared block's fields (:class:`methods.common.sac.SACConfig`, the same names as
    every SAC-based method); the paper's names are aliases (see :attr:`aliases`).
    """

    aliases: ClassVar[Mapping[str, Alias]] = {
        **SACConfig.aliases,
        "sac_alpha": Alias(("alpha",), "the paper's name of the (fixed) temperature"),
        "sac_learn_alpha": Alias(("learn_alpha",), "this harness's former name of ``learn_alpha``"),
        "policy_lr": Alias(("actor_lr", "critic_lr"),
                           "the paper's policy_net_lr: actor, critics and their embeddings"),
        "batch_size_policy": Alias(("batch_size",), "the paper's name of the SAC batch size"),
        "max_grad_norm_policy": Alias(("max_grad_norm",), "the paper's name of the policy gradient clip"),
        "sac_layer_size": Alias(("hidden",), "the paper's width of every hidden layer (keeps the depth)",
                                _hidden_of_width),
        "sac_layers": Alias(("hidden",), "the depth of the hidden layers (tigr; keeps the last width)",
                            _hidden_of_depth),
    }

    # ------------------------------------------------------------------------- data collection schedule
    num_train_tasks_per_episode: int = 30
    """Training tasks sampled (without replacement, capped at the number of tasks) per training iteration
    [paper: num_train_tasks_per_episode = 30]."""
    num_transitions_initial: int = 200
    """Env steps collected on every training task before training starts, rounded up to whole episodes
    [paper: num_transitions_initial = 200]."""
    warmup: Literal["every-task", "iteration"] = "every-task"
    """The first iteration's collection, before any update. ``"every-task"``: ``num_transitions_initial``
    env steps on every training task [paper]; with 100 training tasks and 600-step episodes that is 60k env
    steps of the untrained policy (20% of the ``bench`` budget on cheetah-vel-nonstat; ``sac-mt`` and
    ``sac-oracle`` start updating after 5k). ``"iteration"``: the first iteration samples
    ``num_train_tasks_per_episode`` tasks as every later one does and collects ``num_transitions_initial``
    env steps on each [harness; MoSS README, "Warm-up"]."""
    num_transitions_per_episode: int = 200
    """Env steps collected per sampled task per iteration, rounded up to whole episodes
    [paper: num_transitions_per_episode = 200]."""
    replay_capacity: int = 100_000
    """Transitions kept per training task (oldest overwritten) [inferred: the paper gives none; every
    Cheetah-Vel run (~30k steps per task over 501 epochs) fits]."""

    # ------------------------------------------------------------------------------- task inference
    num_classes: int = 1
    """K, number of Gaussian components / classes of the categorical head [paper: num_classes = 1]."""
    latent_dim: int = 5
    """Dimension of each Gaussian component [paper: latent_size = 5]."""
    time_steps: int = 64
    """Context window (transitions) the encoder is trained on and the SAC beliefs are computed from
    [paper: time_steps = 64]."""
    embed_dim: int = 64
    """Width of the per-transition embedding fed to the GRU [inferred: not in the paper]."""
    gru_hidden: int = 128
    """GRU hidden size (also the head's hidden width) [inferred: VariBAD's encoder GRU size, 128]."""
    decoder_hidden: tuple[int, ...] = (128, 128)
    """Hidden widths of the state and reward decoders [inferred: tigr uses 2 layers of 5 x input]."""
    lr_encoder: float = 3e-4
    """Adam learning rate of the encoder [paper: lr_encoder = 3e-4]."""
    lr_decoder: float = 3e-4
    """Adam learning rate of the decoders [paper: lr_decoder = 3e-4]."""
    batch_size_reconstruction: int = 256
    """Context windows per encoder/decoder gradient step [paper: batch_size_reconstruction = 256]."""
    num_training_steps_reconstruction: int = 128
    """Encoder/decoder gradient steps per iteration [paper: num_training_steps_reconstruction = 128]."""
    max_grad_norm_vae: float | None = 1.0
    """Gradient-norm clip of encoder and decoder; None disables [paper: clip_grad_vae True,
    max_grad_norm_vae = 1.0]."""
    alpha_kl_component: float = 0.1
    """alpha, weight of the component-wise KL ``sum_k q(y=k) KL(q(z|y=k) || p(z|y=k))`` [inferred: the
    paper's value was lost; 0.1 keeps the belief responsive (VariBAD uses 0.1-1 for its consecutive-posterior
    KL; tigr's 1e-3 leaves the variances uninformative)]."""
    beta_kl_categorical: float = 0.1
    """beta, weight of the categorical KL ``KL(q(y) || p(y))`` [inferred: value lost; same as alpha]."""
    recurrent_prior: bool = True
    """Prior of step t = posterior of step t-1 (N(0, I) and a uniform categorical at the first step); False
    uses that global prior at every step [paper: use_global_prior = False]."""
    elbo_complete_path: bool = False
    """Evaluate the ELBO at every step of each context window; False: only at its last step
    [paper: gmvae_training_complete_path = False; meaning inferred from the name]."""
    class_balance_weight: float = 0.0
    """Weight of ``log K - H(mean_batch q(y | c))``, a label-free penalty on unused classes (batch-marginal
    entropy, as in IIC/CURL-style clustering). Not in the paper (0 = the paper's objective); without it the
    categorical head collapsed to one class in our point-multi-task runs, so ``hparams.yaml`` enables it for
    the multi-task suites [deviation, switchable]."""
    contrastive_weight: float = 1.0
    """Weight of the InfoNCE loss added to the negative ELBO [inferred: value lost; 1.0]."""
    contrastive_temperature: float = 1.0
    """Temperature of the InfoNCE softmax over negative squared Euclidean distances [inferred: not given]."""
    contrastive_positive: Literal["trajectory", "task"] = "trajectory"
    """InfoNCE positive key of a query: ``"trajectory"``, the embedding after another step of the same
    window (the paper's appendix: "from the same trajectory (but of different time steps)"); ``"task"``, the
    embedding after a step of another window of the same training task's buffer (the main text: "from the
    same task") [harness]."""
    relabel_weight: float = 0.0
    """Weight of a *relabelling consistency* term: for each encoder window ``m`` (the anchor), the decoder
    relabels the rewards of another window ``p`` of the batch (another behaviour, usually another task)
    with the anchor's belief, ``r~ = decoder_r(s_p, a_p, z_m)`` (``z_m``: mean of the anchor's most likely
    component after ``j = min(n_m, n_p)`` transitions; no gradient through the relabelling), and the
    belief the encoder reads from the relabelled window after its ``j`` transitions is pulled towards the
    anchor's (squared error of the policy's features, mean and log-variance of the most likely component,
    averaged over them; the anchor detached). It asks the encoder to read the same task from any behaviour
    the decoder can relabel: the belief of a task must not depend on what the agent did under it (on
    cheetah-vel-nonstat, running too fast after a drop moved the belief 4 latent units from where a
    tracking behaviour of the same task puts it). Rewards only: the next states of the window are kept,
    which is exact on suites whose tasks differ in the reward (all but walker-rand-params). Model-based
    relabelling as in MIER (Mendonca et al. 2020), here as a consistency loss of the encoder. 0: the paper
    [harness, switchable; MoSS README, "Cheetah-vel-nonstat"]."""
    contrastive_tasks: int = 16
    """Training tasks per encoder batch (each gives batch_size_reconstruction / contrastive_tasks windows);
    the other tasks' windows are the negatives [inferred: not given]."""

    retain_hidden: bool = False
    """Online inference only. False: the belief the agent acts on at step t comes from the local context,
    the last ``time_steps`` transitions of the episode, by a GRU pass from the empty hidden state, the same
    computation as in encoder training and in the SAC batches (TIGR's rollout worker does the same). True:
    one GRU hidden state is carried from the first step of the episode, so after ``time_steps`` steps the
    policy acts on beliefs from longer histories than it was trained on [paper: retain_hidden "-" for
    Cheetah-Vel and Cheetah-Multi-Task, True for ML1 Push (``hparams.yaml``)]."""

    # ---------------------------------------------------------------------------------------- policy
    hidden: tuple[int, ...] = (300, 300, 300)
    """Hidden widths of actor and critics [paper: sac_layer_size = 300; tigr: 3 layers]."""
    actor_lr: float = 3e-4
    """Adam learning rate of the actor and its embedding layers [paper: policy_net_lr = 3e-4]."""
    critic_lr: float = 3e-4
    """Adam learning rate of the critics and their embedding layers [paper: policy_net_lr = 3e-4]."""
    alpha: float = 0.2
    """Fixed entropy temperature (the start of a learned one) [paper: automatic_entropy_tuning = False,
    sac_alpha = 0.2]."""
    init_alpha: float | None = None
    """Start of a learned temperature; None: ``alpha`` [harness]."""
    learn_alpha: bool = False
    """Tune the temperature automatically towards entropy ``-act_dim`` (SAC v2), starting from
    ``alpha``. Not in the paper (False = its fixed temperature) [deviation, switchable]: with the fixed
    0.2 and reward scale 1 the cheetah-vel policy stays close to uniform for the first ~10^5 env steps, so
    short (``quick``) MuJoCo runs do not learn to move; see the MoSS README section."""
    reward_scale: float = 1.0
    """Reward multiplier in the Bellman target [paper: reward_scale = 1]."""
    gamma: float = 0.99
    """Discount factor [tigr: 0.99]."""
    tau: float = 5e-3
    """Polyak coefficient of the target critics [tigr: 5e-3]."""
    batch_size: int = 256
    """Transitions per SAC gradient step [paper: batch_size_policy = 256]."""
    num_training_steps_policy: int = 2048
    """SAC gradient steps per iteration [paper: num_training_steps_policy = 2048]."""
    next_belief_in_target: bool = False
    """Bellman target of the critics: False uses the belief of ``s`` for ``s'`` too (lknak/tigr
    ``sac.py``: ``new_task_z = task_z.clone().detach()``, "train the SAC as if there was no encoder and the
    state is just extended to be [state, z]"); True uses the belief after the transition. The paper is
    silent [tigr]. With True, the target of a transition whose belief has little context carries the task
    information the next step reveals: on cheetah-vel (100k env steps) the 1.9% of SAC samples with the
    prior belief made 97% of the critic loss (TD MSE 3940 against 1.6-2 with context) and the policy stood
    still (``scripts/moss_belief_drift.py --td``; MoSS README)."""
    use_trajectory_sample_sac: bool = True
    """Build SAC batches from sampled context windows, using every transition of a window with the belief
    computed from the window's transitions before it (one encoder pass serves up to ``time_steps + 1``
    samples); False: one sampled transition per window (the window is its context) [paper:
    use_trajectory_sample_sac = True; meaning inferred from the name]."""
    sac_belief_context: Literal["preceding", "same-task"] = "preceding"
    """Where the belief paired with a SAC sample (trajectory sampling) comes from. ``"preceding"``: the
    transitions before it in its own window, as the paper and lknak/tigr compute it. ``"same-task"``: an
    independent window of the same training task's buffer, with the same distribution of context lengths
    (with ``use_trajectory_sample_sac`` False: the belief after a whole independent window, for ``s`` and
    ``s'``). On non-stationary suites, where another episode's window may hold another task, the sampled
    windows stay inside one *segment* (the stretch of an episode under one task; the collector marks
    switches by identity, ``Rollout.switched``) and the independent window ends at a transition drawn
    uniformly from the same segment [harness; MoSS README, "The belief reads the behaviour" and
    "Cheetah-vel-nonstat"]."""
    same_task_first_segment: bool = False
    """Non-stationary suites with ``sac_belief_context: same-task``: a SAC sample in the first segment of its
    episode (under the training task the collector named; later segments' tasks have no identity) takes
    its belief from a window of the first segment of *any* stored episode of that training task, as on
    stationary suites, so its critics and actor see beliefs that other behaviour under the same task
    produced; later segments keep windows of their own segment. False: every sample's window comes from
    its own segment [harness, switchable; MoSS README, "Cheetah-vel-nonstat"]."""
    behaviour_swap_share: float = 0.0
    """Training collection only: the expected share of env steps in which an env's policy acts on the
    belief of another env of the same collection batch (another training task) instead of its own, in
    stretches of ``behaviour_swap_steps`` steps that start at random steps (draws from the method's
    checkpointed task RNG). The replay then holds, under one task (and inside one segment on
    non-stationary suites), behaviour that another task's belief produced, so ``sac_belief_context:
    same-task`` pairs transitions with beliefs read from other behaviours of the same task, and the critics
    learn to read the task from a belief whatever behaviour produced it. Evaluation always acts on the own
    belief. 0: the paper (the policy always acts on its own belief) [harness, switchable; MoSS README,
    "Cheetah-vel-nonstat"]."""
    behaviour_swap_steps: int = 50
    """Length in env steps of one stretch of ``behaviour_swap_share`` (cut short by the episode's end)
    [harness]."""
    critic_input: Literal["belief", "task"] = "belief"
    """What the critics read besides the state. ``"belief"``: the belief, as the actor does [paper: the
    Bayes-adaptive SAC conditions actor and critics on the hyper-state]. ``"task"``: the true task vector of
    each transition, a *privileged critic* (asymmetric actor-critic): the collector hands meta-training the
    task after acting (``Method.privileged_task``), the replay stores it beside each transition, the critics
    bootstrap within the transition's task (``s'`` keeps the task of ``s``, as ``sac-oracle`` on
    non-stationary suites), and neither the encoder nor the actor ever reads it, so the acting policy and
    its evaluation are state and belief as with ``"belief"``. A *control*, not a meta-RL method: it reads
    ground truth that only the oracle may read (``DESIGN.md``), so its runs are recorded as ``sees_task``
    and tables treat them as reference ceilings (never best); no profile enables it. It tells apart
    whether the critics' or the actor's reading of the belief keeps ``moss`` from following task switches
    on cheetah-vel-nonstat [harness, switchable; MoSS README, "Cheetah-vel-nonstat"]."""
    policy_dim_preprocess: bool = True
    """Embed state and belief with separate Linear+ReLU layers before actor and critics
    [paper: policy_dim_preprocess = True]."""
    state_embed_dim: int = 32
    """State embedding width [paper: state_embed_dim = 32]."""
    latent_embed_dim: int = 32
    """Belief embedding width [paper: latent_embed_dim = 32]."""
    max_grad_norm: float | None = 0.5
    """Gradient-norm clip of actor, critics and embeddings; None disables [paper: clip_grad_policy True,
    max_grad_norm_policy = 0.5]."""

    # ------------------------------------------------------------------------- switches (ablations)
    use_gmm: bool = True
    """Gaussian-mixture latent; False (``moss-no-gmm``) uses one Gaussian of dimension
    ``num_classes * latent_dim`` (the paper's "latent 32" = 4 x 8 on Cheetah-Multi-Task) [paper, ablation]."""
    use_contrastive: bool = True
    """Add the InfoNCE loss (off on non-stationary suites, as in the paper, unless
    ``segment_contrastive``); False is ``moss-no-contrastive`` [paper, ablation]."""
    segment_contrastive: bool = False
    """Non-stationary suites only: add the InfoNCE loss there too, on windows that stay inside one
    segment (the stretch of an episode under one task; the collector marks switches by identity only),
    in pairs of two windows ending at independent transitions of the same segment: with
    ``contrastive_positive: task`` each is the other's positive, and windows of other segments are the
    negatives. It asks the belief to read the same task from different stretches of behaviour under it
    (after a drop on cheetah-vel-nonstat: running too fast, then slower). False: the paper (no InfoNCE on
    non-stationary suites) [harness, switchable; README "Cheetah-vel-nonstat"]."""
    online_inference: bool = True
    """Update the belief at every step (GRU hidden carried within an episode); False (``moss-traj``) updates
    it only between episodes from all past transitions of the trial, with the global prior, as PEARL
    [paper, ablation "online task inference strategy"]."""
    bayes_adaptive: bool = True
    """Condition the policy on the belief (mean and log-variance of the most likely component); False
    (``moss-ps``) on a sample of it (posterior sampling) [paper: bayes_adaptive = True; ablation]."""

    # ------------------------------------------------------------------------------------- derived
    def __post_init__(self) -> None:
        if self.same_task_first_segment and self.sac_belief_context != "same-task":
            raise ValueError("same_task_first_segment=true needs sac_belief_context='same-task' (it changes "
                             f"where same-task beliefs come from), got {self.sac_belief_context!r}")

    @property
    def encoder_classes(self) -> int:
        """Number of components the encoder is built with (1 without the mixture)."""
        return self.num_classes if self.use_gmm else 1

    @property
    def encoder_latent_dim(self) -> int:
        """Dimension of each component the encoder is built with."""
        return self.latent_dim if self.use_gmm else self.num_classes * self.latent_dim


@dataclass(frozen=True, kw_only=True)
class MossNoGmmConfig(MossConfig):
    """``moss-no-gmm``: a single Gaussian VAE with the same total latent size."""

    use_gmm: bool = False
    """Single Gaussian of dimension ``num_classes * latent_dim`` [paper ablation]."""


@dataclass(frozen=True, kw_only=True)
class MossNoContrastiveConfig(MossConfig):
    """``moss-no-contrastive``: no InfoNCE term."""

    use_contrastive: bool = False
    """InfoNCE off [paper ablation]."""


@dataclass(frozen=True, kw_only=True)
class MossTrajConfig(MossConfig):
    """``moss-traj``: trajectory-level inference (belief updated between episodes, global prior)."""

    online_inference: bool = False
    """Belief updated only between episodes [paper ablation]."""
    recurrent_prior: bool = False
    """Global N(0, I) / uniform prior at every step (no step-wise recurrent prior) [paper ablation]."""


@dataclass(frozen=True, kw_only=True)
class MossPsConfig(MossConfig):
    """``moss-ps``: posterior sampling instead of the Bayes-adaptive policy input."""

    bayes_adaptive: bool = False
    """Policy conditioned on a sample of the most likely component [paper ablation]."""
