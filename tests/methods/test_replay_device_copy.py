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
