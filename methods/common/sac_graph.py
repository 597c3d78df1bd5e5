"""The plain SAC update captured once in a CUDA graph and replayed: the GPU's speed at small networks.

On a GPU the SAC block's update is bound by kernel launches, not arithmetic: measured on an H200
(``benchmarks/gpu.sh``, 3 x 300 networks, batch 256), the eager update ran at 160 per second, about 6 ms of
Python and launch overhead around well under a millisecond of GPU work. A CUDA graph records the whole
update once (both losses, their backward passes, the three Adam steps, the Polyak update) and replays it
with one launch.

How (PyTorch's "whole-network capture" recipe): the first :data:`WARMUP` updates run eagerly on a side
stream (they are real updates; they also create the optimizers' state and the library workspaces outside the
graph); the next one is captured into the graph, reading its batch from static tensors, and replayed; every
later one copies its batch into those tensors and replays. Random draws (the actor's noise) come from the
default CUDA generator, which graphs support: each replay draws new numbers.

Scope: :meth:`SAC.update` / :meth:`SAC.update_many` (the plain step of ``sac-mt``, ``sac-oracle`` and the
benchmarks; no :class:`methods.common.sac.SacHooks`), a fixed batch size (another size runs eagerly), a
target update every step, no ``compile``. Anything that replaces the optimizers' state tensors
(``SAC.load_state_dict``) drops the graph; the next updates capture a new one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from methods.common.replay import TransitionBatch

if TYPE_CHECKING:  # pragma: no cover
    from methods.common.sac import SAC

#: Eager updates before the capture (PyTorch's recipe warms up on a side stream before capturing).
WARMUP = 3


def graph_supported(sac: SAC) -> bool:
    """Whether ``sac``'s plain update can be graphed: a CUDA device, ``config.cuda_graph``, a target update
    every step and no ``torch.compile``."""
    cfg = sac.config
    return (sac.device.type == "cuda" and cfg.cuda_graph and cfg.target_update_interval == 1
            and not cfg.compile)


class GraphedUpdate:
    """The plain SAC step of ``sac`` on a :class:`TransitionBatch`, replayed from a CUDA graph.

    ``__call__(batch) -> stats`` (detached scalar tensors, fresh each call, as :meth:`SAC.step` returns);
    the update is the same as ``sac.step(SacBatch.of(batch))`` up to float rounding.
    """

    def __init__(self, sac: SAC) -> None:
        self.sac = sac
        self.warm = 0
        self.graph: torch.cuda.CUDAGraph | None = None
        self.static: tuple[torch.Tensor, ...] = ()
        self.out: dict[str, torch.Tensor] = {}

    def _eager(self, batch: TransitionBatch) -> dict[str, torch.Tensor]:
        from methods.common.sac import SacBatch

        return self.sac.step(SacBatch.of(batch))

    @staticmethod
    def _fields(batch: TransitionBatch) -> tuple[torch.Tensor, ...]:
        return (batch.obs, batch.action, batch.reward, batch.next_obs, batch.terminated)

    def _capture(self, batch: TransitionBatch) -> None:
        from methods.common.sac import SacBatch

        sac = self.sac
        self.static = tuple(t.detach().clone() for t in self._fields(batch))
        opts = [o for o in (sac.actor_opt, sac.critic_opt, sac.alpha_opt) if o is not None]
        for opt in opts:  # Adam refuses to be captured unless capturable; eager steps stay as they were
            opt.zero_grad(set_to_none=True)
            for group in opt.param_groups:
                group["capturable"] = True
        updates = sac.num_updates
        graph = torch.cuda.CUDAGraph()
        try:
            with torch.cuda.graph(graph):
                self.out = sac.step(SacBatch(*self.static))
        finally:
            sac.num_updates = updates  # the capture recorded the update without running it
            for opt in opts:
                for group in opt.param_groups:
                    group["capturable"] = False
        self.graph = graph

    def __call__(self, batch: TransitionBatch) -> dict[str, torch.Tensor]:
        if self.warm < WARMUP:
            self.warm += 1
            side = torch.cuda.Stream(self.sac.device)
            side.wait_stream(torch.cuda.current_stream(self.sac.device))
            with torch.cuda.stream(side):
                stats = self._eager(batch)
            torch.cuda.current_stream(self.sac.device).wait_stream(side)
            return stats
        fields = self._fields(batch)
        if self.graph is None:
            self._capture(batch)
        elif any(s.shape != f.shape for s, f in zip(self.static, fields, strict=True)):
            return self._eager(batch)  # another batch size: the graph's shapes are fixed
        assert self.graph is not None
        for static, value in zip(self.static, fields, strict=True):
            static.copy_(value, non_blocking=True)
        self.graph.replay()
        self.sac.num_updates += 1
        return {k: v.clone() for k, v in self.out.items()}
