"""Checkpoints load with ``weights_only=True``: every method's state round-trips, and a crafted pickle
planted in a results folder never runs (neither when ``harness run`` resumes it nor in ``load_run``)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from harness import store
from harness.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from harness.config import method_config
from harness.context import RunContext
from harness.loop import fit
from harness.registry import get_method, get_suite, list_methods
from harness.runner import Job, run_job
from harness.trained import load_run

SUITE = get_suite("point-goal")
BUILTIN = sorted(m for m in list_methods() if not m.startswith("scripted"))


class Evil:
    """Unpickling this (with ``weights_only=False``) creates the directory ``target``."""

    def __init__(self, target: Path) -> None:
        self.target = str(target)

    def __reduce__(self) -> tuple[Any, ...]:
        return (os.mkdir, (self.target,))


def plant(path: Path, marker: Path) -> None:
    """A checkpoint whose loading with ``weights_only=False`` runs code (``os.mkdir(marker)``)."""
    torch.save({"method": Evil(marker), "collector": {"budget_used": 0}}, path)


def assert_same(a: Any, b: Any, where: str = "state") -> None:
    if isinstance(a, dict):
        assert isinstance(b, dict) and list(a) == list(b), where
        for k in a:
            assert_same(a[k], b[k], f"{where}.{k}")
    elif isinstance(a, (list, tuple)):
        assert type(a) is type(b) and len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_same(x, y, f"{where}[{i}]")
    elif isinstance(a, torch.Tensor):
        assert torch.equal(a, b), where
    elif isinstance(a, (np.ndarray, np.generic)):  # (a method may load a scalar back as a 0-d array)
        assert np.asarray(a).dtype == np.asarray(b).dtype and np.array_equal(a, b), where
    else:
        assert a == b and type(a) is type(b), where


def test_codec_keeps_numpy_rng_bytes_and_module_metadata(tmp_path: Path) -> None:
    mt = np.random.Generator(np.random.MT19937(3))
    net = torch.nn.Linear(2, 3)
    state = {
        "array": np.arange(6, dtype=np.float32).reshape(2, 3), "scalar": np.float64(2.5),
        "int": np.int64(-4), "flag": np.bool_(True), "bytes": b"\x00xyz", "empty": np.zeros((0, 4)),
        "record": np.zeros(2, dtype=[("x", "<f4"), ("y", "<i8")]), "big": 2**100,
        "pcg": np.random.default_rng(1).bit_generator.state, "mt": mt.bit_generator.state,
        "nested": (1, [2.0, None, "s"]), "net": net.state_dict(),
    }
    save_checkpoint(tmp_path / "c.pt", state)
    back = load_checkpoint(tmp_path / "c.pt")
    assert_same(state, back)
    assert isinstance(back["scalar"], np.float64) and isinstance(back["array"], np.ndarray)
    assert back["net"]._metadata == state["net"]._metadata  # module versions survive
    assert back["array"].flags.writeable
    with pytest.raises(CheckpointError, match=r"state\.bad: values of type set"):
        save_checkpoint(tmp_path / "d.pt", {"bad": {1, 2}})


@pytest.mark.parametrize("name", BUILTIN)
def test_every_method_state_round_trips_with_weights_only(tmp_path: Path, name: str) -> None:
    cls = get_method(name)
    tasks = SUITE.train_tasks(0, 4)

    def trained(seed: int, budget: int) -> Any:
        method = cls(method_config(cls, SUITE, "smoke"))
        fit(method, SUITE, tasks, RunContext(seed=seed, budget=budget))
        return method

    method = trained(0, 300)
    save_checkpoint(tmp_path / "c.pt", {"method": method.state_dict()})
    fresh = trained(1, SUITE.horizon)
    fresh.load_state_dict(load_checkpoint(tmp_path / "c.pt")["method"])
    assert_same(method.state_dict(), fresh.state_dict())


def test_crafted_checkpoint_never_runs_code(tmp_path: Path) -> None:
    job = Job(suite="point-goal", method="random", seed=0, out=str(tmp_path / "exp"), profile="smoke",
              device="cpu")
    assert run_job(job).status == store.FINISHED
    ckpt = job.run_dir / store.CHECKPOINT_FILE
    marker = tmp_path / "pwned"
    plant(ckpt, marker)
    with pytest.raises(CheckpointError, match="cannot be loaded safely"):
        load_run(job.run_dir)
    assert not marker.exists()
    # a killed run holding the crafted checkpoint: set aside with a warning, trained from scratch
    store.write_json(job.run_dir / store.META_FILE, {"status": store.RUNNING})
    result = run_job(job)
    assert not marker.exists()
    assert result.status == store.FINISHED and "cannot be loaded safely" in result.warning
    assert load_run(job.run_dir).env_steps == result.env_steps
    # the same in a finished run whose frames were damaged too: rebuilt by training, never unpickled
    plant(ckpt, marker)
    (job.run_dir / store.EVAL_FILE).write_bytes(b"garbage")
    result = run_job(job)
    assert not marker.exists()
    assert result.status == store.FINISHED and "training it again" in result.warning
