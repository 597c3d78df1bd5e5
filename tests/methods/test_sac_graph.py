"""The SAC update replayed from a CUDA graph (``methods.common.sac_graph``) against the eager update.

The CUDA tests run where a GPU is visible (``benchmarks/gpu.sh`` runs them on a lent machine); on the CPU the
option is ignored, which the first test checks.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from methods.common.replay import ReplayBuffer
from methods.common.sac import SAC, SACConfig
from methods.common.sac_graph import WARMUP
from methods.moss.config import MossConfig
from methods.moss.inference import belief_feature_dim
from methods.moss.policy import BeliefSAC

CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
OBS, ACT, BATCH = 7, 3, 64


def _buffer(device: str, terminal: bool = False) -> ReplayBuffer:
    rng = np.random.default_rng(0)
    n = 2_000
    buf = ReplayBuffer(OBS, ACT, n, np.random.default_rng(1), device)
    reward = np.ones(n) if terminal else rng.normal(size=n)
    buf.add_transitions(rng.normal(size=(n, OBS)), rng.uniform(-1, 1, (n, ACT)), reward,
                        rng.normal(size=(n, OBS)), np.full(n, terminal), np.arange(n) % 100 == 0)
    return buf


def _train(device: str, graph: bool, steps: int, terminal: bool = False
           ) -> tuple[SAC, list[dict[str, float]]]:
    torch.manual_seed(0)  # seeds the CUDA generators too
    sac = SAC(OBS, ACT, SACConfig(hidden=(32, 32), batch_size=BATCH, cuda_graph=graph), device)
    buf = _buffer(device, terminal)
    return sac, [sac.update(buf.sample(BATCH)) for _ in range(steps)]


def test_cuda_graph_is_ignored_on_cpu() -> None:
    a, stats_a = _train("cpu", True, 6)
    b, stats_b = _train("cpu", False, 6)
    assert a._graphed is None
    assert stats_a == stats_b
    for p, q in zip(a.actor.parameters(), b.actor.parameters(), strict=True):
        assert torch.equal(p, q)


@CUDA
def test_graph_replays_the_eager_update() -> None:
    """Same seed, same batches: the graphed updates (warm-up, capture, replays) match the eager ones."""
    steps = WARMUP + 6
    a, stats_a = _train("cuda", True, steps)
    b, stats_b = _train("cuda", False, steps)
    assert a._graphed is not None and a._graphed.graph is not None and b._graphed is None
    assert a.num_updates == b.num_updates == steps
    diffs = [float((p - q).detach().abs().max()) for p, q in zip(a.critic.parameters(), b.critic.parameters(),
                                                        strict=True)]
    print("graph vs eager: max |critic param diff|", max(diffs), "stats", stats_a[-1], stats_b[-1])
    for sa, sb in zip(stats_a, stats_b, strict=True):
        assert sa == pytest.approx(sb, rel=1e-3, abs=1e-4)
    assert max(diffs) < 1e-4


@CUDA
def test_graph_learns_and_its_stats_are_not_aliased() -> None:
    """Terminal transitions with reward 1: Q converges to 1 through the replays; each step's stats are its
    own (a stale static output would repeat the same numbers)."""
    sac, stats = _train("cuda", True, 400, terminal=True)
    losses = [s["critic_loss"] for s in stats]
    assert len(set(losses[WARMUP + 1:WARMUP + 20])) > 15
    assert np.mean(losses[-20:]) < 0.05 * np.mean(losses[:5])
    obs = torch.randn(128, OBS, device="cuda")
    q = sac.critic(obs, sac.act(obs)).mean()
    assert float(q) == pytest.approx(1.0, abs=0.1)


@CUDA
def test_graph_survives_a_state_reload_and_another_batch_size() -> None:
    a, _ = _train("cuda", True, WARMUP + 3)
    b = SAC(OBS, ACT, SACConfig(hidden=(32, 32), batch_size=BATCH), "cuda")
    b.load_state_dict(a.state_dict())
    buf = _buffer("cuda")
    before = [p.detach().clone() for p in b.actor.parameters()]
    stats = [b.update(buf.sample(BATCH)) for _ in range(WARMUP + 3)] + [b.update(buf.sample(BATCH // 2))]
    assert all(np.isfinite(list(s.values())).all() for s in stats)
    assert b.num_updates == a.num_updates + WARMUP + 4
    assert all(not torch.equal(p, q) for p, q in zip(before, b.actor.parameters(), strict=True))
    for group in b.critic_opt.param_groups:  # the checkpointed optimizer stays plain
        assert not group["capturable"]


def _moss_policy(graph: bool, steps: int, device: str = "cuda") -> tuple[BeliefSAC, list[dict[str, float]]]:
    """MoSS's policy step (embeddings, clipped hooked SAC step) on ``steps`` random batches."""
    torch.manual_seed(0)
    cfg = MossConfig(num_classes=3, latent_dim=2, hidden=(32, 32), state_embed_dim=4, latent_embed_dim=4,
                     batch_size=BATCH, cuda_graph=graph)
    belief_dim = belief_feature_dim(cfg)
    policy = BeliefSAC(OBS, ACT, belief_dim, cfg, torch.device(device))
    gen = torch.Generator(device=device).manual_seed(1)

    def rand(*shape: int) -> torch.Tensor:
        return torch.randn(*shape, device=device, generator=gen)
    stats = []
    for _ in range(steps):
        batch = (rand(BATCH, OBS), rand(BATCH, belief_dim), rand(BATCH, ACT).tanh(), rand(BATCH),
                 rand(BATCH, OBS), rand(BATCH, belief_dim), (rand(BATCH) > 2).float())
        stats.append({k: float(v) for k, v in policy.update(*batch).items()})
    return policy, stats


def test_moss_policy_step_ignores_cuda_graph_on_cpu() -> None:
    a, stats_a = _moss_policy(True, 4, "cpu")
    _, stats_b = _moss_policy(False, 4, "cpu")
    assert a._graphed is None and stats_a == stats_b


@CUDA
def test_moss_policy_step_graph_matches_eager() -> None:
    steps = WARMUP + 6
    a, stats_a = _moss_policy(True, steps)
    b, stats_b = _moss_policy(False, steps)
    assert a._graphed is not None and a._graphed.graph is not None and b._graphed is None
    assert a.sac.num_updates == b.sac.num_updates == steps
    for sa, sb in zip(stats_a, stats_b, strict=True):
        assert sa == pytest.approx(sb, rel=1e-3, abs=1e-4)
    for p, q in zip(a.parameters(), b.parameters(), strict=True):  # embeddings too
        assert float((p - q).detach().abs().max()) < 1e-4
    c = BeliefSAC(OBS, ACT, belief_feature_dim(a.config), a.config, torch.device("cuda"))
    c.load_state_dict(a.state_dict())
    assert c._graphed is not None and c._graphed.graph is None  # captures anew after a reload
