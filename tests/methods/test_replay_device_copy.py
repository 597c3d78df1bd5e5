"""The replay's ``device_copy`` path (the CUDA default) samples exactly what the host path samples."""

from __future__ import annotations

import numpy as np
import torch

from methods.common.replay import MultiTaskReplay


def _fill(mt: MultiTaskReplay) -> None:
    rng = np.random.default_rng(1)
    for task, n in ((0, 1500), (1, 40), (2, 3000)):  # task 0 grows past 1,024 rows, task 2 wraps (2,048)
        obs = rng.normal(size=(n, 1)).astype(np.float32)
        mt.buffer(task).add_transitions(obs, obs * 2, obs[:, 0] + 100 * task, obs + 1, rng.random(n) < 0.05,
                                        np.arange(n) % 7 == 0, np.arange(n) % 50 == 0)


def _draws(mt: MultiTaskReplay) -> list[torch.Tensor]:
    seq = mt.sample_sequences([2, 0], 5, 4, boundary="trial", include_current=True)
    one = mt.buffer(2).sample_sequences(6, 3)
    return [*mt.sample([0, 1, 2], 9)[:5], seq.context.next_obs, seq.context.reward, seq.mask,
            seq.current.reward, one.context.obs, one.mask, *mt.sample_union(40)[:5]]


def test_device_copy_gives_the_same_batches() -> None:
    host, dev = (MultiTaskReplay(3, 1, 1, 2048, np.random.default_rng(5), device_copy=c)
                 for c in (False, True))
    for mt in (host, dev):
        _fill(mt)
    assert dev.buffer(2)._dev is not None and host.buffer(2)._dev is None
    for a, b in zip(_draws(host), _draws(dev), strict=True):
        assert torch.equal(a, b)
    reloaded = MultiTaskReplay(3, 1, 1, 2048, np.random.default_rng(0), device_copy=True)
    reloaded.load_state_dict(host.state_dict())
    for a, b in zip(_draws(host), _draws(reloaded), strict=True):
        assert torch.equal(a, b)


def test_gather_sequences_of_several_tasks_is_their_concatenation() -> None:
    """``MultiTaskReplay.gather_sequences`` (one batch for several tasks) equals each buffer's
    ``gather_sequences`` concatenated, field for field, on the host and the device-copy paths."""
    for copy in (False, True):
        mt = MultiTaskReplay(3, 1, 1, 2048, np.random.default_rng(5), device_copy=copy)
        _fill(mt)
        gen = np.random.default_rng(2)
        draws = [(2, gen.integers(0, 2048, 7)), (0, gen.integers(0, 1500, 5)), (1, np.zeros(0, np.int64)),
                 (1, gen.integers(0, 40, 3))]
        for boundary, current, length in (("episode", True, 4), ("trial", False, 3), ("segment", True, 1)):
            got = mt.gather_sequences(draws, length, boundary, current)  # type: ignore[arg-type]
            parts = [mt.buffer(t).gather_sequences(idx, length, boundary, current)  # type: ignore[arg-type]
                     for t, idx in draws]
            assert got.mask.shape == (15, length) and got.context.obs.shape == (15, length, 1)
            assert torch.equal(got.mask, torch.cat([p.mask for p in parts]))
            for field in ("obs", "action", "reward", "next_obs", "terminated"):
                for which in ("current", "context"):
                    want = torch.cat([getattr(getattr(p, which), field) for p in parts])
                    assert torch.equal(getattr(getattr(got, which), field), want), (copy, boundary, which)
