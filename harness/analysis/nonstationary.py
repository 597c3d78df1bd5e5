"""Non-stationary tracking and belief geometry from ``traces.parquet`` (the final evaluation, per step).

Trace frame columns (concatenated over runs): ``suite, method, seed, task_id, episode, t, reward,
true_task`` (the task vector in force at that step, a list), ``base_id``, ``achieved`` (what the agent
achieved in the task's units, a list, only for suites defining ``Suite.achieved``, e.g. the forward velocity
on the cheetah velocity suites) and ``belief_<key>`` (lists, only for methods exposing a belief). A
*switch* is a step whose true task differs from the previous step of the same episode. Everything here is
descriptive; seeds remain the runs axis for every CI.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from harness.analysis.stats import DEFAULT_REPS, interval_estimate, mean

#: Keys of one trial episode of one run.
EPISODE_KEYS = ["suite", "method", "seed", "task_id", "episode"]


def belief_keys(traces: pd.DataFrame) -> list[str]:
    """Belief names present in the traces (``belief_mean`` -> ``mean``)."""
    return [str(c)[len("belief_"):] for c in traces.columns if str(c).startswith("belief_")]


def stack_column(values: pd.Series) -> np.ndarray:
    """A column of equal-length lists/arrays as a float matrix ``[rows, dim]``."""
    if values.empty:
        return np.empty((0, 0))
    return np.stack([np.asarray(v, dtype=float).ravel() for v in values.to_numpy()])


def _sorted(traces: pd.DataFrame) -> pd.DataFrame:
    return traces.sort_values([*EPISODE_KEYS, "t"], kind="stable", ignore_index=True)


#: Default window around a switch, in steps: ``t - t_switch`` in ``[-SWITCH_BEFORE, SWITCH_AFTER)`` (one
#: 100-step segment of cheetah-vel-nonstat after it; windows are cut at the next switch anyway).
SWITCH_BEFORE = 10
SWITCH_AFTER = 100


def switch_times(traces: pd.DataFrame) -> pd.DataFrame:
    """Every task switch: ``suite, method, seed, task_id, episode, t`` (t = first step of the new task)."""
    columns = [*EPISODE_KEYS, "t"]
    parts = [ep.iloc[[p for p, _ in windows]][columns]
             for _, ep, _, windows in _switch_windows(_sorted(traces), 0, 0)]
    if not parts:
        return pd.DataFrame(columns=columns)
    return pd.concat(parts, ignore_index=True)


def _switch_windows(
    df: pd.DataFrame, before: int, after: int
) -> Iterator[tuple[tuple[Any, ...], pd.DataFrame, np.ndarray, list[tuple[int, np.ndarray]]]]:
    """Per episode of sorted traces that has a task switch: its keys, rows, task vectors ``[N, P]`` and, per
    switch, the row of the switch's first step and the boolean ``[N]`` mask of its window: steps with
    ``t - t_switch`` in ``[-before, after)``, cut at the previous and the next switch."""
    for keys, ep in df.groupby(EPISODE_KEYS, sort=False):
        task = stack_column(ep["true_task"])
        starts = np.flatnonzero(np.any(task[1:] != task[:-1], axis=1)) + 1  # row of each switch
        if not len(starts):
            continue
        t = ep["t"].to_numpy()
        windows = []
        for i, p in enumerate(starts):
            prev_t = t[starts[i - 1]] if i > 0 else -np.inf
            next_t = t[starts[i + 1]] if i + 1 < len(starts) else np.inf
            windows.append((int(p), (t >= max(t[p] - before, prev_t)) & (t < min(t[p] + after, next_t))))
        yield keys, ep, task, windows


def aligned_to_switches(
    traces: pd.DataFrame, column: str = "reward", before: int = SWITCH_BEFORE, after: int = SWITCH_AFTER
) -> pd.DataFrame:
    """``column`` around each switch, averaged per run: columns ``suite, method, seed, offset, value``.

    ``offset`` is ``t - t_switch`` in ``[-before, after)``; steps past the next switch (or before the
    previous one) are left out of a switch's window.
    """
    columns = ["suite", "method", "seed", "offset", "value"]
    parts = []
    for _, ep, _, windows in _switch_windows(_sorted(traces), before, after):
        t = ep["t"].to_numpy()
        for p, mask in windows:
            part = ep.loc[mask, ["suite", "method", "seed", "t", column]].copy()
            part["offset"] = part["t"] - t[p]
            parts.append(part)
    if not parts:
        return pd.DataFrame(columns=columns)
    cat = pd.concat(parts, ignore_index=True).rename(columns={column: "value"})
    return cat.groupby(["suite", "method", "seed", "offset"], as_index=False)["value"].mean()


#: Directions of a switch for :func:`aligned_switch_progress`: the sign of the change of the task's first
#: component (e.g. a higher or a lower target velocity).
DIRECTIONS = ("increase", "decrease")


def aligned_switch_progress(
    traces: pd.DataFrame, before: int = SWITCH_BEFORE, after: int = SWITCH_AFTER, min_change: float = 0.5,
    direction: str | None = None,
) -> pd.DataFrame:
    """How far what the agent achieves has moved from the old task to the new one around each switch,
    averaged per run: columns ``suite, method, seed, offset, value``.

    For a switch from task vector ``old`` to ``new`` (``d = new - old``), a step's value is
    ``(achieved - old) . d / |d|^2``: 0 while the agent still achieves the old task (e.g. runs at the old
    target velocity), 1 once it achieves the new one. An agent that ignores the task draws a flat line
    (at a level set by where its one behaviour lies between the tasks, about 0.35 for a cheetah running
    1.5 m/s for every target in U(0, 3)); following the switch shows as the rise from before the switch
    to after it. Switches with ``|d| < min_change`` (in the task's
    units) are left out, since the ratio is noise there. Windows as in :func:`aligned_to_switches`. Rows
    without ``achieved`` (suites without the quantity, runs written before it) are ignored.

    ``direction`` (one of :data:`DIRECTIONS`, or None for every switch) keeps only the switches that raise
    (``increase``) or lower (``decrease``) the task's first component: on a velocity suite an agent whose
    belief cannot tell a slower target from a faster one after a switch follows one kind and not the other.
    """
    if direction is not None and direction not in DIRECTIONS:
        raise ValueError(f"unknown switch direction {direction!r}; valid: {', '.join(DIRECTIONS)} or None")
    columns = ["suite", "method", "seed", "offset", "value"]
    if "achieved" not in traces:
        return pd.DataFrame(columns=columns)
    parts = []
    recorded = _sorted(traces[traces["achieved"].notna()])
    for keys, ep, task, windows in _switch_windows(recorded, before, after):
        achieved = stack_column(ep["achieved"])
        t = ep["t"].to_numpy()
        for p, mask in windows:
            d = task[p] - task[p - 1]
            if float(np.linalg.norm(d)) < min_change:
                continue
            if direction is not None and (d[0] > 0) != (direction == "increase"):
                continue
            value = (achieved[mask] - task[p - 1]) @ d / float(d @ d)
            parts.append(pd.DataFrame({"suite": keys[0], "method": keys[1], "seed": keys[2],
                                       "offset": t[mask] - t[p], "value": value}))
    if not parts:
        return pd.DataFrame(columns=columns)
    cat = pd.concat(parts, ignore_index=True)
    return cat.groupby(["suite", "method", "seed", "offset"], as_index=False)["value"].mean()


def switch_phases(target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Where each step of whole episodes stands relative to the task switches.

    Args:
        target: ``[N, T]`` the task's first component in force at each step of ``N`` episodes (step 0 first).

    Returns:
        ``since [N, T]`` int, steps since the last switch (since step 0 before any switch), and
        ``direction [N, T]`` int: 0 before the episode's first switch, +1 after a switch that raised the
        component, -1 after one that lowered it.
    """
    target = np.asarray(target, dtype=float)
    since = np.zeros(target.shape, dtype=int)
    direction = np.zeros(target.shape, dtype=int)
    for t in range(1, target.shape[1]):
        change = target[:, t] - target[:, t - 1]
        switched = change != 0
        since[:, t] = np.where(switched, 0, since[:, t - 1] + 1)
        direction[:, t] = np.where(switched, np.sign(change).astype(int), direction[:, t - 1])
    return since, direction


