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

A run's ``checkpoint.pt`` is a :class:`RunCheckpoint` (the typed record the runner, the training session
and :mod:`harness.trained` share), written by :func:`save_run_checkpoint` and read by
:func:`load_run_checkpoint`; :func:`read_record` reads only its resolved config, cheaply.
"""

from __future__ import annotations

import hashlib
import json
import math
import zipfile
from collections import OrderedDict
from dataclasses import dataclass, fields
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


@dataclass(frozen=True)
class StoredRecord:
    """The resolved config of a run as its checkpoint stores it.

    Attributes:
        record: the ``config.yaml`` mapping the run was trained under.
        config_hash: :func:`config_hash` of ``record`` when it was saved (None in a crafted file).
    """

    record: dict[str, Any]
    config_hash: str | None


def read_record(path: Path | str) -> StoredRecord:
    """The ``record`` (resolved config) and ``config_hash`` stored in a checkpoint, read cheaply (mmap).

    Raises:
        CheckpointError: as :func:`load_checkpoint`, or the checkpoint stores no record.
    """
    data = _load_raw(Path(path), "cpu", mmap=True)
    record = data.get("record")
    if not isinstance(record, dict):
        raise CheckpointError(f"{path} stores no config record")
    stored_hash = data.get("config_hash")
    return StoredRecord(decode(record), stored_hash if isinstance(stored_hash, str) else None)


# ------------------------------------------------------------------------------------- run checkpoints


@dataclass
class RunCheckpoint:
    """What a run's ``checkpoint.pt`` holds (saved after each evaluation, see :mod:`harness.training`).

    Attributes:
        record: the run's resolved config (``config.yaml`` mapping); None only in a crafted file.
        config_hash: :func:`config_hash` of ``record``.
        method: the method's ``state_dict()``.
        collector: the collector's ``state_dict()`` (its ``budget_used``: env steps charged so far).
        torch_rng: torch's CPU RNG state.
        cuda_rng: the CUDA RNG states (None without CUDA).
        iteration: training iterations done (the loop continues from it).
        train_rows: ``train.parquet`` rows so far.
        eval_rows: ``eval.parquet`` rows so far.
        eval_index: evaluations done.
        next_eval: env steps at which the next evaluation is due.
        wall_time: wall seconds of every session of the run so far.
        last_scores: (zero-shot, last-episode) score of the latest evaluation.
        final: saved after the last iteration (the budget is spent).
        traces: ``traces.parquet`` bytes of the final evaluation (final checkpoints that kept traces).
    """

    record: dict[str, Any] | None
    config_hash: str | None
    method: dict[str, Any]
    collector: dict[str, Any]
    torch_rng: torch.Tensor
    cuda_rng: list[torch.Tensor] | None
    iteration: int
    train_rows: list[dict[str, Any]]
    eval_rows: list[dict[str, Any]]
    eval_index: int
    next_eval: int
    wall_time: float
    last_scores: tuple[float, float] = (math.nan, math.nan)
    final: bool = False
    traces: bytes | None = None

    @property
    def env_steps(self) -> int:
        """Env steps the run had consumed when the checkpoint was saved."""
        return int(self.collector["budget_used"])

    @classmethod
    def from_payload(cls, data: dict[str, Any], path: Path | str = "checkpoint") -> RunCheckpoint:
        """The record of a decoded checkpoint payload.

        Raises:
            CheckpointError: the payload lacks an entry every run checkpoint has (not a run checkpoint).
        """
        optional = {"record": None, "config_hash": None, "cuda_rng": None,
                    "last_scores": (math.nan, math.nan), "final": False, "traces": None}
        missing = [f.name for f in fields(cls) if f.name not in data and f.name not in optional]
        if missing:
            raise CheckpointError(f"{path} is not a run checkpoint (no {', '.join(missing)})")
        values: dict[str, Any] = {f.name: data.get(f.name, optional.get(f.name)) for f in fields(cls)}
        record = values["record"]
        values["record"] = record if isinstance(record, dict) else None
        values["last_scores"] = tuple(values["last_scores"])
        values["final"] = bool(values["final"])
        return cls(**values)


#: Entries of a run checkpoint in the order they are written.
_RUN_ENTRIES = ("record", "config_hash", "final", "traces", "method", "collector", "torch_rng", "cuda_rng",
                "iteration", "train_rows", "eval_rows", "eval_index", "next_eval", "wall_time", "last_scores")


def save_run_checkpoint(path: Path | str, ckpt: RunCheckpoint) -> None:
    """Atomically write a run's checkpoint (:func:`save_checkpoint` of its fields)."""
    save_checkpoint(path, {name: getattr(ckpt, name) for name in _RUN_ENTRIES})


def load_run_checkpoint(path: Path | str, map_location: Any = "cpu") -> RunCheckpoint:
    """Read a run's checkpoint (``weights_only=True``: no code runs).

    Raises:
        CheckpointError: missing, damaged, old-format or crafted file, or not a run checkpoint.
    """
    return RunCheckpoint.from_payload(load_checkpoint(path, map_location), path)


def zip_problem(path: Path | str) -> str | None:
    """None when ``path`` is an intact zip checkpoint (every member's CRC checked, nothing unpickled),
    else what is wrong."""
    try:
        with zipfile.ZipFile(path) as zf:
            bad = zf.testzip()
    except (OSError, zipfile.BadZipFile, EOFError, ValueError) as err:
        return f"{Path(path).name} corrupt ({type(err).__name__})"
    return f"{Path(path).name} corrupt (bad CRC in {bad})" if bad is not None else None
