"""Helpers shared by the benchmark scripts: CPU-time clocks, interleaved repeats, matmul FLOPs and rates.

Benchmarks run from the repository root as modules (``python -m benchmarks.bench_sac_update``) so that
they import this checkout's packages. On a shared machine wall time measures the neighbours as much as
the code: the scripts report CPU time of this process (``time.process_time``), repeat the compared
variants interleaved (A, B, A, B, ...) and print medians.
"""

from __future__ import annotations

import itertools
import statistics
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

import torch

#: A matrix product ``[M, K] @ [K, N]``.
MatmulShape = tuple[int, int, int]


def sync(device: torch.device | str) -> None:
    """Wait for queued CUDA work (no-op on CPU) so that clocks measure finished work."""
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


def clock(device: torch.device | str) -> float:
    """CPU time of this process on CPU (robust to other jobs), wall time on CUDA (the GPU works alone)."""
    return time.perf_counter() if torch.device(device).type == "cuda" else time.process_time()


@dataclass
class PhaseTimer:
    """Accumulates seconds per named phase (``with timer.phase("collect"): ...``)."""

    device: torch.device | str = "cpu"
    seconds: dict[str, float] = field(default_factory=dict)

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        sync(self.device)
        start = clock(self.device)
        try:
            yield
        finally:
            sync(self.device)
            self.seconds[name] = self.seconds.get(name, 0.0) + clock(self.device) - start

    def wrap(self, name: str, fn: Callable[..., object]) -> Callable[..., object]:
        """``fn`` timed under ``name`` on every call."""
        def timed(*args: object, **kwargs: object) -> object:
            with self.phase(name):
                return fn(*args, **kwargs)
        return timed


def interleaved(variants: dict[str, Callable[[], float]], repeats: int) -> dict[str, float]:
    """Run each variant's ``() -> rate`` ``repeats`` times, interleaved; the median rate of each."""
    rates: dict[str, list[float]] = {k: [] for k in variants}
    for _ in range(repeats):
        for name, fn in variants.items():
            rates[name].append(fn())
    return {k: statistics.median(v) for k, v in rates.items()}


def mlp_layers(in_dim: int, hidden: Sequence[int], out_dim: int) -> list[tuple[int, int]]:
    """``(fan_in, fan_out)`` of each linear layer of an MLP."""
    dims = [in_dim, *hidden, out_dim]
    return list(itertools.pairwise(dims))


def linear_matmuls(
    batch: int, layers: list[tuple[int, int]], forward: bool = True, weight_grad: bool = False,
    input_grad: str = "none",
) -> list[MatmulShape]:
    """Matrix products of a pass of an MLP over ``batch`` rows.

    Args:
        forward: ``x @ W`` per layer.
        weight_grad: ``x^T @ dy`` per layer.
        input_grad: ``"all"`` (``dy @ W^T`` per layer), ``"hidden"`` (all but the first layer: the input
            needs no gradient) or ``"none"``.
    """
    out: list[MatmulShape] = []
    for i, (fi, fo) in enumerate(layers):
        if forward:
            out.append((batch, fi, fo))
        if weight_grad:
            out.append((fi, batch, fo))
        if input_grad == "all" or (input_grad == "hidden" and i > 0):
            out.append((batch, fo, fi))
    return out


def sac_update_matmuls(batch: int, obs_dim: int, act_dim: int, hidden: Sequence[int],
                       num_q: int = 2) -> list[MatmulShape]:
    """Matrix products of one SAC update (critic step, actor step; Adam and elementwise work excluded).

    Critic loss: actor on s' (no grad), ``num_q`` target critics on (s', a'), ``num_q`` critics forward and
    backward (weight grads; the input needs none). Actor loss: actor forward and backward, ``num_q`` critics
    forward and backward to the action only (no weight grads).
    """
    actor = mlp_layers(obs_dim, hidden, 2 * act_dim)
    critic = mlp_layers(obs_dim + act_dim, hidden, 1)
    mm: list[MatmulShape] = []
    mm += linear_matmuls(batch, actor)  # next action (target)
    mm += num_q * linear_matmuls(batch, critic)  # target critics
    mm += num_q * linear_matmuls(batch, critic, weight_grad=True, input_grad="hidden")  # critic step
    mm += linear_matmuls(batch, actor, weight_grad=True, input_grad="hidden")  # actor step
    mm += num_q * linear_matmuls(batch, critic, input_grad="all")  # dQ/da through the critics
    return mm


def flops(shapes: Sequence[MatmulShape]) -> int:
    """Multiply-add FLOPs (2 M K N) of the products."""
    return sum(2 * m * k * n for m, k, n in shapes)


def matmul_seconds(shape: MatmulShape, device: torch.device | str, min_time: float = 0.05) -> float:
    """Median seconds of one ``torch.mm`` at ``shape`` on ``device`` (this process's CPU time on CPU)."""
    m, k, n = shape
    a = torch.randn(m, k, device=device)
    b = torch.randn(k, n, device=device)
    out = torch.empty(m, n, device=device)
    for _ in range(3):
        torch.mm(a, b, out=out)
    reps = 8
    samples: list[float] = []
    while True:
        sync(device)
        start = clock(device)
        for _ in range(reps):
            torch.mm(a, b, out=out)
        sync(device)
        elapsed = clock(device) - start
        if elapsed < min_time and not samples:
            reps *= 4
            continue
        samples.append(elapsed / reps)
        if len(samples) >= 5:
            return statistics.median(samples)


def arithmetic_limit(shapes: Sequence[MatmulShape], device: torch.device | str,
                     min_time: float = 0.05) -> float:
    """Seconds the products take back to back at this core's measured ``torch.mm`` speed per shape."""
    counts: dict[MatmulShape, int] = {}
    for s in shapes:
        counts[s] = counts.get(s, 0) + 1
    return sum(c * matmul_seconds(s, device, min_time) for s, c in counts.items())
