"""Config value types: :class:`ConfigError` and :func:`coerce`, the lossless conversion of YAML / ``--set``
values to a config field's type (used by :mod:`harness.config` and :mod:`harness.config_fields`)."""

from __future__ import annotations

import types
import typing
from typing import Any, Literal, Union


class ConfigError(ValueError):
    """A config source has an unknown key or a value of the wrong type."""


# ------------------------------------------------------------------------------------------ type coercion


def type_name(tp: Any) -> str:
    if isinstance(tp, type):
        return tp.__name__
    return str(tp).replace("typing.", "")


def _is_union(tp: Any) -> bool:
    return typing.get_origin(tp) in (Union, types.UnionType)


def _coerce_union(value: Any, tp: Any) -> Any:
    args = typing.get_args(tp)
    if value is None or (isinstance(value, str) and value.lower() in ("none", "null")):
        if type(None) in args:
            return None
    for arg in (a for a in args if a is not type(None)):
        try:
            return coerce(value, arg)
        except (TypeError, ValueError):
            continue
    raise TypeError(f"expected {type_name(tp)}, got {value!r}")


def _coerce_sequence(value: Any, tp: Any) -> Any:
    origin = typing.get_origin(tp)
    if not isinstance(value, (list, tuple)):
        raise TypeError(f"expected a list for {type_name(tp)}, got {value!r}")
    args = typing.get_args(tp)
    if origin is tuple and args and args[-1] is not Ellipsis:
        if len(args) != len(value):
            raise ValueError(f"expected {len(args)} items for {type_name(tp)}, got {len(value)}")
        return tuple(coerce(v, a) for v, a in zip(value, args, strict=True))
    item = args[0] if args else Any
    items = [coerce(v, item) for v in value]
    return tuple(items) if origin is tuple else items


def _coerce_scalar(value: Any, tp: type) -> Any:
    if isinstance(value, bool) and tp is not bool:
        raise TypeError(f"expected {tp.__name__}, got {value!r}")
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise TypeError(f"expected bool (true/false), got {value!r}")
    if tp is int:
        if isinstance(value, int):
            return value
        number = float(value) if isinstance(value, (float, str)) else None  # "1e6" -> 1000000
        if number is not None and number.is_integer():
            return int(number)
        raise TypeError(f"expected int, got {value!r}")
    if tp is float:
        if isinstance(value, (int, float, str)):
            return float(value)  # ValueError for non-numeric strings
        raise TypeError(f"expected float, got {value!r}")
    if tp is str:
        if isinstance(value, (str, int, float)):
            return str(value)  # --set name=123 reads as a number
        raise TypeError(f"expected str, got {value!r}")
    if isinstance(value, tp):
        return value
    raise TypeError(f"expected {tp.__name__}, got {value!r}")


def coerce(value: Any, tp: Any) -> Any:
    """Return ``value`` converted to type ``tp``, or raise ``TypeError``/``ValueError``.

    Supported: ``int``, ``float``, ``bool``, ``str``, ``Literal[...]``, ``X | None`` / ``Optional[X]``,
    unions of those, ``tuple[X, ...]``, ``tuple[X, Y]`` and ``list[X]``. Conversions are lossless only:
    a float field takes ints and numeric strings (``"1e-3"``, which YAML reads as a string), an int field
    takes integral floats (``1e6``); a bool is never taken as a number.
    """
    if tp is Any:
        return value
    origin = typing.get_origin(tp)
    if _is_union(tp):
        return _coerce_union(value, tp)
    if origin is Literal:
        choices = typing.get_args(tp)
        if value in choices and type(value) in {type(c) for c in choices}:
            return value
        raise ValueError(f"expected one of {list(choices)}, got {value!r}")
    if origin in (tuple, list):
        return _coerce_sequence(value, tp)
    if isinstance(tp, type):
        return _coerce_scalar(value, tp)
    raise TypeError(f"unsupported config field type {type_name(tp)}")
