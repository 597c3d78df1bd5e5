"""Control variants of MoSS for diagnosing its policy (a ``--plugin``, not registered by default).

Both run MoSS's own pipeline (collection, encoder, SAC schedule and sampling, config and ``hparams.yaml``
of ``moss``) and change only what the policy and the critics are conditioned on:

* ``moss-task-control``: the true task appended to the observation (as ``sac-oracle`` sees it) and the
  belief replaced by zeros. A behaviour-independent task signal: if this learns where ``moss`` stands still,
  the belief, not the pipeline, holds the policy back. As ``sac-oracle`` (``bootstrap_task: current``) it
  bootstraps within the current task: ``s'`` keeps the task of ``s`` (on non-stationary suites a switch
  otherwise puts the new task into ``s'``, README "Cheetah-vel-nonstat").
* ``moss-no-belief-control``: the belief replaced by zeros (task-agnostic, as ``sac-mt``).
* ``moss-critic-task-control``: the critics read the true task (with the state, no belief; bootstrapping
  within the current task as above) while the actor reads the belief as ``moss``'s does, and the encoder
  never sees the task (its columns are zeroed in every transition the encoder and its decoder read). Only
  meta-training uses the task: the acting policy (evaluation included) is ``moss``'s, state and belief.
  If this follows the target where ``moss`` does not, the critics' reading of the belief is what keeps
  ``moss`` from it (a privileged critic, as in asymmetric actor-critic).

    harness run --suite cheetah-vel --method moss-task-control --seeds 1 --profile bench --budget 104000 \\
        --plugin scripts/moss_controls.py --out results/controls

The encoder is still trained (on the widened observation for ``moss-task-control``) but nothing reads it.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any, ClassVar

import torch

from harness.registry import register_method
from methods.common.sac import SAC
from methods.moss.encoder import GMVAEEncoder, feature_dim
from methods.moss.inference import belief_feature_dim
from methods.moss.method import Moss
from methods.moss.policy import BeliefSAC, HyperStateEmbedding

if TYPE_CHECKING:
    from harness.context import RunContext
    from harness.suite import Suite, Task


class ZeroBeliefSAC(BeliefSAC):
    """:class:`BeliefSAC` whose actor and critics see zeros in place of the belief."""

    def update(  # type: ignore[override]
        self, obs: torch.Tensor, belief: torch.Tensor, action: torch.Tensor, reward: torch.Tensor,
        next_obs: torch.Tensor, next_belief: torch.Tensor, terminated: torch.Tensor,
    ) -> dict[str, torch.Tensor]:
        return super().update(obs, torch.zeros_like(belief), action, reward, next_obs,
                              torch.zeros_like(next_belief), terminated)

    @torch.no_grad()
    def act(self, obs: torch.Tensor, belief: torch.Tensor, deterministic: bool) -> torch.Tensor:
        return super().act(obs, torch.zeros_like(belief), deterministic)


class _WideSuite:
    """A suite whose ``spec.obs_dim`` includes the task vector (what the collector hands a ``sees_task``
    method)."""

    def __init__(self, suite: Suite) -> None:
        self._suite = suite
        self.spec = dataclasses.replace(suite.spec, obs_dim=suite.spec.obs_dim + suite.spec.task_dim)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._suite, name)


@register_method("moss-no-belief-control")
class MossNoBeliefControl(Moss):
    """MoSS with the belief replaced by zeros for the policy and the critics (see the module docstring)."""

    def setup(self, suite: Suite, train_tasks: list[Task], ctx: RunContext) -> None:
        super().setup(self._suite_view(suite), train_tasks, ctx)
        self.policy = ZeroBeliefSAC(self.obs_dim, self.act_dim, belief_feature_dim(self.config), self.config,
                                    self.device)

    def _suite_view(self, suite: Suite) -> Suite:
        return suite


@register_method("moss-task-control")
class MossTaskControl(MossNoBeliefControl):
    """MoSS with the true task in the observation and no belief (see the module docstring)."""

    sees_task: ClassVar[bool] = True

    def _suite_view(self, suite: Suite) -> Suite:
        return _WideSuite(suite)  # type: ignore[return-value]

    def _policy_samples(self, wanted: int) -> tuple[torch.Tensor, ...]:
        return _current_task_next(super()._policy_samples(wanted), self.obs_dim - self._task_dim)

    def setup(self, suite: Suite, train_tasks: list[Task], ctx: RunContext) -> None:
        self._task_dim = suite.spec.task_dim
        super().setup(suite, train_tasks, ctx)


def _current_task_next(samples: tuple[torch.Tensor, ...], task_from: int) -> tuple[torch.Tensor, ...]:
    """SAC samples ``(obs, belief, action, reward, next_obs, next_belief, terminated)`` whose ``next_obs``
    carries the task columns (from ``task_from`` on) of ``obs``: bootstrapping within the current task."""
    obs, b, action, reward, next_obs, nb, terminated = samples
    next_obs = torch.cat([next_obs[:, :task_from], obs[:, task_from:]], dim=1)
    return obs, b, action, reward, next_obs, nb, terminated


class TaskBlindEncoder(GMVAEEncoder):
    """:class:`GMVAEEncoder` whose normalised input has the task columns (of ``s`` and ``s'``) zeroed.

    ``normalize`` is where every encoder pass (training windows, acting-time steps) and the decoder's
    inputs and targets read a transition, so neither sees the task. Set ``task_mask`` ``[input_dim]`` (1
    keeps a feature, 0 drops it) with :func:`blind_to_task`."""

    task_mask: torch.Tensor

    def normalize(self, features: torch.Tensor) -> torch.Tensor:
        return super().normalize(features) * self.task_mask


def blind_to_task(encoder: GMVAEEncoder, obs_dim: int, task_dim: int) -> TaskBlindEncoder:
    """Turn ``encoder`` (built for ``obs_dim`` wide observations ending in ``task_dim`` task columns) into
    a :class:`TaskBlindEncoder` in place (same parameters; the mask is a buffer, saved with checkpoints)."""
    o, a = obs_dim, encoder.act_dim
    mask = torch.ones(feature_dim(o, a), device=encoder.input_mean.device)
    mask[o - task_dim : o] = 0.0  # task columns of s
    mask[feature_dim(o, a) - task_dim :] = 0.0  # task columns of s' (the last ones)
    encoder.__class__ = TaskBlindEncoder
    encoder.register_buffer("task_mask", mask)
    return encoder  # type: ignore[return-value]


class TaskCriticSAC(BeliefSAC):
    """Actor on ``[state, belief]``, critics on ``[state, task]`` (no belief): see the module docstring.

    ``obs`` arrives with the task in its last ``task_dim`` columns; the actor drops them. This is
    :class:`BeliefSAC` with a privileged critic (``moss --set critic_input=task``, which gets the task from
    the collector instead of the observation), built as the committed ``results/reference/critic-task``
    runs were: a SAC block for the belief, then the one used. Embedding layers (``policy_dim_preprocess``)
    are not supported (the ``bench`` profile has none)."""

    def __init__(self, obs_dim: int, task_dim: int, act_dim: int, belief_dim: int, config: Any,
                 device: torch.device) -> None:
        if config.policy_dim_preprocess:
            raise ValueError("moss-critic-task-control needs policy_dim_preprocess=false "
                             "(as in --profile bench)")
        super().__init__(obs_dim - task_dim, act_dim, belief_dim, config, device)
        self.task_dim = task_dim
        self.critic_embed = HyperStateEmbedding(self.state_dim, task_dim, config.state_embed_dim,
                                                config.latent_embed_dim, False)
        self.sac = SAC(self.state_dim + belief_dim, act_dim, config.sac_config(), device,
                       critic_obs_dim=obs_dim)


@register_method("moss-critic-task-control")
class MossCriticTaskControl(Moss):
    """MoSS whose critics read the true task instead of the belief (see the module docstring)."""

    sees_task: ClassVar[bool] = True

    def setup(self, suite: Suite, train_tasks: list[Task], ctx: RunContext) -> None:
        self._task_dim = suite.spec.task_dim
        super().setup(_WideSuite(suite), train_tasks, ctx)  # type: ignore[arg-type]
        blind_to_task(self.inference.encoder, self.obs_dim, self._task_dim)
        self.policy = TaskCriticSAC(self.obs_dim, self._task_dim, self.act_dim,
                                    belief_feature_dim(self.config), self.config, self.device)

    def _policy_samples(self, wanted: int) -> tuple[torch.Tensor, ...]:
        return _current_task_next(super()._policy_samples(wanted), self.obs_dim - self._task_dim)
