"""Checkpoints that cannot carry code: ``torch.load(weights_only=True)`` plus a generic encoding of values.

A method's ``state_dict`` may hold what ``weights_only`` loading refuses: numpy arrays (replay buffers,
running statistics), numpy scalars, ``bytes``. :func:`encode` maps them to tensors and plain values with a
marker, and :func:`decode` maps them back, so methods need no change; everything else must already be a
tensor or a plain Python value (``dict``, ``list``, ``tuple``, ``str``, ``int``, ``float``, ``bool``, None).
Random generator states (``rng.bit_generator.state``) are dicts of ints and strings (MT19937's key is a
numpy array), so they go through unchanged or encoded.

:func:`save_checkpoint` writes ``{"format": FORMAT, ...}`` atomically; :func:`load_checkpoint` reads it with
``weights_only=True`` and raises :class:`CheckpointError` (never unpickles arbitrary objects) for a file
that is damaged, written by an older harness (plain pickles of numpy arrays), or crafted.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np
import torch

from harness import store

#: ``format`` entry of every checkpoint written by this module.
FORMAT = "metarl-harness-checkpoint/2"
_NDARRAY = "__harness_ndarray__"
_BYTES = "__harness_bytes__"


class CheckpointError(ValueError):
    """A checkpoint cannot be saved or loaded safely (damaged, old format, crafted, unsupported value)."""


def config_hash(record: dict[str, Any]) -> str:
    """SHA-256 of a run's resolved config (the ``config.yaml`` mapping), independent of key order."""
    text = json.dumps(record, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# -------------------------------------------------------------------------------------------- encoding


def _encode_array(arr: np.ndarray, where: str, scalar: bool) -> dict[str, Any]:
    if arr.dtype.hasobject:
        raise CheckpointError(f"cannot checkpoint {where}: numpy array of Python objects (dtype object)")
    flat = np.ascontiguousarray(arr).reshape(-1)
    return {
        _NDARRAY: torch.from_numpy(flat.view(np.uint8).copy()),
        "descr": np.lib.format.dtype_to_descr(arr.dtype),
        "shape": list(arr.shape),
        "scalar": scalar,
    }


def encode(obj: Any, where: str = "state") -> Any:
    """``obj`` with numpy arrays, numpy scalars and bytes replaced by tensor records (see :func:`decode`).

    Raises:
        CheckpointError: a value that ``weights_only`` loading cannot read back (its path is named).
    """
    if isinstance(obj, np.generic):  # before the primitives: np.float64 is a float subclass
        return _encode_array(np.asarray(obj), where, scalar=True)
    if obj is None or isinstance(obj, (bool, int, float, str, torch.Tensor, torch.dtype, torch.device)):
        return obj
    if isinstance(obj, np.ndarray):
        return _encode_array(obj, where, scalar=False)
    if isinstance(obj, (bytes, bytearray)):
        return {_BYTES: torch.from_numpy(np.frombuffer(bytes(obj), dtype=np.uint8).copy())}
    if isinstance(obj, dict):
        out: dict[Any, Any] = OrderedDict() if isinstance(obj, OrderedDict) else {}
        for key, value in obj.items():
            if not isinstance(key, (str, int)) or isinstance(key, bool):
                raise CheckpointError(f"cannot checkpoint {where}: dict key {key!r} is not a str or int")
            out[key] = encode(value, f"{where}.{key}")
        if hasattr(obj, "_metadata"):  # torch module state dicts carry their version metadata
            out._metadata = obj._metadata  # type: ignore[attr-defined]
        return out
    if isinstance(obj, (list, tuple)):
        items = [encode(v, f"{where}[{i}]") for i, v in enumerate(obj)]
        return tuple(items) if isinstance(obj, tuple) else items
    raise CheckpointError(
        f"cannot checkpoint {where}: values of type {type(obj).__name__} are not supported "
        "(use tensors, numpy arrays or plain Python values)"
    )


def decode(obj: Any) -> Any:
    """Inverse of :func:`encode` (arrays come back writable, with their dtype and shape)."""
    if isinstance(obj, dict):
        if _NDARRAY in obj:
            raw = obj[_NDARRAY].cpu().numpy()
            arr = raw.view(np.lib.format.descr_to_dtype(obj["descr"])).reshape(obj["shape"]).copy()
            return arr[()] if obj.get("scalar") else arr
        if _BYTES in obj:
            return obj[_BYTES].cpu().numpy().tobytes()
        out: dict[Any, Any] = OrderedDict() if isinstance(obj, OrderedDict) else {}
        for key, value in obj.items():
            out[key] = decode(value)
        if hasattr(obj, "_metadata"):
            out._metadata = obj._metadata  # type: ignore[attr-defined]
        return out
    if isinstance(obj, list):
        return [decode(v) for v in obj]
    if isinstance(obj, tuple):
        return tuple(decode(v) for v in obj)
    return obj


# ----------------------------------------------------------------------------------------- save / load


def save_checkpoint(path: Path | str, payload: dict[str, Any]) -> None:
    """Atomically write ``payload`` (encoded, with the ``format`` entry) to ``path``."""
    data = encode(dict(payload))
    data["format"] = FORMAT
    store.write_torch(path, data)


def _load_raw(path: Path, map_location: Any, mmap: bool) -> dict[str, Any]:
    if not path.is_file():
        raise CheckpointError(f"{path}: no checkpoint file")
    try:
        data = torch.load(path, map_location=map_location, weights_only=True, mmap=mmap)
    except Exception as err:  # the unpickler raises many types for damaged or unsafe files
        lines = [ln.strip() for ln in str(err).splitlines() if ln.strip()]
        why = next((ln for ln in lines if ln.startswith("WeightsUnpickler error")), lines[0] if lines else "")
        raise CheckpointError(
            f"{path} cannot be loaded safely ({type(err).__name__}: {why[:200]}); it is damaged, "
            "written by an older harness, or not a harness checkpoint"
        ) from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a {FORMAT} checkpoint")
    return data


def load_checkpoint(path: Path | str, map_location: Any = "cpu") -> dict[str, Any]:
    """Read a checkpoint written by :func:`save_checkpoint` (``weights_only=True``: no code runs).

    Raises:
        CheckpointError: missing, damaged, old-format or crafted file (the message says which file).
    """
    data = _load_raw(Path(path), map_location, mmap=False)
    data.pop("format", None)
    return dict(decode(data))


def read_record(path: Path | str) -> dict[str, Any]:
    """The ``record`` (resolved config) and ``config_hash`` stored in a checkpoint, read cheaply (mmap).

    Raises:
        CheckpointError: as :func:`load_checkpoint`, or the checkpoint stores no record.
    """
    data = _load_raw(Path(path), "cpu", mmap=True)
    record = data.get("record")
    if not isinstance(record, dict):
        raise CheckpointError(f"{path} stores no config record")
    return {"record": decode(record), "config_hash": data.get("config_hash")}


def zip_problem(path: Path | str) -> str | None:
    """None when ``path`` is an intact zip checkpoint (every member's CRC checked, nothing unpickled),
    else what is wrong."""
    try:
        with zipfile.ZipFile(path) as zf:
            bad = zf.testzip()
    except (OSError, zipfile.BadZipFile, EOFError, ValueError) as err:
        return f"{Path(path).name} corrupt ({type(err).__name__})"
    return f"{Path(path).name} corrupt (bad CRC in {bad})" if bad is not None else None
