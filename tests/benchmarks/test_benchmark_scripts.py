"""Every benchmark script runs in its ``--smoke`` mode (seconds) and returns its figures, so none rots.

These check that the scripts run, not speed: timings in tests would only measure the CI machine.
"""

from __future__ import annotations

import math
import shutil
import subprocess
from pathlib import Path

import pytest

from benchmarks import bench_collect, bench_iteration, bench_memory, bench_sac_update, bench_workers
from benchmarks.common import flops, linear_matmuls, mlp_layers, sac_update_matmuls

pytestmark = pytest.mark.benchmark
ROOT = Path(__file__).resolve().parents[2]


def test_sac_update_flops_by_hand() -> None:
    # 1 hidden layer of 4, obs 3, act 1, batch 2: actor (3->4->2), critic (4->4->1).
    actor, critic = mlp_layers(3, [4], 2), mlp_layers(4, [4], 1)
    assert actor == [(3, 4), (4, 2)] and critic == [(4, 4), (4, 1)]
    shapes = linear_matmuls(2, critic, weight_grad=True, input_grad="hidden")
    assert shapes == [(2, 4, 4), (4, 2, 4), (2, 4, 1), (4, 2, 1), (2, 1, 4)]
    fwd_a, fwd_c = 2 * 2 * (12 + 8), 2 * 2 * (16 + 4)
    expected = (fwd_a + 2 * fwd_c  # next action, target critics
                + 2 * (3 * fwd_c - 2 * 2 * 16)  # critic step: fwd + weight grads + hidden input grads
                + 3 * fwd_a - 2 * 2 * 12  # actor step
                + 2 * 2 * fwd_c)  # dQ/da: fwd + all input grads, both critics
    assert flops(sac_update_matmuls(2, 3, 1, [4])) == expected


def test_bench_sac_update_smoke() -> None:
    row = bench_sac_update.main(["--smoke"])["16x2"]
    assert row["ours"] > 0 and row["sb3"] > 0 and 0 < row["fraction"] and math.isfinite(row["ratio"])


@pytest.mark.mujoco
def test_bench_iteration_smoke() -> None:
    out = bench_iteration.main(["--smoke"])
    assert out["moss"]["sac_steps"] == 4 and out["moss"]["ratio"] > 0
    assert out["pearl"]["sac_s"] > 0


@pytest.mark.mujoco
def test_bench_collect_smoke() -> None:
    out = bench_collect.main(["--smoke"])
    assert out["collector"] > 0 and out["ratio_batched"] > 0


def test_bench_workers_smoke() -> None:
    out = bench_workers.main(["--smoke"])
    assert out["ratio"] > 0


@pytest.mark.mujoco
def test_bench_memory_smoke() -> None:
    out = bench_memory.main(["--smoke"])
    assert 0 < out["bytes_per_transition"] < 10_000 and out["projected"] >= out["peak"]


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_gpu_script_without_cuda_says_so() -> None:
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("a CUDA device is present: benchmarks/gpu.sh would run for minutes")
    proc = subprocess.run(["bash", str(ROOT / "benchmarks" / "gpu.sh")], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 2 and "no CUDA device" in proc.stderr
