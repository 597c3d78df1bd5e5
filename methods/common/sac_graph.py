"""A SAC update captured once in a CUDA graph and replayed: the GPU's speed at small networks.

On a GPU the SAC block's update is bound by kernel launches, not arithmetic: measured on an H200
(``benchmarks/gpu.sh``, batch 256), the eager update ran at 165-180 per second at every width from 2 x 64 to
3 x 300, about 6 ms of Python and launches around well under a millisecond of GPU work; replayed from a
graph it ran at 1,440-2,300 per second (8-13x). A CUDA graph records the whole update once (the feature
networks, both losses, their backward passes, every Adam step, the Polyak update) and replays it with one
launch.

How (PyTorch's "whole-network capture" recipe): the first :data:`WARMUP` updates run eagerly on a side
stream (they are real updates; they also create the optimizers' state and the library workspaces outside the
graph); the next one is captured into the graph, reading its inputs from static tensors, and replayed; every
later one copies its inputs into those tensors and replays. Random draws (the actor's noise) come from the
default CUDA generator, which graphs support: each replay draws new numbers, the same ones the eager update
would draw (a CUDA test checks the two paths agree).

Users: :meth:`methods.common.sac.SAC.update` (``sac-mt``, ``sac-oracle``, the benchmarks), PEARL's step
(:meth:`methods.pearl.method.Pearl.update`: encoder, KL, z, critics, actor, V) and MoSS's
:class:`methods.moss.policy.BeliefSAC` (its embeddings and the hooked SAC step), where
:func:`graph_supported`. Inputs of another shape than the captured ones run eagerly. Whatever replaces the
optimizers' state tensors (``load_state_dict``) must drop the graph: its owner builds a new
:class:`GraphedStep`, which captures anew.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING

import torch

if TYPE_CHECKING:  # pragma: no cover
    from methods.common.sac import SAC

#: Eager updates before the capture (PyTorch's recipe warms up on a side stream before capturing).
WARMUP = 3


def graph_supported(sac: SAC) -> bool:
    """Whether ``sac``'s update can be graphed: a CUDA device, ``config.cuda_graph``, a target update every
    step (the Python counter decides otherwise) and no ``torch.compile``."""
    cfg = sac.config
    return (sac.device.type == "cuda" and cfg.cuda_graph and cfg.target_update_interval == 1
            and not cfg.compile)


def step_adam(params: Iterable[torch.Tensor], lr: float, graphed: bool) -> torch.optim.Adam:
    """Adam for a module trained inside a :class:`GraphedStep` (``graphed``: PyTorch's fused Adam, whose step
    count lives on the device, as a capture needs) or eagerly (PyTorch's default Adam, as the shipped CPU
    runs used)."""
    return torch.optim.Adam(params, lr=lr, fused=graphed or None)


class GraphedStep:
    """``fn(*inputs) -> stats`` (one update of ``sac`` and of the modules trained with it), replayed from a
    CUDA graph after :data:`WARMUP` eager calls.

    Args:
        fn: the eager update on tensors ``[B, ...]``; returns detached scalar stats.
        sac: the SAC block ``fn`` steps (its optimizers and update counter).
        optimizers: the other optimizers ``fn`` steps (upstream modules). Every optimizer must keep its step
            count on the device (fused Adam, as :func:`methods.common.sac._adam` builds it).

    ``__call__(*inputs) -> stats`` returns fresh tensors each call (a replay overwrites the graph's outputs).
    """

    def __init__(self, fn: Callable[..., dict[str, torch.Tensor]], sac: SAC,
                 optimizers: Sequence[torch.optim.Optimizer] = ()) -> None:
        self.fn, self.sac = fn, sac
        self.optimizers = [o for o in (sac.actor_opt, sac.critic_opt, sac.alpha_opt, *optimizers)
                           if o is not None]
        self.warm = 0
        self.graph: torch.cuda.CUDAGraph | None = None
        self.static: tuple[torch.Tensor, ...] = ()
        self.out: dict[str, torch.Tensor] = {}

    def _warm_up(self, inputs: tuple[torch.Tensor, ...]) -> dict[str, torch.Tensor]:
        device = self.sac.device
        side = torch.cuda.Stream(device)
        side.wait_stream(torch.cuda.current_stream(device))
        with torch.cuda.stream(side):
            stats = self.fn(*inputs)
        torch.cuda.current_stream(device).wait_stream(side)
        return stats

    def _capture(self, inputs: tuple[torch.Tensor, ...]) -> None:
        self.static = tuple(t.detach().clone() for t in inputs)
        for opt in self.optimizers:  # Adam refuses to be captured unless capturable; eager steps stay plain
            opt.zero_grad(set_to_none=True)
            for group in opt.param_groups:
                group["capturable"] = True
        updates = self.sac.num_updates
        graph = torch.cuda.CUDAGraph()
        try:
            with torch.cuda.graph(graph):
                self.out = self.fn(*self.static)
        finally:
            self.sac.num_updates = updates  # the capture recorded the update without running it
            for opt in self.optimizers:
                for group in opt.param_groups:
                    group["capturable"] = False
        self.graph = graph

    def __call__(self, *inputs: torch.Tensor) -> dict[str, torch.Tensor]:
        with torch.cuda.device(self.sac.device):  # streams and capture on the block's GPU (cuda:1 too)
            return self._call(inputs)

    def _call(self, inputs: tuple[torch.Tensor, ...]) -> dict[str, torch.Tensor]:
        if self.warm < WARMUP:
            self.warm += 1
            return self._warm_up(inputs)
        if self.graph is None:
            self._capture(inputs)
        elif any(s.shape != x.shape for s, x in zip(self.static, inputs, strict=True)):
            return self.fn(*inputs)  # another batch size: the graph's shapes are fixed
        assert self.graph is not None
        for static, value in zip(self.static, inputs, strict=True):
            static.copy_(value, non_blocking=True)
        self.graph.replay()
        self.sac.num_updates += 1
        return {k: v.clone() for k, v in self.out.items()}
