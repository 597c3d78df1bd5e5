"""The agent protocol: what the collector and the evaluation protocol drive.

An agent acts for a batch of ``N`` environments at once (one batched policy call per step). Arrays carry the
batch first: ``obs`` is ``[N, obs_dim]`` float32, ``action`` ``[N, act_dim]`` float32 in [-1, 1], ``reward``
``[N]`` float32, flags ``[N]`` bool.

Call sequence for one trial (a task per env, ``k`` episodes):

* ``reset(task_boundary=True)`` once, when every env gets a new task (forget the belief);
* per step: ``act(obs, deterministic)`` then ``observe(StepBatch)``;
* ``reset(task_boundary=False)`` between the episodes of the same task (keep the belief, RL2 keeps its
  hidden state).

All envs of a batch run their episodes in lock step: an env whose episode terminated early waits, and its
rows are marked ``active=False`` in the ``StepBatch``; an agent must not update its state for inactive rows
(``np.where(step.active, new, old)``). Actions returned for inactive rows are ignored.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import NamedTuple

import numpy as np


class StepBatch(NamedTuple):
    """One environment step of ``N`` envs.

    Attributes:
        obs: ``[N, obs_dim]`` observation the action was taken in.
        action: ``[N, act_dim]`` action taken.
        reward: ``[N]`` reward received.
        next_obs: ``[N, obs_dim]`` observation after the step.
        terminated: ``[N]`` true termination (no bootstrapping past it).
        truncated: ``[N]`` time-limit end of the episode (bootstrapping allowed).
        active: ``[N]`` whether the env really stepped (False after its episode ended).
    """

    obs: np.ndarray
    action: np.ndarray
    reward: np.ndarray
    next_obs: np.ndarray
    terminated: np.ndarray
    truncated: np.ndarray
    active: np.ndarray

    @property
    def done(self) -> np.ndarray:
        """``[N]`` bool: the episode ended at this step (terminated or truncated)."""
        return self.terminated | self.truncated


class Agent(ABC):
    """A (possibly recurrent) policy acting in ``N`` envs; see the module docstring for the protocol."""

    @abstractmethod
    def reset(self, task_boundary: bool) -> None:
        """Start an episode in every env. ``task_boundary``: the envs now hold new tasks (drop beliefs)."""

    @abstractmethod
    def act(self, obs: np.ndarray, deterministic: bool) -> np.ndarray:
        """Actions ``[N, act_dim]`` in [-1, 1] for observations ``[N, obs_dim]``."""

    def observe(self, step: StepBatch) -> None:  # noqa: B027 - optional hook, stateless agents ignore it
        """Update beliefs/hidden state with a step (ignore rows where ``step.active`` is False)."""

    def belief(self) -> dict[str, np.ndarray] | None:
        """Current belief for analysis, e.g. ``{"mean": [N, d], "class_probs": [N, K]}``; None if none."""
        return None
