"""Range checks of config values by field-name conventions, for every method's config without editing it.

:func:`range_error` is called on every value a config source sets (and on every field of a built config),
so ``--set gamma=5`` or ``batch_size=0`` fail when parsed, naming the field, the value and the valid
range, instead of training to the end or failing later on a NaN loss. Rules match the field name split on
``_`` (first matching rule wins); every float must be finite and every int within ``0 .. 2**31 - 1``:

* learning rates (a ``lr`` word): ``> 0``; ``gamma``: ``0 < gamma <= 1``; ``tau``: ``0 < tau <= 1``;
  ``gae_lambda``: ``0 <= x <= 1``; ``clip``: ``> 0``
* batch sizes (a ``batch`` word): ``1 .. 10**6``; buffers (``buffer``/``capacity``): ``1 .. 10**8``
* layer lists (``tuple[int, ...]`` fields such as ``hidden``, ``*_layers``): non-empty, widths
  ``1 .. 65536``; layer widths and sizes (``hidden``, ``layer``, ``dim``, ``size``): ``1 .. 65536``
* counts per step (``tasks_per_step``, ``episodes_per_*``, ``*_per_episode``, ``num_processes``, ``epochs``,
  ``num_minibatch``, ``meta_batch``, ``num_classes``, ``trial_episodes``, ``*_interval``, ``tbptt``,
  ``time_steps``, ``policy_num_steps``, ``num_tasks_sample``, ``behaviour_swap_steps``): ``>= 1``; shares
  (a ``share`` or ``fraction`` word): ``0 <= x <= 1``
* weights and coefficients (``weight``, ``coef``, ``coeff``, ``lambda``, ``alpha``): ``>= 0``; positive
  scales (``temperature``, ``eps``, ``std``, ``utd``, ``max_grad_norm*``, ``init_alpha``): ``> 0``; log-scale
  values (a ``log`` word) and everything else: finite. Embedding sizes may be 0 (no embedding).
"""

from __future__ import annotations

import math
import typing
from dataclasses import dataclass
from typing import Any

#: Largest int a config field takes (sizes and counts beyond this are typos or overflows).
MAX_INT = 2**31 - 1
MAX_WIDTH = 65536
MAX_BATCH = 10**6
MAX_BUFFER = 10**8


@dataclass(frozen=True)
class Range:
    """A closed or half-open interval with a text for messages."""

    low: float
    high: float
    low_open: bool = False
    text: str = ""

    def contains(self, x: float) -> bool:
        above = x > self.low if self.low_open else x >= self.low
        return above and x <= self.high


POSITIVE = Range(0.0, math.inf, low_open=True, text="> 0 and finite")
NON_NEGATIVE = Range(0.0, math.inf, text=">= 0 and finite")
UNIT_OPEN = Range(0.0, 1.0, low_open=True, text="0 < x <= 1")
UNIT = Range(0.0, 1.0, text="0 <= x <= 1")
COUNT = Range(1, MAX_INT, text=f"an integer 1 .. {MAX_INT}")
ANY_INT = Range(0, MAX_INT, text=f"an integer 0 .. {MAX_INT}")
WIDTH = Range(1, MAX_WIDTH, text=f"an integer 1 .. {MAX_WIDTH}")
BATCH = Range(1, MAX_BATCH, text=f"an integer 1 .. {MAX_BATCH} (memory)")
BUFFER = Range(1, MAX_BUFFER, text=f"an integer 1 .. {MAX_BUFFER} (memory)")
FINITE = Range(-math.inf, math.inf, text="finite")

_COUNT_NAMES = frozenset({
    "tasks_per_step", "num_processes", "epochs", "num_minibatch", "meta_batch", "num_classes",
    "trial_episodes", "tbptt", "time_steps", "policy_num_steps", "num_tasks_sample", "behaviour_swap_steps",
})
_POSITIVE_WORDS = frozenset({"temperature", "eps", "std", "utd"})
_WEIGHT_WORDS = frozenset({"weight", "coef", "coeff", "lambda", "alpha"})
_SHARE_WORDS = frozenset({"share", "fraction"})
_WIDTH_WORDS = frozenset({"hidden", "layer", "dim", "size"})  # embeddings may be 0 (none)


def _float_range(name: str, words: set[str]) -> Range:
    if "lr" in words:
        return POSITIVE
    if name == "gamma":
        return UNIT_OPEN
    if name == "tau":
        return UNIT_OPEN
    if name == "gae_lambda":
        return UNIT
    if words & _SHARE_WORDS:
        return UNIT
    if "log" in words:  # log-scale bounds (log_std_min) may be negative
        return FINITE
    if name == "clip" or name == "init_alpha" or name.startswith("max_grad_norm") or words & _POSITIVE_WORDS:
        return POSITIVE
    if words & _WEIGHT_WORDS:
        return NON_NEGATIVE
    return FINITE


def _int_range(name: str, words: set[str]) -> Range:
    if "batch" in words and name != "meta_batch":
        return BATCH
    if "buffer" in words or "capacity" in words:
        return BUFFER
    if name in _COUNT_NAMES or "per" in words or "interval" in words:
        return COUNT
    if words & _WIDTH_WORDS or name in ("sac_layers",):
        return WIDTH
    return ANY_INT


def _base_type(tp: Any) -> Any:
    """``X`` of ``X | None``; the type itself otherwise."""
    args = [a for a in typing.get_args(tp) if a is not type(None)]
    return args[0] if typing.get_origin(tp) in (typing.Union, type(int | None)) and len(args) == 1 else tp


def range_error(name: str, tp: Any, value: Any) -> str | None:
    """Why ``value`` is out of range for config field ``name`` of type ``tp`` (None when it is fine).

    The message names the value and the valid range (the caller adds the field and the source).
    """
    if value is None or isinstance(value, (bool, str)):
        return None
    words = set(name.split("_"))
    base = _base_type(tp)
    if typing.get_origin(base) is tuple and isinstance(value, tuple):
        if not value:
            return "expected a non-empty list of layer widths, got []"
        bad = [v for v in value if isinstance(v, int) and not WIDTH.contains(v)]
        return f"layer widths must each be {WIDTH.text}, got {list(value)}" if bad else None
    if isinstance(value, float):
        if not math.isfinite(value):
            return f"expected a finite number, got {value}"
        rng = _float_range(name, words)
    elif isinstance(value, int):
        rng = _int_range(name, words)
    else:
        return None
    shown = repr(value) if len(repr(value)) <= 24 else f"{float(value):.3g}"
    return None if rng.contains(value) else f"valid range: {rng.text}; got {shown}"
