"""The run context handed to a method: seed, device, run directory, logger, profile. No globals."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from harness.seeding import derive_rng, derive_seed


def resolve_device(device: str) -> torch.device:
    """``auto`` -> CUDA when available else CPU; ``cpu``/``cuda``/``cuda:N`` as given (checked)."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} requested but CUDA is not available; use 'cpu' or 'auto'")
    if device != "cpu" and not device.startswith("cuda"):
        raise ValueError(f"unknown device {device!r}; valid: auto, cpu, cuda, cuda:N")
    return torch.device(device)


@contextlib.contextmanager
def pinned_torch_threads(threads: int) -> Iterator[None]:
    """Run the block on ``threads`` torch (intra-op) threads, then restore the previous count.

    Results of float reductions depend on the thread count, so the runner pins it per job instead of
    letting it follow the machine or the worker pool.
    """
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@dataclass(frozen=True)
class RunContext:
    """Everything a method may know about the run besides its config and the suite.

    Attributes:
        seed: the run's seed; every random stream derives from it (:meth:`rng`).
        device: torch device for networks and updates.
        run_dir: the run's directory (methods may write extra artifacts there).
        profile: budget profile name (``smoke``, ``quick``, ``paper``).
        budget: total environment steps of the run (what :func:`harness.loop.fit` gives the collector to
            charge; methods read it here, e.g. to cap warm-up steps).
        logger: where methods log text.
    """

    seed: int
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    run_dir: Path = Path(".")
    profile: str = "quick"
    budget: int = 0
    logger: logging.Logger = field(default_factory=lambda: logging.getLogger("harness.run"))

    def rng(self, *keys: int | str) -> np.random.Generator:
        """A numpy generator for the named stream, e.g. ``ctx.rng("replay")``."""
        return derive_rng(self.seed, "method", *keys)

    def seed_for(self, *keys: int | str) -> int:
        """A 32-bit seed for the named stream."""
        return derive_seed(self.seed, "method", *keys)
