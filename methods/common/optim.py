"""Adam steps without the per-call overhead of ``torch.optim.Optimizer``: same kernel, same numbers.

At the SAC block's small sizes (2 x 64 networks, batch 256) one ``Adam.step()`` spends about 60 us of
Python around a ~20 us fused kernel (step hooks, profiler ranges, grouping tensors by device and dtype,
lazy-state checks), and ``zero_grad`` another ~25 us, three times per SAC update. :func:`adam_step` calls
the same ``torch._fused_adam_`` kernel with the same arguments as ``Adam.step()`` does for a plain fused
Adam, so parameters and optimizer state are bit-identical; :func:`zero_grads` is ``zero_grad(set_to_none=
True)`` without the profiler range. The optimizer object stays a ``torch.optim.Adam`` (its
``state_dict``/``load_state_dict``, its ``param_groups``' learning rate), and every case the shortcut does not
cover (another optimizer class, non-fused Adam, amsgrad, weight decay, ``maximize``, ``capturable``,
``differentiable``, a tensor learning rate, registered step hooks, state not yet initialised, parameters on
several devices or dtypes, complex or sparse tensors) runs ``opt.step()`` itself.
"""

from __future__ import annotations

import torch
from torch.optim.optimizer import _global_optimizer_post_hooks, _global_optimizer_pre_hooks

_PLAIN_FLAGS = ("amsgrad", "maximize", "capturable", "differentiable", "decoupled_weight_decay")


def zero_grads(opt: torch.optim.Optimizer) -> None:
    """Set every gradient of ``opt``'s parameters to None (``opt.zero_grad(set_to_none=True)``)."""
    for group in opt.param_groups:
        for p in group["params"]:
            p.grad = None


def _plain_fused_adam(opt: torch.optim.Optimizer) -> bool:
    """Whether ``opt`` is a one-group fused Adam with default options and no step hooks."""
    if type(opt) is not torch.optim.Adam or len(opt.param_groups) != 1:
        return False
    group = opt.param_groups[0]
    if not group["fused"] or group["weight_decay"] != 0 or isinstance(group["lr"], torch.Tensor):
        return False
    if any(group.get(flag, False) for flag in _PLAIN_FLAGS):
        return False
    hooks = (opt._optimizer_step_pre_hooks or opt._optimizer_step_post_hooks
             or _global_optimizer_pre_hooks or _global_optimizer_post_hooks)
    return not (hooks or getattr(opt, "grad_scale", None) is not None
                or getattr(opt, "found_inf", None) is not None)


def adam_step(opt: torch.optim.Optimizer) -> None:
    """``opt.step()``; for a plain fused Adam (see the module docstring) the fused kernel is called directly.

    Parameters without a gradient are skipped, as ``Adam.step()`` skips them.
    """
    if not _plain_fused_adam(opt):
        opt.step()
        return
    group = opt.param_groups[0]
    params = [p for p in group["params"] if p.grad is not None]
    if not params:
        return
    first = params[0]
    states = [opt.state.get(p) for p in params]
    if any(not s for s in states) or any(
        p.device != first.device or p.dtype != first.dtype or p.is_complex() or p.grad.is_sparse  # type: ignore[union-attr]
        for p in params
    ):
        opt.step()  # lazy state initialisation and the unusual cases: the optimizer's own path
        return
    steps = [s["step"] for s in states]  # type: ignore[index]
    beta1, beta2 = group["betas"]
    with torch.no_grad():
        torch._foreach_add_(steps, 1)
        torch._fused_adam_(
            params, [p.grad for p in params], [s["exp_avg"] for s in states],  # type: ignore[index]
            [s["exp_avg_sq"] for s in states], [], steps,  # type: ignore[index]
            amsgrad=False, lr=group["lr"], beta1=beta1, beta2=beta2, weight_decay=0.0, eps=group["eps"],
            maximize=False, grad_scale=None, found_inf=None,
        )
