"""Control variants of MoSS for diagnosing its policy (a ``--plugin``, not registered by default).

Both run MoSS's own pipeline (collection, encoder, SAC schedule and sampling, config and ``hparams.yaml``
of ``moss``) and change only what the policy and the critics are conditioned on:

* ``moss-task-control``: the true task appended to the observation (as ``sac-oracle`` sees it) and the
  belief replaced by zeros. A behaviour-independent task signal: if this learns where ``moss`` stands still,
  the belief, not the pipeline, holds the policy back. As ``sac-oracle`` (``bootstrap_task: current``) it
  bootstraps within the current task: ``s'`` keeps the task of ``s`` (on non-stationary suites a switch
  otherwise puts the new task into ``s'``, README "Cheetah-vel-nonstat").
* ``moss-no-belief-control``: the belief replaced by zeros (task-agnostic, as ``sac-mt``).

    harness run --suite cheetah-vel --method moss-task-control --seeds 1 --profile bench --budget 104000 \\
        --plugin scripts/moss_controls.py --out results/controls

The encoder is still trained (on the widened observation for ``moss-task-control``) but nothing reads it.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any, ClassVar

import torch

from harness.registry import register_method
from methods.moss.inference import belief_feature_dim
from methods.moss.method import Moss
from methods.moss.policy import BeliefSAC

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
        obs, b, action, reward, next_obs, nb, terminated = super()._policy_samples(wanted)
        task_from = self.obs_dim - self._task_dim
        next_obs = torch.cat([next_obs[:, :task_from], obs[:, task_from:]], dim=1)
        return obs, b, action, reward, next_obs, nb, terminated

    def setup(self, suite: Suite, train_tasks: list[Task], ctx: RunContext) -> None:
        self._task_dim = suite.spec.task_dim
        super().setup(suite, train_tasks, ctx)
