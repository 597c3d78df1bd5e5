"""Soft Actor-Critic (Haarnoja et al. 2018, "SAC: Algorithms and Applications"): the shared block.

Modern SAC: a tanh-squashed Gaussian actor, twin Q critics with Polyak-averaged targets, clipped double-Q
targets, and a temperature that is either fixed or learned towards a target entropy (``-act_dim``). Inputs
are already-built feature vectors: a method concatenates state and latent (or anything else) before calling.

API (stable; extend additively):

* :class:`SACConfig`: frozen hyperparameters (SAC paper / SB3 defaults); every SAC-based method's config
  subclasses it (same field names everywhere, paper names as ``aliases``), ``config.sac_config()`` is the
  block's part of any of them.
* :class:`SacBatch`, :class:`SacHooks`, :class:`Upstream`: the inputs of one step and how a method plugs in
  (PEARL's encoder and KL, MoSS's embeddings, PEARL's ``v_net`` target and policy penalty).
* :class:`StatsMean`: the one averaging of per-step stats (one device sync).
* :class:`TanhGaussianActor` ``(in_dim, act_dim, hidden, log_std_min=-20, log_std_max=2)``:
  ``forward(x, deterministic=False) -> (action [..., act_dim] in (-1, 1), log_prob [...])``;
  ``dist_params(x) -> (mean, log_std)`` (pre-tanh, clamped).
* :class:`TwinQ` ``(in_dim, act_dim, hidden, num_q=2)``: ``forward(obs, act, frozen=False) -> q [num_q, ...]``
  (both critics in one batched pass; ``q1, q2 = critic(obs, act)`` unpacks; ``frozen``: parameters
  detached, gradients reach the inputs only).
* :class:`SAC` ``(obs_dim, act_dim, config, device)`` holding ``actor``, ``critic``, ``critic_target``,
  ``log_alpha`` and the optimizers ``actor_opt``, ``critic_opt``, ``alpha_opt`` (None when alpha is fixed):

  - ``critic_loss(obs, act, rew, next_obs, done, next_obs_actor=None) -> (loss, info)``: sum over critics of
    the mean squared Bellman error (rlkit/cleanrl convention). The target is computed under
    ``torch.no_grad()`` from ``next_obs`` (critic input) and ``next_obs_actor`` (actor input, default
    ``next_obs``); ``obs`` is NOT detached, so gradients reach whatever produced it (PEARL's encoder).
    ``done`` is the true-termination flag (1.0 = no bootstrap).
  - ``actor_loss(obs, critic_obs=None) -> (loss, info)``: ``mean(alpha * log_pi - min_i Q_i)``; the critic
    parameters get no gradient from it (a non-detached ``critic_obs`` does: detach it unless the policy
    loss should train what produced it); ``info["log_prob"]`` (detached ``[B]``) feeds ``alpha_loss``.
  - ``alpha_loss(log_prob) -> loss | None`` (None when alpha is fixed).
  - ``actor_losses(obs, critic_obs=None) -> (loss, info, alpha_loss)``: both of the above (what ``step`` runs,
    compiled with ``config.compile``).
  - ``critic_step(loss)``, ``actor_step(loss)``, ``alpha_step(loss)``: zero the block's own grads, backward,
    clip (``max_grad_norm``), step. Composition: zero your encoder's grads, call ``critic_step(loss + kl)``,
    then step your encoder optimizer (the backward fills its grads too).
  - ``step(batch: SacBatch, hooks: SacHooks | None) -> dict[str, Tensor]``: THE update (critic with its
    upstream module, actor with its upstream module and temperature, targets); every method calls it.
  - ``update(batch, return_stats=True) -> dict[str, float]``: ``step`` on a
    :class:`methods.common.replay.TransitionBatch` (inputs detached, no hooks).
  - ``update_many(sample, steps) -> dict[str, float]``: ``steps`` updates on ``sample()`` batches, stats
    averaged with a single device sync.
  - ``soft_update_targets(tau=None)``, ``act(obs, deterministic) -> action`` (no grad),
    ``alpha`` (tensor), ``state_dict()`` / ``load_state_dict()`` (networks, optimizers, temperature, counter).

Performance notes: both critics run in one ``baddbmm`` per layer, the policy loss reads them with detached
parameters (no ``requires_grad`` switching), the Polyak update is one fused ``_foreach_lerp_``, optimizers
use PyTorch's fused/foreach Adam (stepped through :func:`methods.common.optim.adam_step`: the fused
kernel without the ``Optimizer.step`` wrapper, bit-identical), and nothing calls ``.item()`` except when
stats are returned.
On CUDA the plain update (``update``/``update_many``) is replayed from a CUDA graph
(``SACConfig.cuda_graph``, :mod:`methods.common.sac_graph`; MoSS and PEARL graph their hooked steps the
same way).
``SACConfig(compile=True)`` runs ``critic_loss`` and ``actor_losses`` through ``torch.compile`` (opt-in: other
float rounding; on the 2-core CPU it was measured slower than eager, see the README's Performance
section).
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from harness.config_fields import Alias
from methods.common.nets import EnsembleLinear, ensemble_mlp, mlp
from methods.common.optim import adam_step, zero_grads
from methods.common.replay import TransitionBatch
from methods.common.sac_graph import GraphedStep, graph_supported

_LOG_2 = math.log(2.0)
_HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)


@dataclass(frozen=True, kw_only=True)
class SACConfig:
    """Hyperparameters of the SAC block (defaults: SAC paper v2 table 1 and SB3 ``SAC``).

    Every SAC-based method's config is a subclass (``sac-mt``/``sac-oracle``, PEARL, MoSS and its
    ablations): the same settings answer to the same names everywhere (one ``--set alpha=0.1`` reaches them
    all), a subclass changes defaults to its paper's values and adds its paper's names as :attr:`aliases`,
    and :meth:`sac_config` is the block's config of any of them.
    """

    #: Other names of the fields (:mod:`harness.config_fields`); subclasses extend this mapping.
    aliases: ClassVar[Mapping[str, Alias]] = {
        "lr": Alias(("actor_lr", "critic_lr"), "shorthand: one learning rate for the actor and the critics"),
        "discount": Alias(("gamma",), "the discount factor's other common name (rlkit/oyster ``discount``)"),
    }

    hidden: tuple[int, ...] = (256, 256)
    """Hidden layer widths of actor and critics (SAC paper: 2 x 256)."""
    actor_lr: float = 3e-4
    """Adam learning rate of the actor (SAC paper: 3e-4)."""
    critic_lr: float = 3e-4
    """Adam learning rate of the critics (SAC paper: 3e-4)."""
    alpha_lr: float = 3e-4
    """Adam learning rate of log(alpha) when learned (SAC paper: 3e-4)."""
    gamma: float = 0.99
    """Discount factor (SAC paper: 0.99)."""
    tau: float = 0.005
    """Polyak coefficient: target <- (1 - tau) target + tau critic (SAC paper: 0.005)."""
    batch_size: int = 256
    """Transitions per gradient step (SAC paper: 256); read by callers that sample batches."""
    learn_alpha: bool = True
    """Learn the temperature towards ``target_entropy`` (SAC paper v2 / SB3 ``ent_coef='auto'``)."""
    init_alpha: float | None = 1.0
    """Initial temperature when learned (SB3 ``auto`` and cleanrl start at 1.0); None: ``alpha``."""
    alpha: float = 0.2
    """Fixed temperature when ``learn_alpha`` is False, and the start of a learned one when ``init_alpha`` is
    None (SB3/TIGR fixed value 0.2)."""
    target_entropy: float | None = None
    """Entropy target of the learned temperature; None means ``-act_dim`` (SAC paper v2)."""
    reward_scale: float = 1.0
    """Rewards are multiplied by this in the Bellman target (PEARL uses 5 with alpha 1)."""
    max_grad_norm: float | None = None
    """Clip each optimizer's gradient norm to this value (None: no clipping, as in the SAC paper)."""
    target_update_interval: int = 1
    """Gradient steps between target updates (SAC paper / SB3: 1)."""
    log_std_min: float = -20.0
    """Lower clamp of the actor's log-std (SB3 ``LOG_STD_MIN``)."""
    log_std_max: float = 2.0
    """Upper clamp of the actor's log-std (SB3 ``LOG_STD_MAX``)."""
    cuda_graph: bool = True
    """On a CUDA device, capture the update once in a CUDA graph and replay it
    (:mod:`methods.common.sac_graph`): one launch instead of hundreds, 8-13x the eager update on an H200, the
    same update up to float rounding. Used by ``update``/``update_many`` (``sac-mt``, ``sac-oracle``, the
    benchmarks) and by MoSS's policy step; ignored on the CPU, with ``compile``, with a target update
    interval other than 1, and by PEARL (its hooked step runs eagerly)."""
    compile: bool = False
    """Run the update's two losses (critic; actor with temperature), forward and backward, through
    ``torch.compile`` (Inductor: fused kernels, less per-op overhead). Opt-in because fused kernels round
    differently: results agree with the default (eager) path up to float rounding, not bit for bit. The
    random draws are the eager ones (``fallback_random``). The first updates pay the compilation (tens of
    seconds on a CPU, once per process and input shape); where compiling fails (no C++ compiler, an
    unsupported platform) the block warns once and runs eagerly. Off the update (``act``, hooks) nothing is
    compiled."""

    def sac_config(self) -> SACConfig:
        """The SAC block's settings of this (method-specific) config, as a plain :class:`SACConfig`."""
        return SACConfig(**{f.name: getattr(self, f.name) for f in dataclasses.fields(SACConfig)})

    @property
    def start_alpha(self) -> float:
        """The temperature the block starts from (the fixed one, or the first value of a learned one)."""
        if not self.learn_alpha or self.init_alpha is None:
            return self.alpha
        return self.init_alpha


