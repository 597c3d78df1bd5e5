"""Seed derivation: every random stream of a run is a pure function of the run's seed and a name.

No module here touches a global RNG. ``derive_seed(seed, "env", 3, "episode", 7)`` gives the same 32-bit
seed on every machine and Python version (string keys are hashed with CRC32, not ``hash()``).
"""

from __future__ import annotations

import zlib

import numpy as np


def _key(part: int | str) -> int:
    if isinstance(part, str):
        return zlib.crc32(part.encode("utf-8"))
    if isinstance(part, (int, np.integer)):
        if part < 0:
            raise ValueError(f"seed components must be non-negative, got {part}")
        return int(part)
    raise TypeError(f"seed components must be int or str, got {type(part).__name__}")


#: Seeds are below 2**32 (what numpy and torch seed from; run folders ``seed=<k>`` use the same range).
SEED_LIMIT = 2**32


def check_seed(seed: int) -> int:
    """Return ``seed`` if it is an integer in ``0 .. 2**32 - 1``, else raise ``ValueError`` naming it."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    if not 0 <= seed < SEED_LIMIT:
        raise ValueError(f"seed must be in 0..2**32-1, got {seed}")
    return int(seed)


def derive_seed(seed: int, *keys: int | str) -> int:
    """A 32-bit seed derived from ``seed`` and ``keys`` (deterministic, well mixed)."""
    ss = np.random.SeedSequence([check_seed(seed), *(_key(k) for k in keys)])
    return int(ss.generate_state(1, dtype=np.uint32)[0])


def derive_rng(seed: int, *keys: int | str) -> np.random.Generator:
    """A numpy ``Generator`` whose stream is a pure function of ``seed`` and ``keys``."""
    return np.random.default_rng(np.random.SeedSequence([check_seed(seed), *(_key(k) for k in keys)]))
