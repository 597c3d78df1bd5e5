"""``methods.common.optim.adam_step`` is ``opt.step()`` bit for bit (issue 14 item 3), and falls back to it
wherever its shortcut does not apply; the SAC block stepped through it matches the optimizer's own path."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
from torch import nn

from methods.common import optim as optim_module
from methods.common import sac as sac_module
from methods.common.optim import adam_step, zero_grads
from methods.common.sac import SAC, SacBatch, SACConfig


def _net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))


def _train(step: Callable[[torch.optim.Optimizer], None], steps: int = 6, reload_at: int | None = 3,
           **adam_kw: object) -> tuple[list[torch.Tensor], dict]:
    net = _net()
    opt = torch.optim.Adam(net.parameters(), lr=1e-2, **adam_kw)  # type: ignore[arg-type]
    gen = torch.Generator().manual_seed(1)
    for i in range(steps):
        if i == reload_at:  # a checkpoint reload replaces the state tensors
            opt.load_state_dict(opt.state_dict())
        zero_grads(opt)
        net(torch.randn(16, 4, generator=gen)).square().mean().backward()
        step(opt)
    return [p.detach().clone() for p in net.parameters()], opt.state_dict()


def _same(a: tuple[list[torch.Tensor], dict], b: tuple[list[torch.Tensor], dict]) -> bool:
    params_equal = all(torch.equal(x, y) for x, y in zip(a[0], b[0], strict=True))
    sa, sb = a[1]["state"], b[1]["state"]
    state_equal = all(torch.equal(sa[k][f], sb[k][f]) for k in sa for f in ("step", "exp_avg", "exp_avg_sq"))
    return params_equal and state_equal


@pytest.mark.parametrize("adam_kw", [{"fused": True}, {"foreach": True}, {"fused": True, "amsgrad": True},
                                     {"fused": True, "weight_decay": 0.1}])
def test_adam_step_is_the_optimizers_step_bit_for_bit(adam_kw: dict) -> None:
    assert _same(_train(adam_step, **adam_kw), _train(lambda o: o.step(), **adam_kw))


def test_the_shortcut_runs_for_plain_fused_adam_only(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    real = torch.optim.Adam.step
    monkeypatch.setattr(torch.optim.Adam, "step", lambda self, *a: (calls.append(1), real(self, *a))[1])
    _train(adam_step, fused=True)
    assert len(calls) == 1  # the first step initialises the state through opt.step(); then the kernel
    calls.clear()
    _train(adam_step, fused=True, amsgrad=True)
    assert len(calls) == 6  # every step through opt.step()
    plain = torch.optim.Adam(_net().parameters(), fused=True)
    assert optim_module._plain_fused_adam(plain)
    assert not optim_module._plain_fused_adam(torch.optim.Adam(_net().parameters(), foreach=True))
    assert not optim_module._plain_fused_adam(torch.optim.AdamW(_net().parameters(), fused=True))
    plain.register_step_post_hook(lambda *a: None)
    assert not optim_module._plain_fused_adam(plain)


def test_step_hooks_still_run() -> None:
    net = _net()
    opt = torch.optim.Adam(net.parameters(), fused=True)
    seen: list[int] = []
    opt.register_step_post_hook(lambda *a: seen.append(1))
    for _ in range(3):
        zero_grads(opt)
        net(torch.ones(2, 4)).sum().backward()
        adam_step(opt)
    assert seen == [1, 1, 1]


def test_parameters_without_gradient_are_skipped_as_adam_skips_them() -> None:
    def run(step: Callable[[torch.optim.Optimizer], None]) -> list[torch.Tensor]:
        net = _net()
        opt = torch.optim.Adam(net.parameters(), lr=1e-2, fused=True)
        for i in range(4):
            zero_grads(opt)
            out = net[0](torch.ones(3, 4)).sum() if i >= 2 else net(torch.ones(3, 4)).sum()
            out.backward()  # from step 2 on the last layer gets no gradient
            step(opt)
        return [p.detach().clone() for p in net.parameters()]
    assert all(torch.equal(a, b) for a, b in zip(run(adam_step), run(lambda o: o.step()), strict=True))


def test_sac_steps_through_adam_step_equal_the_optimizers_own(monkeypatch: pytest.MonkeyPatch) -> None:
    def run() -> list[torch.Tensor]:
        torch.manual_seed(0)
        sac = SAC(5, 2, SACConfig(hidden=(16, 16)))
        gen = torch.Generator().manual_seed(3)
        for _ in range(5):
            obs, act = torch.randn(8, 5, generator=gen), torch.rand(8, 2, generator=gen) * 2 - 1
            rew, next_obs = torch.randn(8, generator=gen), torch.randn(8, 5, generator=gen)
            sac.step(SacBatch(obs, act, rew, next_obs, torch.zeros(8)))
        return [*sac.actor.parameters(), *sac.critic.parameters(), *sac.critic_target.parameters(),
                sac.log_alpha]
    fast = [t.detach().clone() for t in run()]
    monkeypatch.setattr(sac_module, "adam_step", lambda opt: opt.step())
    plain = [t.detach().clone() for t in run()]
    assert all(torch.equal(a, b) for a, b in zip(fast, plain, strict=True))
