"""Replay buffers: a ring buffer of transitions with episode boundaries, and one buffer per training task.

API (stable; extend additively):

* :class:`TransitionBatch` (NamedTuple of **torch tensors on the buffer's device**, float32):
  ``obs [..., obs_dim]``, ``action [..., act_dim]``, ``reward [...]``, ``next_obs [..., obs_dim]``,
  ``terminated [...]`` (1.0 = true termination: do not bootstrap; time-limit ends are stored as 0.0),
  ``extras`` (dict name -> ``[..., *shape]``). The leading dims ``...`` are ``[B]`` from
  :meth:`ReplayBuffer.sample`, ``[T, B]`` from :meth:`MultiTaskReplay.sample`.
* :class:`SequenceBatch`: ``current`` (TransitionBatch ``[..., ]``), ``context`` (TransitionBatch
  ``[..., L]``: the ``L`` transitions before each sampled one, oldest first, left-padded with zeros),
  ``mask`` (``[..., L]`` float32, 1.0 on real context transitions).
* :class:`ReplayBuffer` ``(obs_dim, act_dim, capacity, rng, device="cpu", extra_fields=None)``:

  - ``add_rollout(rollout, row_mask=None, extras=None)`` stores the ``active`` slots of a
    :class:`harness.rollout.Rollout` (rows where ``row_mask`` is True), row by row in time order, marking
    episode starts (episode index changes) and trial starts (first step of a row);
  - ``add_transitions(obs, action, reward, next_obs, terminated, episode_start, trial_start=None,
    extras=None)``: the same for flat ``[K, ...]`` arrays;
  - ``sample(batch_size) -> TransitionBatch [B]`` (uniform with the buffer's own generator);
  - ``sample_indices(batch_size) -> np.ndarray`` and ``gather(indices) -> TransitionBatch`` (compose your
    own sampling);
  - ``sample_sequences(batch_size, length, boundary="episode", include_current=False) -> SequenceBatch``:
    context windows that never cross an episode (or, with ``boundary="trial"``, a trial; with
    ``boundary="segment"``, a task switch inside a non-stationary episode) start;
  - ``same_segment_indices(indices)``: for each row, a row drawn uniformly from its segment;
    ``first_segment_indices(indices)``: the same, except that rows of an episode's first segment draw from
    the first segments of every stored episode;
  - ``clear()``, ``len(buffer)``, ``state_dict()`` / ``load_state_dict()`` (data and generator state).

* :class:`MultiTaskReplay` ``(num_tasks, obs_dim, act_dim, capacity, rng, device="cpu", extra_fields=None)``:
  one :class:`ReplayBuffer` per task id (created on first use; all share the generator);
  ``add_rollout`` routes rows by ``rollout.task_ids``; ``sample(task_ids, batch_size) -> [T, B, ...]``;
  ``sample_sequences(task_ids, batch_size, length, ...) -> [T, B, L, ...]``;
  ``gather_sequences([(task_id, indices), ...], length, ...) -> [N, L, ...]`` (windows of several tasks in
  one batch, as concatenating each buffer's ``gather_sequences``); ``sample_union(batch_size)``
  draws uniformly over all stored transitions; ``buffer(task_id)``, ``size(task_id)``, ``clear(task_ids)``.

Memory: storage starts small and doubles on demand up to ``capacity``, so 100 tasks x 1e6 capacity costs
only what is stored. Rows are kept in one packed float32 matrix (``obs | action | reward | next_obs |
terminated | extras``) so that a batch is one numpy gather and one host-to-device copy; extras are therefore
stored as float32 (integers are exact up to 2**24).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal, NamedTuple

import numpy as np
import torch

from harness.rollout import Rollout

Boundary = Literal["episode", "trial", "segment"]
_INITIAL_ROWS = 1024


class TransitionBatch(NamedTuple):
    """A batch of transitions (float32 torch tensors on one device); see the module docstring for shapes."""

    obs: torch.Tensor
    action: torch.Tensor
    reward: torch.Tensor
    next_obs: torch.Tensor
    terminated: torch.Tensor
    extras: dict[str, torch.Tensor]


class SequenceBatch(NamedTuple):
    """Sampled transitions with the context window before each of them (see the module docstring)."""

    current: TransitionBatch
    context: TransitionBatch
    mask: torch.Tensor


class ReplayBuffer:
    """Fixed-capacity ring buffer of transitions with episode and trial boundaries.

    Args:
        obs_dim: observation size.
        act_dim: action size.
        capacity: maximum number of transitions kept (oldest are overwritten).
        rng: the generator used for sampling (the buffer owns it; its state is in ``state_dict``).
        device: device of the sampled tensors.
        extra_fields: optional per-transition fields, name -> shape (``()`` for a scalar), stored as float32.
        device_copy: also keep the rows on ``device`` and gather batches there (only index arrays cross to
            the device per batch); default: on for any device but the CPU. Batches are the same either way.
    """

    def __init__(
        self,
        obs_dim: int,
        act_dim: int,
        capacity: int,
        rng: np.random.Generator,
        device: torch.device | str = "cpu",
        extra_fields: Mapping[str, tuple[int, ...]] | None = None,
        device_copy: bool | None = None,
    ) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be >= 1, got {capacity}")
        self.obs_dim, self.act_dim, self.capacity = int(obs_dim), int(act_dim), int(capacity)
        self.rng = rng
        self.device = torch.device(device)
        self.device_copy = self.device.type != "cpu" if device_copy is None else bool(device_copy)
        self.extra_fields = {k: tuple(int(d) for d in v) for k, v in (extra_fields or {}).items()}
        widths = [("obs", (obs_dim,)), ("action", (act_dim,)), ("reward", ()), ("next_obs", (obs_dim,)),
                  ("terminated", ()), *self.extra_fields.items()]
        self._cols: dict[str, tuple[int, int, tuple[int, ...]]] = {}
        col = 0
        for name, shape in widths:
            n = int(np.prod(shape)) if shape else 1
            self._cols[name] = (col, col + n, shape)
            col += n
        self.width = col
        self._reset_storage()

    # ------------------------------------------------------------------------------------------ storage

    def _reset_storage(self) -> None:
        rows = min(self.capacity, _INITIAL_ROWS)
        self._data = np.zeros((rows, self.width), np.float32)
        # The same rows on the device (``device_copy``): batches are gathered there.
        self._dev = torch.zeros((rows, self.width), device=self.device) if self.device_copy else None
        self._gid = np.zeros(rows, np.int64)  # global id (insertion counter) of the transition in each row
        self._ep_start = np.zeros(rows, np.int64)  # global id of the first transition of its episode
        self._trial_start = np.zeros(rows, np.int64)  # global id of the first transition of its trial
        # global id of the first transition of its segment (episode stretch under one task)
        self._seg_start = np.zeros(rows, np.int64)
        self._count = 0  # transitions ever added
        self._last_ep_start = 0
        self._last_trial_start = 0
        self._last_seg_start = 0

    def _grow(self, needed: int) -> None:
        rows = self._data.shape[0]
        if needed <= rows:
            return
        new = min(self.capacity, max(needed, 2 * rows))
        for name in ("_data", "_gid", "_ep_start", "_trial_start", "_seg_start"):
            old = getattr(self, name)
            arr = np.zeros((new, *old.shape[1:]), old.dtype)
            arr[:rows] = old
            setattr(self, name, arr)
        if self._dev is not None:
            dev = torch.zeros((new, self.width), device=self.device)
            dev[:rows] = self._dev
            self._dev = dev

    def __len__(self) -> int:
        return min(self._count, self.capacity)

    @property
    def total_added(self) -> int:
        """Transitions ever added (including overwritten ones)."""
        return self._count

    def clear(self) -> None:
        """Drop every transition (the generator state is kept)."""
        self._reset_storage()

    # --------------------------------------------------------------------------------------------- add

    def add_transitions(
        self,
        obs: np.ndarray,
        action: np.ndarray,
        reward: np.ndarray,
        next_obs: np.ndarray,
        terminated: np.ndarray,
        episode_start: np.ndarray,
        trial_start: np.ndarray | None = None,
        extras: Mapping[str, np.ndarray] | None = None,
        segment_start: np.ndarray | None = None,
    ) -> None:
        """Append ``K`` transitions in time order.

        Args:
            obs: ``[K, obs_dim]``; action ``[K, act_dim]``; reward ``[K]``; next_obs ``[K, obs_dim]``.
            terminated: ``[K]`` true terminations.
            episode_start: ``[K]`` bool, the transition is the first of its episode (otherwise it continues
                the episode of the transition added just before it, possibly in an earlier call).
            trial_start: ``[K]`` bool, first transition of a trial (default: ``episode_start``).
            extras: name -> ``[K, *shape]`` for every field declared in ``extra_fields``.
            segment_start: ``[K]`` bool, first transition under a new task inside its episode (an episode
                start always starts a segment); default: none.
        """
        k = int(np.shape(reward)[0])
        if k == 0:
            return
        extras = extras or {}
        if set(extras) != set(self.extra_fields):
            raise KeyError(f"extras {sorted(extras)} do not match the declared {sorted(self.extra_fields)}")
        tr = np.asarray(episode_start if trial_start is None else trial_start, bool)
        ep = np.asarray(episode_start, bool) | tr  # a trial start is an episode start
        gid = self._count + np.arange(k, dtype=np.int64)
        ep_start = np.maximum.accumulate(np.where(ep, gid, self._last_ep_start))
        trial = np.maximum.accumulate(np.where(tr, gid, self._last_trial_start))
        sg = ep if segment_start is None else ep | np.asarray(segment_start, bool)
        seg = np.maximum.accumulate(np.where(sg, gid, self._last_seg_start))
        rows = np.empty((k, self.width), np.float32)
        values: dict[str, Any] = {"obs": obs, "action": action, "reward": reward, "next_obs": next_obs,
                                  "terminated": terminated, **extras}
        for name, (a, b, _) in self._cols.items():
            rows[:, a:b] = np.asarray(values[name], np.float32).reshape(k, b - a)
        self._last_ep_start, self._last_trial_start = int(ep_start[-1]), int(trial[-1])
        self._last_seg_start = int(seg[-1])
        if k > self.capacity:  # only the newest `capacity` transitions survive
            keep = slice(k - self.capacity, k)
            rows, gid, ep_start, trial, seg = rows[keep], gid[keep], ep_start[keep], trial[keep], seg[keep]
        self._grow(min(self._count + k, self.capacity))
        pos = gid % self.capacity
        self._data[pos], self._gid[pos] = rows, gid
        if self._dev is not None:
            self._dev[self._index(pos)] = torch.from_numpy(rows).to(self.device)
        self._ep_start[pos], self._trial_start[pos], self._seg_start[pos] = ep_start, trial, seg
        self._count += k

    def add_rollout(
        self,
        rollout: Rollout,
        row_mask: np.ndarray | None = None,
        extras: Mapping[str, np.ndarray] | None = None,
    ) -> int:
        """Store the active slots of ``rollout`` (rows where ``row_mask`` is True); return how many.

        Rows are stored one after the other, each in time order; the first active slot of a row starts a
        trial and an episode, a change of ``rollout.episode`` starts an episode and ``rollout.switched``
        a segment. ``extras`` are
        ``[N, T, *shape]`` arrays aligned with the rollout.
        """
        sel = rollout.active if row_mask is None else rollout.active & np.asarray(row_mask, bool)[:, None]
        rows, _ = np.nonzero(sel)
        if rows.size == 0:
            return 0
        ep = rollout.episode[sel]
        new_trial = np.ones(rows.size, bool)
        new_trial[1:] = rows[1:] != rows[:-1]
        new_ep = new_trial.copy()
        new_ep[1:] |= ep[1:] != ep[:-1]
        self.add_transitions(
            rollout.obs[sel], rollout.action[sel], rollout.reward[sel], rollout.next_obs[sel],
            rollout.terminated[sel], new_ep, new_trial,
            {k: np.asarray(v)[sel] for k, v in (extras or {}).items()},
            None if rollout.switched is None else rollout.switched[sel],
        )
        return int(rows.size)

    # ------------------------------------------------------------------------------------------ sample

    def sample_indices(self, batch_size: int) -> np.ndarray:
        """``[batch_size]`` row indices drawn uniformly (with replacement) from the stored transitions."""
        n = len(self)
        if n == 0:
            raise ValueError("cannot sample from an empty replay buffer")
        return self.rng.integers(0, n, size=batch_size)

    def _index(self, indices: np.ndarray) -> torch.Tensor:
        """``indices`` as an int64 tensor on the device."""
        idx = torch.from_numpy(np.ascontiguousarray(indices, dtype=np.int64))
        return idx.to(self.device, non_blocking=True)

    def _take(self, indices: np.ndarray) -> torch.Tensor | np.ndarray:
        """Packed rows at ``indices``: gathered on the device (``device_copy``), else a numpy gather."""
        if self._dev is not None:
            return self._dev[self._index(indices)]
        return self._data[indices]

    def _to_batch(self, rows: np.ndarray | torch.Tensor) -> TransitionBatch:
        """Split packed rows ``[..., width]`` into a TransitionBatch on the device (at most one copy)."""
        if isinstance(rows, torch.Tensor):
            data = rows
        else:
            data = torch.from_numpy(rows).to(self.device, non_blocking=True)
        lead = data.shape[:-1]

        def field(name: str) -> torch.Tensor:
            a, b, shape = self._cols[name]
            return data[..., a] if not shape else data[..., a:b].reshape(*lead, *shape)

        return TransitionBatch(field("obs"), field("action"), field("reward"), field("next_obs"),
                               field("terminated"), {k: field(k) for k in self.extra_fields})

    def gather(self, indices: np.ndarray) -> TransitionBatch:
        """The transitions at row ``indices`` (any shape ``S``): a TransitionBatch with leading dims ``S``."""
        return self._to_batch(self._take(indices))

    def sample(self, batch_size: int) -> TransitionBatch:
        """``batch_size`` transitions drawn uniformly: a TransitionBatch ``[B, ...]``."""
        return self.gather(self.sample_indices(batch_size))

    def _starts(self, boundary: Boundary) -> np.ndarray:
        """Per row, the global id where its ``boundary`` unit (episode, trial or segment) starts."""
        if boundary == "episode":
            return self._ep_start
        if boundary == "trial":
            return self._trial_start
        if boundary == "segment":
            return self._seg_start
        raise ValueError(f"boundary must be 'episode', 'trial' or 'segment', got {boundary!r}")

    def same_segment_indices(self, indices: np.ndarray) -> np.ndarray:
        """For each row in ``indices`` (any shape), a row drawn uniformly from the stored part of its segment.

        A segment is the stretch of an episode under one task (the whole episode on stationary suites).
        Draws use the buffer's generator.
        """
        n = len(self)
        if n == 0:
            raise ValueError("cannot sample from an empty replay buffer")
        oldest = self._count - n
        order = (oldest + np.arange(n)) % self.capacity  # rows in insertion order
        seg_sorted = self._seg_start[order]  # non-decreasing
        idx = np.asarray(indices)
        start = np.maximum(self._seg_start[idx], oldest)
        last = oldest + np.searchsorted(seg_sorted, self._seg_start[idx], side="right") - 1
        pick = start + np.floor(self.rng.random(idx.shape) * (last - start + 1)).astype(np.int64)
        return pick % self.capacity

    def first_segment_indices(self, indices: np.ndarray) -> np.ndarray:
        """For each row in ``indices`` (any shape): a row of its own segment (:meth:`same_segment_indices`)
        or, for a row in the first segment of its episode (under the episode's own task, the one a
        multi-task buffer is keyed by), a row drawn uniformly from the first segments of all stored
        episodes. On stationary suites (one segment per episode) that is any stored row. Draws use the
        buffer's generator."""
        idx = np.asarray(indices)
        out = self.same_segment_indices(idx)
        first = self._seg_start[idx] == self._ep_start[idx]
        if first.any():
            n = len(self)
            order = (self._count - n + np.arange(n)) % self.capacity  # stored rows
            pool = order[self._seg_start[order] == self._ep_start[order]]
            out[first] = pool[self.rng.integers(0, len(pool), size=int(first.sum()))]
        return out

    def _context_index(
        self, indices: np.ndarray, length: int, boundary: Boundary, include_current: bool
    ) -> tuple[np.ndarray, np.ndarray]:
        """Row indices ``[*S, L]`` of the windows (0 outside them) and the window mask ``[*S, L]`` (bool)."""
        starts = self._starts(boundary)
        gid = self._gid[indices][..., None]
        lower = np.maximum(starts[indices], self._count - len(self))[..., None]
        shift = np.arange(-length + (1 if include_current else 0), 1 if include_current else 0)
        ctx = gid + shift
        mask = ctx >= lower
        return np.where(mask, ctx % self.capacity, 0), mask

    def _context_rows(
        self, indices: np.ndarray, length: int, boundary: Boundary, include_current: bool
    ) -> tuple[np.ndarray | torch.Tensor, np.ndarray]:
        """Packed rows ``[*S, L, width]`` (zeros outside the window) and mask ``[*S, L]``."""
        index, mask = self._context_index(indices, length, boundary, include_current)
        rows = self._take(index)
        fmask = mask.astype(np.float32)
        if isinstance(rows, torch.Tensor):
            rows = rows * torch.from_numpy(fmask).to(self.device, non_blocking=True).unsqueeze(-1)
        else:
            rows *= mask[..., None]
        return rows, fmask

    def gather_sequences(
        self, indices: np.ndarray, length: int, boundary: Boundary = "episode", include_current: bool = False
    ) -> SequenceBatch:
        """Transitions at ``indices`` (shape ``S``) with their context windows ``[*S, L]``.

        The window holds the ``length`` transitions before each one (``include_current``: ending with it),
        oldest first; slots before the start of the episode (``boundary="trial"``: the trial;
        ``"segment"``: the segment) or older than the buffer's content are zero with ``mask`` 0.
        """
        rows, mask = self._context_rows(indices, length, boundary, include_current)
        return SequenceBatch(self.gather(indices), self._to_batch(rows),
                             torch.from_numpy(mask).to(self.device, non_blocking=True))

    def sample_sequences(
        self, batch_size: int, length: int, boundary: Boundary = "episode", include_current: bool = False
    ) -> SequenceBatch:
        """``batch_size`` uniformly drawn transitions with context windows (see :meth:`gather_sequences`)."""
        return self.gather_sequences(self.sample_indices(batch_size), length, boundary, include_current)

    # ------------------------------------------------------------------------------------------- state

    def state_dict(self, include_rng: bool = True) -> dict[str, Any]:
        """Stored data, counters and (``include_rng``) the generator state."""
        n = len(self)
        state: dict[str, Any] = {
            "data": self._data[:n].copy(), "gid": self._gid[:n].copy(), "ep_start": self._ep_start[:n].copy(),
            "trial_start": self._trial_start[:n].copy(), "seg_start": self._seg_start[:n].copy(),
            "count": self._count, "last_ep_start": self._last_ep_start,
            "last_trial_start": self._last_trial_start, "last_seg_start": self._last_seg_start,
            "capacity": self.capacity, "width": self.width,
        }
        if include_rng:
            state["rng"] = self.rng.bit_generator.state
        return state

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned (same capacity and fields)."""
        if state["capacity"] != self.capacity or state["width"] != self.width:
            raise ValueError("replay buffer state has a different capacity or field layout")
        self._reset_storage()
        n = len(state["gid"])
        self._grow(n)
        self._data[:n], self._gid[:n] = state["data"], state["gid"]
        if self._dev is not None:
            self._dev[:n] = torch.from_numpy(self._data[:n]).to(self.device)
        self._ep_start[:n], self._trial_start[:n] = state["ep_start"], state["trial_start"]
        self._count = int(state["count"])
        self._last_ep_start = int(state["last_ep_start"])
        self._last_trial_start = int(state["last_trial_start"])
        # States saved before segments existed: every segment is its episode.
        self._seg_start[:n] = state.get("seg_start", state["ep_start"])
        self._last_seg_start = int(state.get("last_seg_start", state["last_ep_start"]))
        if "rng" in state:
            self.rng.bit_generator.state = state["rng"]


def _stack(parts: list[np.ndarray | torch.Tensor]) -> np.ndarray | torch.Tensor:
    """``np.stack`` or ``torch.stack`` of same-kind row blocks."""
    if isinstance(parts[0], torch.Tensor):
        return torch.stack(parts)  # type: ignore[arg-type]
    return np.stack(parts)  # type: ignore[arg-type]


class MultiTaskReplay:
    """One :class:`ReplayBuffer` per training task id (created on first use; all share ``rng``).

    Args:
        num_tasks: number of task ids (``0 .. num_tasks - 1``).
        obs_dim, act_dim, capacity, device, extra_fields: as for :class:`ReplayBuffer` (capacity per task).
        rng: generator used by every per-task buffer.
    """

    def __init__(
        self,
        num_tasks: int,
        obs_dim: int,
        act_dim: int,
        capacity: int,
        rng: np.random.Generator,
        device: torch.device | str = "cpu",
        extra_fields: Mapping[str, tuple[int, ...]] | None = None,
        device_copy: bool | None = None,
    ) -> None:
        self.device_copy = device_copy
        self.num_tasks, self.obs_dim, self.act_dim, self.capacity = num_tasks, obs_dim, act_dim, capacity
        self.rng = rng
        self.device = torch.device(device)
        self.extra_fields = dict(extra_fields or {})
        self._buffers: dict[int, ReplayBuffer] = {}

    def buffer(self, task_id: int) -> ReplayBuffer:
        """The buffer of ``task_id`` (created empty if needed)."""
        tid = int(task_id)
        if not 0 <= tid < self.num_tasks:
            raise IndexError(f"task id {tid} out of range (0..{self.num_tasks - 1})")
        if tid not in self._buffers:
            self._buffers[tid] = ReplayBuffer(
                self.obs_dim, self.act_dim, self.capacity, self.rng, self.device, self.extra_fields,
                self.device_copy,
            )
        return self._buffers[tid]

    def size(self, task_id: int) -> int:
        """Transitions stored for ``task_id``."""
        buf = self._buffers.get(int(task_id))
        return 0 if buf is None else len(buf)

    def __len__(self) -> int:
        return sum(len(b) for b in self._buffers.values())

    def task_ids(self) -> list[int]:
        """Task ids holding at least one transition (sorted)."""
        return sorted(t for t, b in self._buffers.items() if len(b) > 0)

    def clear(self, task_ids: Sequence[int] | None = None) -> None:
        """Empty the buffers of ``task_ids`` (default: all)."""
        for tid in (list(self._buffers) if task_ids is None else task_ids):
            if int(tid) in self._buffers:
                self._buffers[int(tid)].clear()

    def add_rollout(self, rollout: Rollout, extras: Mapping[str, np.ndarray] | None = None) -> int:
        """Route each row of ``rollout`` to the buffer of ``rollout.task_ids[row]``; return steps stored."""
        stored = 0
        for tid in np.unique(rollout.task_ids):
            stored += self.buffer(int(tid)).add_rollout(rollout, rollout.task_ids == tid, extras)
        return stored

    def _nonempty(self, task_ids: Sequence[int]) -> list[ReplayBuffer]:
        bufs = []
        for tid in task_ids:
            if self.size(tid) == 0:
                raise ValueError(f"no transitions stored for task {int(tid)}")
            bufs.append(self._buffers[int(tid)])
        return bufs

    def sample(self, task_ids: Sequence[int], batch_size: int) -> TransitionBatch:
        """``batch_size`` transitions of each task: a TransitionBatch ``[T, B, ...]`` (T = len(task_ids)).

        On the device-copy path the indices of all tasks cross to the device in one copy (one per task
        made PEARL's sampling a quarter of its GPU iteration); the draws and values are those of per-task
        calls.
        """
        bufs = self._nonempty(task_ids)
        idx = [b.sample_indices(batch_size) for b in bufs]
        b0 = bufs[0]
        if b0._dev is None:
            return b0._to_batch(_stack([b._data[i] for b, i in zip(bufs, idx, strict=True)]))
        flat = b0._index(np.concatenate(idx))
        rows = []
        for k, b in enumerate(bufs):
            assert b._dev is not None
            rows.append(b._dev[flat[k * batch_size:(k + 1) * batch_size]])
        return b0._to_batch(torch.stack(rows))

    def sample_sequences(
        self,
        task_ids: Sequence[int],
        batch_size: int,
        length: int,
        boundary: Boundary = "episode",
        include_current: bool = False,
    ) -> SequenceBatch:
        """Per task, ``batch_size`` transitions with windows: ``[T, B, ...]`` and ``[T, B, L, ...]``."""
        bufs = self._nonempty(task_ids)
        cur, ctx, mask = [], [], []
        for b in bufs:
            idx = b.sample_indices(batch_size)
            rows, m = b._context_rows(idx, length, boundary, include_current)
            cur.append(b._take(idx))
            ctx.append(rows)
            mask.append(m)
        b0 = bufs[0]
        return SequenceBatch(b0._to_batch(_stack(cur)), b0._to_batch(_stack(ctx)),
                             torch.from_numpy(np.stack(mask)).to(self.device, non_blocking=True))

    def gather_sequences(
        self,
        draws: Sequence[tuple[int, np.ndarray]],
        length: int,
        boundary: Boundary = "episode",
        include_current: bool = False,
    ) -> SequenceBatch:
        """For each ``(task_id, indices [n])`` of ``draws`` in order, the task buffer's transitions at
        ``indices`` with their context windows (:meth:`ReplayBuffer.gather_sequences`), concatenated:
        ``[N, ...]``, ``[N, L, ...]`` and mask ``[N, L]`` (N = the sum of the n).

        The same values as concatenating each buffer's :meth:`ReplayBuffer.gather_sequences`, in a few
        batched operations: on the device one index copy, one gather per task and window set, one mask copy
        and one product (each per-task call made seven small copies and gathers, which bound MoSS's belief
        pass on a GPU).
        """
        bufs = self._nonempty([t for t, _ in draws])
        parts = []  # per task: buffer, indices [n], window rows [n, L], window mask [n, L]
        for buf, (_, idx) in zip(bufs, draws, strict=True):
            idx = np.asarray(idx, dtype=np.int64)
            parts.append((buf, idx, *buf._context_index(idx, length, boundary, include_current)))
        inside = np.concatenate([p[3] for p in parts])
        mask = inside.astype(np.float32)
        b0 = bufs[0]
        if b0._dev is None:  # numpy gathers, as ReplayBuffer._take does without a device copy
            rows = np.concatenate([buf._data[win] for buf, _, win, _ in parts])
            rows *= inside[..., None]
            current = np.concatenate([buf._data[idx] for buf, idx, _, _ in parts])
            return SequenceBatch(b0._to_batch(current), b0._to_batch(rows),
                                 torch.from_numpy(mask).to(self.device, non_blocking=True))
        flat = b0._index(np.concatenate([np.concatenate([idx, win.ravel()]) for _, idx, win, _ in parts]))
        cur, ctx, start = [], [], 0
        for buf, idx, _, _ in parts:
            assert buf._dev is not None
            n = len(idx)
            cur.append(buf._dev[flat[start:start + n]])
            ctx.append(buf._dev[flat[start + n:start + n + n * length]].view(n, length, buf.width))
            start += n + n * length
        fmask = torch.from_numpy(mask).to(self.device, non_blocking=True)
        return SequenceBatch(b0._to_batch(torch.cat(cur)), b0._to_batch(torch.cat(ctx) * fmask.unsqueeze(-1)),
                             fmask)

    def sample_union(self, batch_size: int) -> TransitionBatch:
        """``batch_size`` transitions drawn uniformly over all tasks' stored transitions: ``[B, ...]``."""
        tids = self.task_ids()
        if not tids:
            raise ValueError("cannot sample from an empty replay buffer")
        sizes = np.array([len(self._buffers[t]) for t in tids])
        flat = self.rng.integers(0, sizes.sum(), size=batch_size)
        owner = np.searchsorted(np.cumsum(sizes), flat, side="right")
        local = flat - np.concatenate([[0], np.cumsum(sizes)[:-1]])[owner]
        first = self._buffers[tids[0]]
        if first._dev is not None:  # gather per task on the device, then restore the draw order
            hits = [np.flatnonzero(owner == j) for j in range(len(tids))]
            parts = [self._buffers[t]._take(local[h]) for t, h in zip(tids, hits, strict=True) if h.size]
            order = np.argsort(np.concatenate(hits), kind="stable")
            return first._to_batch(torch.cat(parts)[first._index(order)])  # type: ignore[arg-type]
        rows = np.empty((batch_size, first.width), np.float32)
        for j, t in enumerate(tids):
            hit = owner == j
            if hit.any():
                rows[hit] = self._buffers[t]._data[local[hit]]
        return first._to_batch(rows)

    def state_dict(self) -> dict[str, Any]:
        """Every task's data and the shared generator state."""
        return {"rng": self.rng.bit_generator.state,
                "buffers": {t: b.state_dict(include_rng=False) for t, b in self._buffers.items()}}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned."""
        self._buffers = {}
        for tid, buf_state in state["buffers"].items():
            self.buffer(int(tid)).load_state_dict(buf_state)
        self.rng.bit_generator.state = state["rng"]