class TanhGaussianActor(nn.Module):
    """Gaussian policy squashed by ``tanh`` into (-1, 1), with the exact change-of-variables log-prob.

    ``forward`` maps features ``[..., in_dim]`` to ``(action [..., act_dim], log_prob [...])``; the sample is
    reparameterised (``mean + std * eps``), so gradients flow through the action.
    """

    def __init__(
        self,
        in_dim: int,
        act_dim: int,
        hidden: Sequence[int] = (256, 256),
        log_std_min: float = -20.0,
        log_std_max: float = 2.0,
    ) -> None:
        super().__init__()
        if not hidden:
            raise ValueError("TanhGaussianActor needs at least one hidden layer")
        self.act_dim = act_dim
        self.log_std_min, self.log_std_max = log_std_min, log_std_max
        self.trunk = mlp(in_dim, hidden, None)
        self.head = nn.Linear(int(hidden[-1]), 2 * act_dim)

    def dist_params(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Pre-tanh mean and clamped log-std, each ``[..., act_dim]``."""
        mean, log_std = self.head(self.trunk(x)).chunk(2, dim=-1)
        return mean, log_std.clamp(self.log_std_min, self.log_std_max)

    def forward(self, x: torch.Tensor, deterministic: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        """Action in (-1, 1) and its log-density ``[...]`` (at the mean when ``deterministic``)."""
        mean, log_std = self.dist_params(x)
        if deterministic:
            u = mean
            gauss = -(log_std + _HALF_LOG_2PI).sum(-1)
        else:
            eps = torch.randn_like(mean)
            u = mean + log_std.exp() * eps
            gauss = -(0.5 * eps.square() + log_std + _HALF_LOG_2PI).sum(-1)
        # log|d tanh(u)/du| = log(1 - tanh(u)^2) = 2 (log 2 - u - softplus(-2u)), numerically stable
        correction = (2.0 * (_LOG_2 - u - F.softplus(-2.0 * u))).sum(-1)
        return torch.tanh(u), gauss - correction


class TwinQ(nn.Module):
    """``num_q`` independent Q networks on ``[obs, act]`` evaluated in one batched pass.

    ``forward(obs [..., in_dim], act [..., act_dim]) -> q [num_q, ...]``.
    """

    def __init__(self, in_dim: int, act_dim: int, hidden: Sequence[int] = (256, 256), num_q: int = 2) -> None:
        super().__init__()
        self.num_q = num_q
        self.net = ensemble_mlp(num_q, in_dim + act_dim, hidden, 1)

    def forward(self, obs: torch.Tensor, act: torch.Tensor, frozen: bool = False) -> torch.Tensor:
        """``q [num_q, ...]``; ``frozen``: the critics' parameters detached (gradients reach the inputs only,
        as the policy loss needs)."""
        x = torch.cat([obs, act], dim=-1)
        lead = x.shape[:-1]
        q = x.reshape(-1, x.shape[-1])
        for layer in self.net:
            q = layer(q, frozen) if isinstance(layer, EnsembleLinear) else layer(q)
        return q.reshape(self.num_q, *lead)  # from [num_q, B*, 1]


class _Compiled:
    """``fn`` run through ``torch.compile`` (eager random draws), falling back to ``fn`` itself, with one
    warning, where compiling fails (``torch.compile`` missing, no C++ compiler, an unsupported op)."""

    def __init__(self, fn: Callable[..., Any], name: str) -> None:
        self.fn, self.name = fn, name
        self.compiled: Callable[..., Any] | None = None
        try:
            self.compiled = torch.compile(fn, options={"fallback_random": True})
        except Exception as err:  # any failure of the optional path: run eagerly
            self._fall_back(err)

    def _fall_back(self, err: Exception) -> None:
        self.compiled = None
        warnings.warn(f"SAC compile=True: compiling {self.name} failed ({type(err).__name__}: "
                      f"{str(err).splitlines()[0] if str(err) else ''}); running it eagerly", stacklevel=3)

    def __call__(self, *args: Any) -> Any:
        if self.compiled is not None:
            try:
                return self.compiled(*args)
            except Exception as err:  # a genuine error raises again from the eager call below
                self._fall_back(err)
        return self.fn(*args)


def _adam(params: Iterable[torch.Tensor], lr: float, device: torch.device) -> torch.optim.Adam:
    """Adam with PyTorch's fused kernel where available (CUDA and recent CPU builds), else foreach."""
    params = list(params)
    try:
        return torch.optim.Adam(params, lr=lr, fused=True)
    except (RuntimeError, TypeError, ValueError):
        return torch.optim.Adam(params, lr=lr, foreach=True)


