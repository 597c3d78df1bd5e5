"""The method protocol: what every meta-RL method (and baseline) implements.

A method is a class registered with ``@register_method("name")`` that subclasses :class:`Method`:

* ``config_cls``: a frozen dataclass whose field defaults are the paper's values (each field documented);
* ``hparams_file``: optional YAML next to the method with per-suite/group/profile overrides (see
  :mod:`harness.config`);
* ``setup(suite, train_tasks, ctx)``: build networks and buffers;
* ``train_step(collector) -> dict[str, float]``: one unit of training (collect with the collector, then
  update); the returned scalars go to ``train.parquet``;
* ``agent(num_envs) -> Agent``: the policy the evaluation protocol drives;
* ``state_dict()`` / ``load_state_dict()``: everything needed to resume (networks, optimizers, buffers and
  the method's own RNG states).

The runner owns the loop, the budget, evaluation, checkpoints and logging: a method never evaluates itself
and never creates environments (the collector is its only source of experience).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from harness.agent import Agent

if TYPE_CHECKING:
    from harness.collector import Collector
    from harness.context import RunContext
    from harness.suite import Suite, Task


class Method(ABC):
    """Base class of all methods; see the module docstring."""

    #: Registered name (set by ``register_method``).
    name: ClassVar[str] = ""
    #: Frozen config dataclass; defaults are the published values.
    config_cls: ClassVar[type[Any]]
    #: YAML overrides keyed by suite, group and profile (``None``: no file).
    hparams_file: ClassVar[Path | None] = None
    #: Episodes per evaluation trial in the method's paper (k of k-shot; 1 = zero-shot only).
    eval_episodes: ClassVar[int] = 1
    #: Whether the method's envs get the true task vector appended to observations (oracle only).
    sees_task: ClassVar[bool] = False

    @classmethod
    def privileged_task(cls, config: Any) -> bool:
        """Whether meta-training under ``config`` reads the true task of every collected transition.

        The collector then fills ``Rollout.task`` after acting: the method may store it with its data and
        train on it (e.g. critics that read the task, as in asymmetric actor-critic), but its agents never
        receive it (their observations stay the environment's, unlike ``sees_task``). Such runs read ground
        truth no meta-RL method may read (``DESIGN.md``): they are controls, recorded as ``sees_task`` in
        ``config.yaml`` so the analysis treats them as reference ceilings, never best. Default False:
        identities only, as :mod:`harness.collector` says.
        """
        return False

    def __init__(self, config: Any) -> None:
        self.config = config

    @classmethod
    def published_budget(cls, suite: Suite) -> int | None:
        """Environment steps the method's paper used on ``suite`` (None when the paper has no figure)."""
        return None

    @classmethod
    def search_space(cls, trial: Any) -> dict[str, Any]:
        """Config overrides sampled for an Optuna ``trial`` (``harness sweep``).

        Sample in natural spaces (``trial.suggest_float("lr", 1e-5, 1e-2, log=True)``) and return config
        field -> value; derived values (e.g. a batch size from ``batch_size_pow``) are returned converted.
        """
        raise NotImplementedError(f"method {cls.name!r} defines no search space for harness sweep")

    @abstractmethod
    def setup(self, suite: Suite, train_tasks: list[Task], ctx: RunContext) -> None:
        """Build networks, optimizers and buffers for ``suite`` and its ``train_tasks``."""

    @abstractmethod
    def train_step(self, collector: Collector) -> dict[str, float]:
        """Collect experience through ``collector`` and update; return scalar diagnostics."""

    @abstractmethod
    def agent(self, num_envs: int) -> Agent:
        """A fresh agent acting in ``num_envs`` envs with the current parameters."""

    @abstractmethod
    def state_dict(self) -> dict[str, Any]:
        """Everything needed to resume training (picklable by ``torch.save``)."""

    @abstractmethod
    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned."""
