"""The SAC block's fast paths compute what the plain path computes (issue 14 item 3).

* The policy loss reads the critics with their parameters detached (``TwinQ.forward(frozen=True)``) instead
  of switching ``requires_grad`` off and on: the same gradients, bit for bit, and none reach the critics.
* ``SACConfig(compile=True)`` (losses through ``torch.compile``) agrees with the eager step up to float
  rounding, with the same random draws; where compiling fails it warns and runs the eager step.
"""

from __future__ import annotations

import warnings

import pytest
import torch

from methods.common import sac as sac_module
from methods.common.sac import SAC, SacBatch, SACConfig

OBS, ACT, BATCH = 5, 2, 16


def batches(n: int, seed: int = 0) -> list[SacBatch]:
    gen = torch.Generator().manual_seed(seed)
    return [SacBatch(torch.randn(BATCH, OBS, generator=gen), torch.rand(BATCH, ACT, generator=gen) * 2 - 1,
                     torch.randn(BATCH, generator=gen), torch.randn(BATCH, OBS, generator=gen),
                     (torch.rand(BATCH, generator=gen) < 0.1).float()) for _ in range(n)]


def make(compile: bool = False, **kw: object) -> SAC:
    torch.manual_seed(0)
    return SAC(OBS, ACT, SACConfig(hidden=(16, 16), compile=compile, **kw))  # type: ignore[arg-type]


def params(sac: SAC) -> list[torch.Tensor]:
    return [*sac.actor.parameters(), *sac.critic.parameters(), *sac.critic_target.parameters(),
            sac.log_alpha]


def test_frozen_critic_gives_the_toggled_gradients_bit_for_bit() -> None:
    sac = make()
    obs = torch.randn(BATCH, OBS)
    torch.manual_seed(1)
    loss, _ = sac.actor_loss(obs)
    loss.backward()
    frozen = [p.grad.clone() for p in sac.actor.parameters()]  # type: ignore[union-attr]
    assert all(p.grad is None for p in sac.critic.parameters())

    sac.actor.zero_grad(set_to_none=True)
    torch.manual_seed(1)  # the previous implementation: critic parameters switched off around the pass
    action, log_prob = sac.actor(obs)
    sac.critic.requires_grad_(False)
    q = sac.critic(obs, action).min(dim=0).values
    sac.critic.requires_grad_(True)
    (sac.alpha * log_prob - q).mean().backward()
    for a, b in zip(frozen, [p.grad for p in sac.actor.parameters()], strict=True):
        assert torch.equal(a, b)


def test_compile_falls_back_to_the_eager_step(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object, **kwargs: object) -> object:
        raise RuntimeError("no compiler here")

    monkeypatch.setattr(sac_module.torch, "compile", broken)
    plain = make()
    with pytest.warns(UserWarning, match="running it eagerly"):
        fallback = make(compile=True)
    data = batches(3)
    torch.manual_seed(2)
    a = [plain.step(b) for b in data]
    torch.manual_seed(2)
    b = [fallback.step(x) for x in data]
    assert all(torch.equal(x[k], y[k]) for x, y in zip(a, b, strict=True) for k in x)
    assert all(torch.equal(x, y) for x, y in zip(params(plain), params(fallback), strict=True))


def test_compile_failing_at_first_call_falls_back(monkeypatch: pytest.MonkeyPatch) -> None:
    def lazy_failure(fn: object, **kwargs: object) -> object:
        def run(*args: object) -> object:
            raise RuntimeError("backend compiler failed")
        return run

    monkeypatch.setattr(sac_module.torch, "compile", lazy_failure)
    plain, fallback = make(), make(compile=True)
    data = batches(2)
    torch.manual_seed(3)
    a = [plain.step(b) for b in data]
    torch.manual_seed(3)
    with pytest.warns(UserWarning, match="critic_loss failed"):
        b = [fallback.step(x) for x in data]
    assert all(torch.equal(x[k], y[k]) for x, y in zip(a, b, strict=True) for k in x)


@pytest.mark.parametrize("learn_alpha", [True, False])
def test_compiled_step_matches_the_eager_step(learn_alpha: bool) -> None:
    eager, fast = make(learn_alpha=learn_alpha), make(compile=True, learn_alpha=learn_alpha)
    data = batches(4)
    torch.manual_seed(4)
    a = [eager.step(b) for b in data]
    torch.manual_seed(4)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a fallback to eager would make this test vacuous
        b = [fast.step(x) for x in data]
    for x, y in zip(a, b, strict=True):
        for k in x:
            torch.testing.assert_close(y[k], x[k], rtol=1e-4, atol=1e-5)
    for p, q in zip(params(eager), params(fast), strict=True):
        torch.testing.assert_close(q, p, rtol=1e-4, atol=1e-5)
    assert fast.num_updates == eager.num_updates == 4