#: Ranges ``[lo, hi)`` of steps since a switch in :func:`error_by_switch_phase`.
SINCE_SWITCH_RANGES: tuple[tuple[int, int], ...] = ((0, 20), (20, 64), (64, 100), (100, 10**9))


def error_by_switch_phase(
    error: np.ndarray, target: np.ndarray, ranges: tuple[tuple[int, int], ...] = SINCE_SWITCH_RANGES,
) -> pd.DataFrame:
    """Mean of a per-step signed error by phase of the episode and steps since the last switch.

    Args:
        error: ``[N, T]`` e.g. achieved minus target velocity, or a belief read-out minus the target; NaN
            steps are left out of the means (``n`` counts them).
        target: ``[N, T]`` the task's first component in force at each step (see :func:`switch_phases`).
        ranges: ``[lo, hi)`` ranges of steps since the last switch (or since step 0 before any switch).

    Returns:
        Columns ``phase`` (``before any switch``, ``after an increase``, ``after a decrease``), ``steps``
        (``"lo-hi"``), ``error`` (mean), ``abs_error`` (mean of the absolute value) and ``n`` (steps); empty
        ranges are left out.
    """
    since, direction = switch_phases(target)
    error = np.asarray(error, dtype=float)
    rows = []
    for code, phase in ((0, "before any switch"), (1, "after an increase"), (-1, "after a decrease")):
        for lo, hi in ranges:
            m = (direction == code) & (since >= lo) & (since < hi)
            if m.any():
                valid = error[m][~np.isnan(error[m])]
                rows.append({"phase": phase, "steps": f"{lo}-{hi}" if hi < 10**9 else f"{lo}+",
                             "error": float(valid.mean()) if len(valid) else float("nan"),
                             "abs_error": float(np.abs(valid).mean()) if len(valid) else float("nan"),
                             "n": int(m.sum())})
    return pd.DataFrame(rows, columns=["phase", "steps", "error", "abs_error", "n"])