@dataclass(frozen=True)
class Upstream:
    """A module trained through a SAC loss (PEARL's context encoder, MoSS's embeddings): its optimizer is
    zeroed before the loss's backward pass and stepped after it, its gradient norm clipped first when
    ``max_grad_norm`` is set."""

    opt: torch.optim.Optimizer
    params: Sequence[torch.Tensor] = ()
    max_grad_norm: float | None = None


def _zero(up: Upstream | None) -> None:
    if up is not None:
        zero_grads(up.opt)


def _step(up: Upstream | None) -> None:
    if up is None:
        return
    if up.max_grad_norm is not None:
        nn.utils.clip_grad_norm_(up.params, up.max_grad_norm)
    adam_step(up.opt)


@dataclass(frozen=True)
class SacBatch:
    """The features one SAC step reads (``[..., dim]``; reward and done ``[...]``).

    Attributes:
        obs: critic features of ``s``; gradients flow into whatever produced them (an upstream module).
        action, reward: the transition's action and reward (scaled by ``reward_scale`` in the target).
        next_obs: critic features of ``s'`` (target side, no gradient).
        done: 1.0 where the episode truly terminated (no bootstrap).
        next_obs_actor: actor features of ``s'`` (default ``next_obs``).
        actor_obs: actor features of ``s`` (default ``obs``); gradients reach what produced them.
    """

    obs: torch.Tensor
    action: torch.Tensor
    reward: torch.Tensor
    next_obs: torch.Tensor
    done: torch.Tensor
    next_obs_actor: torch.Tensor | None = None
    actor_obs: torch.Tensor | None = None

    @classmethod
    def of(cls, batch: TransitionBatch) -> SacBatch:
        """A replay batch as it is (inputs detached): the plain SAC of ``sac-mt``."""
        return cls(batch.obs.detach(), batch.action.detach(), batch.reward, batch.next_obs, batch.terminated)


