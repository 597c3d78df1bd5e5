"""``scripts/moss_relabel_gap.py``: does a trained MoSS encoder read the rewards or the behaviour?"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np

from tests.helpers import ROOT, load_script


def test_prints_the_gap_of_a_toy_run_and_refuses_bad_paths(tmp_path: Path) -> None:
    run = subprocess.run([sys.executable, "-m", "harness", "run", "--suite", "point-goal-nonstat", "--method",
                          "moss,sac-oracle", "--seeds", "0", "--profile", "smoke", "--out", str(tmp_path)],
                         capture_output=True, text=True, check=False, cwd=ROOT)
    assert run.returncode == 0, run.stderr
    mod = load_script("moss_relabel_gap")
    moss = tmp_path / "point-goal-nonstat" / "moss" / "seed=0"
    out = tmp_path / "gap.json"
    assert mod.main([str(moss), "--windows", "32", "--json", str(out)]) == 0
    figures = json.loads(out.read_text())[str(moss)]
    assert figures["spread"] > 0 and np.isfinite(figures["ratio"]) and figures["reward_std"] > 0
    assert mod.main([str(tmp_path / "nowhere")]) == 2
    assert mod.main([str(tmp_path / "point-goal-nonstat" / "sac-oracle" / "seed=0")]) == 2