def aggregate_over_seeds(
    per_run: pd.DataFrame, rng: np.random.Generator, by: str = "offset", reps: int = DEFAULT_REPS,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Mean over seeds with a bootstrap CI for each (suite, method, ``by``): columns ``suite, method,
    <by>, point, lo, hi, n_runs`` (input column ``value``, one row per seed)."""
    rows = []
    for (suite, method, x), g in per_run.groupby(["suite", "method", by], sort=True):
        est = interval_estimate(g["value"].to_numpy(), mean, rng, reps, confidence)
        rows.append({"suite": suite, "method": method, by: x, "point": est.point, "lo": est.lo,
                     "hi": est.hi, "n_runs": est.n_runs})
    return pd.DataFrame(rows, columns=["suite", "method", by, "point", "lo", "hi", "n_runs"])


def linear_readout(z: np.ndarray, y: np.ndarray) -> np.ndarray:
    """In-sample least-squares predictions of ``y [n, k]`` (or ``[n]``) from ``[z, 1]`` (``z [n, d]``)."""
    design = np.hstack([z, np.ones((len(z), 1))])
    coef, *_ = np.linalg.lstsq(design, y, rcond=None)
    return design @ coef


def belief_probe_error(traces: pd.DataFrame, key: str = "mean") -> pd.DataFrame:
    """How well a linear read-out of the belief recovers the true task, per step.

    For each run, least squares maps ``[belief_<key>, 1]`` to the true task vector over all steps of the
    run's final-evaluation trace (an in-sample linear probe: descriptive, not a generalization score);
    the error of a step is ``||prediction - true_task|| / sqrt(mean ||true_task - mean||^2)`` (1 = no
    better than predicting the mean task). Returns ``traces`` rows of runs with that belief, with an added
    ``probe_error`` column.
    """
    col = f"belief_{key}"
    if col not in traces.columns:
        return traces.iloc[0:0].assign(probe_error=pd.Series(dtype=float))
    parts = []
    for _, run in traces[traces[col].notna()].groupby(["suite", "method", "seed"], sort=True):
        run = _sorted(run)
        z = stack_column(run[col])
        y = stack_column(run["true_task"])
        scale = np.sqrt(np.mean(np.sum((y - y.mean(axis=0)) ** 2, axis=1)))
        err = np.linalg.norm(linear_readout(z, y) - y, axis=1) / (scale if scale > 0 else 1.0)
        parts.append(run.assign(probe_error=err))
    if not parts:
        return traces.iloc[0:0].assign(probe_error=pd.Series(dtype=float))
    return pd.concat(parts, ignore_index=True)


def pca_2d(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Project ``x[n, d]`` on its first two principal components (numpy SVD).

    Returns:
        ``(coords[n, 2], explained[2])``: coordinates (zero-padded when ``d < 2``) and the fraction of
        variance each component explains. Component signs are fixed so that the largest-magnitude loading
        is positive (deterministic output).
    """
    x = np.asarray(x, dtype=float)
    centered = x - x.mean(axis=0, keepdims=True)
    _, s, vt = np.linalg.svd(centered, full_matrices=False)
    k = min(2, vt.shape[0])
    signs = np.sign(vt[np.arange(k), np.argmax(np.abs(vt[:k]), axis=1)])
    signs[signs == 0] = 1.0
    coords = np.zeros((len(x), 2))
    coords[:, :k] = centered @ (vt[:k].T * signs)
    var = s**2
    explained = np.zeros(2)
    if var.sum() > 0:
        explained[:k] = var[:k] / var.sum()
    return coords, explained


def task_colour(true_task: np.ndarray) -> tuple[np.ndarray, str]:
    """One scalar per task vector ``[n, d]`` for colouring: the value itself (d = 1) or its first
    principal component (d > 1). Returns ``(values[n], label)``."""
    if true_task.shape[1] == 1:
        return true_task[:, 0], "true task"
    coords, _ = pca_2d(true_task)
    return coords[:, 0], "true task (PC1)"


@dataclass(frozen=True)
class BeliefProjection:
    """2-D PCA of one run's beliefs.

    Attributes:
        suite, method, seed: the run.
        key: belief name.
        coords: ``[n, 2]`` projected beliefs (one per recorded step, subsampled).
        colour: ``[n]`` scalar of the true task at that step (see :func:`task_colour`).
        colour_label: what ``colour`` is.
        true_task: ``[n, d]`` the true task vectors (for hover text).
        explained: ``[2]`` fraction of belief variance on each axis.
    """

    suite: str
    method: str
    seed: int
    key: str
    coords: np.ndarray
    colour: np.ndarray
    colour_label: str
    true_task: np.ndarray
    explained: np.ndarray


def belief_projections(
    traces: pd.DataFrame, key: str = "mean", max_points: int = 1500
) -> list[BeliefProjection]:
    """PCA of the ``belief_<key>`` trace of the lowest seed of each (suite, method) exposing it.

    Latent spaces of different seeds are not aligned (separately trained encoders), so one seed is shown
    per method. At most ``max_points`` steps are kept (an even stride: deterministic, no RNG).
    """
    col = f"belief_{key}"
    if col not in traces.columns:
        return []
    out = []
    have = traces[traces[col].notna()]
    for (suite, method), g in have.groupby(["suite", "method"], sort=True):
        seed = int(g["seed"].min())
        run = _sorted(g[g["seed"] == seed])
        stride = max(1, int(np.ceil(len(run) / max_points)))
        run = run.iloc[::stride]
        z = stack_column(run[col])
        y = stack_column(run["true_task"])
        coords, explained = pca_2d(z)
        colour, label = task_colour(y)
        out.append(BeliefProjection(str(suite), str(method), seed, key, coords, colour, label, y, explained))
    return out


@dataclass(frozen=True)
class TraceView:
    """One trial of one run laid out over time, for the report's trace figure.

    Attributes:
        time: ``[n]`` step of the trial (``episode * horizon + t``; time runs across episodes).
        reward: ``[n]`` reward of each step.
        true_task: ``[n, d]`` the true task vector in force at each step.
        belief_pc1: ``[n]`` the belief's first principal component (None without a belief).
        belief_explained: fraction of belief variance on that component (NaN without a belief).
        switches: trial steps at which the task switched (:func:`switch_times`).
        episode_starts: trial steps at which the second and later episodes start.
        achieved: ``[n, d]`` what the agent achieved in the task's units (None where the traces have none).
    """

    time: np.ndarray
    reward: np.ndarray
    true_task: np.ndarray
    belief_pc1: np.ndarray | None
    belief_explained: float
    switches: list[int]
    episode_starts: list[int]
    achieved: np.ndarray | None = None


def trace_view(run: pd.DataFrame, belief_key: str | None = None) -> TraceView:
    """:class:`TraceView` of trace rows of one (suite, method, seed, task_id), every episode of the trial.

    With ``belief_key``, the run's ``belief_<key>`` is projected on its first principal component
    (:func:`pca_2d`).
    """
    run = run.sort_values(["episode", "t"])
    horizon = int(run["t"].max()) + 1
    time = (run["episode"] * horizon + run["t"]).to_numpy()
    pc1, explained = None, float("nan")
    if belief_key:
        coords, var = pca_2d(stack_column(run[f"belief_{belief_key}"]))
        pc1, explained = coords[:, 0], float(var[0])
    sw = switch_times(run)
    return TraceView(
        time=time,
        reward=run["reward"].to_numpy(),
        true_task=stack_column(run["true_task"]),
        belief_pc1=pc1,
        belief_explained=explained,
        switches=[int(e * horizon + t) for e, t in zip(sw["episode"], sw["t"], strict=True)],
        episode_starts=[e * horizon for e in range(1, int(run["episode"].max()) + 1)],
        achieved=stack_column(run["achieved"]) if has_achieved(run) else None,
    )


def has_achieved(traces: pd.DataFrame) -> bool:
    """Whether every row of ``traces`` has an ``achieved`` value."""
    return "achieved" in traces and bool(traces["achieved"].notna().all()) and not traces.empty