@dataclass(frozen=True, kw_only=True)
class SacHooks:
    """Where a method plugs into :meth:`SAC.step` (every field optional; none of them: the plain SAC step).

    Attributes:
        critic_upstream: trained by the critic loss's backward pass (PEARL's encoder, MoSS's critic
            embedding).
        critic_penalty: added to the critic loss before its backward pass (PEARL's weighted KL).
        bellman: replaces :meth:`SAC.critic_loss`: ``batch -> (loss, {"q": ...})`` (PEARL's ``v_net``).
        actor_upstream: trained by the actor loss's backward pass (MoSS's actor embedding).
        actor_critic_obs: critic features of ``s`` for the actor loss, computed after the critic step
            (default: the actor's features; MoSS: its updated critic embedding, without gradient).
        actor_penalty: ``actor features -> loss`` added to the actor loss (PEARL's mean/std penalty).
        targets: replaces the target update; returns extra stats (PEARL's ``v_net`` value step).
    """

    critic_upstream: Upstream | None = None
    critic_penalty: torch.Tensor | None = None
    bellman: Callable[[SacBatch], tuple[torch.Tensor, dict[str, torch.Tensor]]] | None = None
    actor_upstream: Upstream | None = None
    actor_critic_obs: Callable[[], torch.Tensor] | None = None
    actor_penalty: Callable[[torch.Tensor], torch.Tensor] | None = None
    targets: Callable[[], dict[str, torch.Tensor]] | None = None


_PLAIN = SacHooks()


class StatsMean:
    """Running sum of per-step stats (detached scalar tensors); :meth:`result` is the mean over the steps
    as floats, with a single device sync. The one averaging of SAC steps' stats."""

    def __init__(self) -> None:
        self.total: dict[str, torch.Tensor] = {}
        self.count = 0

    def add(self, stats: Mapping[str, torch.Tensor]) -> None:
        """Add one step's stats (keys in first-seen order)."""
        for k, v in stats.items():
            self.total[k] = self.total[k] + v if k in self.total else v
        self.count += 1

    def result(self) -> dict[str, float]:
        """Mean of every key over the steps added (``{}`` when none were)."""
        if not self.total:
            return {}
        keys = list(self.total)
        values = (torch.stack([self.total[k] for k in keys]) / self.count).tolist()
        return dict(zip(keys, values, strict=True))


class SAC:
    """The SAC learner: networks, optimizers and the update; see the module docstring for the API.

    Args:
        obs_dim: size of the feature vector the actor and critics read.
        act_dim: action size (actions in [-1, 1]).
        config: hyperparameters.
        device: where the networks live.
        critic_obs_dim: feature size of the critics when it differs from the actor's (default ``obs_dim``).
    """

    def __init__(
        self,
        obs_dim: int,
        act_dim: int,
        config: SACConfig | None = None,
        device: torch.device | str = "cpu",
        critic_obs_dim: int | None = None,
    ) -> None:
        self.config = cfg = config or SACConfig()
        self.device = torch.device(device)
        self.act_dim = act_dim
        cdim = obs_dim if critic_obs_dim is None else critic_obs_dim
        self.actor = TanhGaussianActor(obs_dim, act_dim, cfg.hidden, cfg.log_std_min, cfg.log_std_max)
        self.actor.to(self.device)
        self.critic = TwinQ(cdim, act_dim, cfg.hidden).to(self.device)
        self.critic_target = TwinQ(cdim, act_dim, cfg.hidden).to(self.device)
        self.critic_target.load_state_dict(self.critic.state_dict())
        self.critic_target.requires_grad_(False)
        self.target_entropy = float(-act_dim if cfg.target_entropy is None else cfg.target_entropy)
        self.log_alpha = torch.tensor(math.log(cfg.start_alpha), device=self.device,
                                      requires_grad=cfg.learn_alpha)
        self.actor_opt = _adam(self.actor.parameters(), cfg.actor_lr, self.device)
        self.critic_opt = _adam(self.critic.parameters(), cfg.critic_lr, self.device)
        self.alpha_opt = _adam([self.log_alpha], cfg.alpha_lr, self.device) if cfg.learn_alpha else None
        self._actor_params: list[torch.Tensor] = list(self.actor.parameters())
        self._critic_params: list[torch.Tensor] = list(self.critic.parameters())
        self._target_params: list[torch.Tensor] = list(self.critic_target.parameters())
        self.num_updates = 0
        self._critic_loss: Callable[..., tuple[torch.Tensor, dict[str, torch.Tensor]]] = self.critic_loss
        self._actor_losses: Callable[..., tuple[torch.Tensor, dict[str, torch.Tensor], torch.Tensor | None]]
        self._actor_losses = self.actor_losses
        if cfg.compile:
            self._critic_loss = _Compiled(self.critic_loss, "critic_loss")
            self._actor_losses = _Compiled(self.actor_losses, "actor_losses")
        self._graphed = self._graph()

    # ------------------------------------------------------------------------------------------ pieces

    @property
    def alpha(self) -> torch.Tensor:
        """Current temperature (detached scalar tensor)."""
        return self.log_alpha.detach().exp()

    def critic_loss(
        self,
        obs: torch.Tensor,
        act: torch.Tensor,
        rew: torch.Tensor,
        next_obs: torch.Tensor,
        done: torch.Tensor,
        next_obs_actor: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Clipped double-Q Bellman loss; see the module docstring.

        Args:
            obs: ``[..., critic_obs_dim]`` critic features (gradients flow into them).
            act: ``[..., act_dim]`` actions taken.
            rew: ``[...]`` rewards (scaled by ``reward_scale`` here).
            next_obs: ``[..., critic_obs_dim]`` next critic features (target side, no gradient).
            done: ``[...]`` 1.0 where the episode truly terminated.
            next_obs_actor: ``[..., obs_dim]`` actor features of the next state (default ``next_obs``).

        Returns:
            Scalar loss (sum over critics of the mean squared error) and detached diagnostics
            (``q`` mean, ``target_q`` mean).
        """
        cfg = self.config
        with torch.no_grad():
            next_a, next_logp = self.actor(next_obs if next_obs_actor is None else next_obs_actor)
            q_next = self.critic_target(next_obs, next_a).min(dim=0).values - self.alpha * next_logp
            target = cfg.reward_scale * rew + cfg.gamma * (1.0 - done) * q_next
        q = self.critic(obs, act)
        loss = (q - target).square().mean(dim=tuple(range(1, q.dim()))).sum()
        return loss, {"q": q.detach().mean(), "target_q": target.mean()}

    def actor_loss(
        self, obs: torch.Tensor, critic_obs: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Policy loss ``mean(alpha * log_pi(a|s) - min_i Q_i(s, a))`` with ``a ~ pi`` (reparameterised).

        Args:
            obs: ``[..., obs_dim]`` actor features.
            critic_obs: ``[..., critic_obs_dim]`` critic features of the same states (default ``obs``).

        Returns:
            Scalar loss and diagnostics: ``log_prob`` (detached ``[...]``, for :meth:`alpha_loss`),
            ``entropy`` (mean of ``-log_prob``).
        """
        action, log_prob = self.actor(obs)
        # frozen: no critic weight gradients from the policy loss
        q = self.critic(obs if critic_obs is None else critic_obs, action, frozen=True).min(dim=0).values
        loss = (self.alpha * log_prob - q).mean()
        logp = log_prob.detach()
        return loss, {"log_prob": logp, "entropy": -logp.mean()}

    def alpha_loss(self, log_prob: torch.Tensor) -> torch.Tensor | None:
        """Temperature loss ``-mean(log_alpha * (log_prob + target_entropy))``; None when alpha is fixed."""
        if not self.config.learn_alpha:
            return None
        return -(self.log_alpha * (log_prob.detach() + self.target_entropy)).mean()

    def actor_losses(
        self, obs: torch.Tensor, critic_obs: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor], torch.Tensor | None]:
        """:meth:`actor_loss` and the :meth:`alpha_loss` of its log-probs: ``(loss, info, alpha_loss)``."""
        loss, info = self.actor_loss(obs, critic_obs)
        return loss, info, self.alpha_loss(info["log_prob"])

    def _clip(self, params: list[torch.Tensor]) -> None:
        if self.config.max_grad_norm is not None:
            nn.utils.clip_grad_norm_(params, self.config.max_grad_norm, foreach=True)

    def _step(self, opt: torch.optim.Optimizer, params: list[torch.Tensor], loss: torch.Tensor) -> None:
        zero_grads(opt)
        loss.backward()
        self._clip(params)
        adam_step(opt)

    def critic_step(self, loss: torch.Tensor) -> None:
        """Zero the critics' grads, back-propagate ``loss`` (into anything upstream too), clip, step."""
        self._step(self.critic_opt, self._critic_params, loss)

    def actor_step(self, loss: torch.Tensor) -> None:
        """Zero the actor's grads, back-propagate ``loss``, clip, step."""
        self._step(self.actor_opt, self._actor_params, loss)

    def alpha_step(self, loss: torch.Tensor | None) -> None:
        """Step the temperature (no-op for ``None`` or a fixed alpha)."""
        if loss is not None and self.alpha_opt is not None:
            zero_grads(self.alpha_opt)
            loss.backward()
            adam_step(self.alpha_opt)

    @torch.no_grad()
    def soft_update_targets(self, tau: float | None = None) -> None:
        """Polyak update ``target <- target + tau (critic - target)`` (one fused foreach call)."""
        weight = self.config.tau if tau is None else tau
        torch._foreach_lerp_(self._target_params, self._critic_params, weight)

    # -------------------------------------------------------------------------------------- full update

    def step(self, batch: SacBatch, hooks: SacHooks | None = None) -> dict[str, torch.Tensor]:
        """One SAC gradient step: critics (with their upstream module), actor (with its upstream module) and
        temperature, then the targets. The one update every SAC-based method runs; see :class:`SacHooks`.

        Returns:
            Detached diagnostics: ``critic_loss`` (without ``critic_penalty``), ``actor_loss`` (with
            ``actor_penalty``), ``q``, ``entropy``, ``alpha``, plus what ``hooks.targets`` returns.
        """
        h = hooks or _PLAIN
        if h.bellman is None:
            c_loss, c_info = self._critic_loss(batch.obs, batch.action, batch.reward, batch.next_obs,
                                              batch.done, batch.next_obs_actor)
        else:
            c_loss, c_info = h.bellman(batch)
        _zero(h.critic_upstream)
        self.critic_step(c_loss if h.critic_penalty is None else c_loss + h.critic_penalty)
        _step(h.critic_upstream)
        actor_obs = batch.obs if batch.actor_obs is None else batch.actor_obs
        critic_obs = None if h.actor_critic_obs is None else h.actor_critic_obs()
        a_loss, a_info, al_loss = self._actor_losses(actor_obs, critic_obs)
        if h.actor_penalty is not None:
            a_loss = a_loss + h.actor_penalty(actor_obs)
        _zero(h.actor_upstream)
        if al_loss is None or self.alpha_opt is None:
            self.actor_step(a_loss)
        else:  # disjoint parameters: one backward pass for both losses
            zero_grads(self.actor_opt)
            zero_grads(self.alpha_opt)
            (a_loss + al_loss).backward()
            self._clip(self._actor_params)
            adam_step(self.actor_opt)
            adam_step(self.alpha_opt)
        _step(h.actor_upstream)
        self.num_updates += 1
        stats = {"critic_loss": c_loss.detach(), "actor_loss": a_loss.detach(), "q": c_info["q"],
                 "entropy": a_info["entropy"], "alpha": self.alpha}
        if h.targets is not None:
            stats.update(h.targets())
        elif self.num_updates % self.config.target_update_interval == 0:
            self.soft_update_targets()
        return stats

    def update(self, batch: TransitionBatch, return_stats: bool = True) -> dict[str, float]:
        """One standard SAC step on ``batch``; returns float stats (``{}`` when ``return_stats`` is False)."""
        stats = self._plain_step(batch)
        return {k: float(v) for k, v in stats.items()} if return_stats else {}

    def update_many(self, sample: Callable[[], TransitionBatch], steps: int) -> dict[str, float]:
        """``steps`` updates on fresh ``sample()`` batches; stats averaged over them (one sync at the end)."""
        mean = StatsMean()
        for _ in range(steps):
            mean.add(self._plain_step(sample()))
        return mean.result()

    def _plain_step(self, batch: TransitionBatch) -> dict[str, torch.Tensor]:
        """:meth:`step` on a replay batch without hooks, replayed from a CUDA graph where supported."""
        if self._graphed is None:
            return self.step(SacBatch.of(batch))
        return self._graphed(batch.obs, batch.action, batch.reward, batch.next_obs, batch.terminated)

    def _graph(self) -> GraphedStep | None:
        """The plain step as a :class:`GraphedStep` (None where :func:`graph_supported` says no)."""
        if not graph_supported(self):
            return None
        return GraphedStep(lambda obs, act, rew, next_obs, done: self.step(
            SacBatch(obs.detach(), act.detach(), rew, next_obs, done)), self)

    # ------------------------------------------------------------------------------------------- acting

    @torch.no_grad()
    def act(self, obs: torch.Tensor, deterministic: bool = False) -> torch.Tensor:
        """Actions ``[..., act_dim]`` in (-1, 1) for features ``obs`` (no gradient)."""
        return self.actor(obs, deterministic)[0]

    # -------------------------------------------------------------------------------------------- state

    def state_dict(self) -> dict[str, Any]:
        """Networks, optimizers, temperature and update counter."""
        return {
            "actor": self.actor.state_dict(), "critic": self.critic.state_dict(),
            "critic_target": self.critic_target.state_dict(), "log_alpha": self.log_alpha.detach().clone(),
            "actor_opt": self.actor_opt.state_dict(), "critic_opt": self.critic_opt.state_dict(),
            "alpha_opt": None if self.alpha_opt is None else self.alpha_opt.state_dict(),
            "num_updates": self.num_updates,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned."""
        self.actor.load_state_dict(state["actor"])
        self.critic.load_state_dict(state["critic"])
        self.critic_target.load_state_dict(state["critic_target"])
        with torch.no_grad():
            self.log_alpha.copy_(state["log_alpha"])
        self.actor_opt.load_state_dict(state["actor_opt"])
        self.critic_opt.load_state_dict(state["critic_opt"])
        if self.alpha_opt is not None and state["alpha_opt"] is not None:
            self.alpha_opt.load_state_dict(state["alpha_opt"])
        self.num_updates = int(state["num_updates"])
        if self._graphed is not None:  # the optimizers' state tensors were replaced: capture anew
            self._graphed = self._graph()
