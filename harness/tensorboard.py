"""Optional TensorBoard event files of a run (``harness run --tensorboard``: ``<run dir>/tb``).

TensorBoard is an optional extra (``pip install 'metarl-harness[tensorboard]'``), imported only when a run
asks for it; ``harness run`` checks it is importable before any job starts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def make_summary_writer(logdir: Path) -> Any:
    """A ``torch.utils.tensorboard.SummaryWriter``; ``ValueError`` with install advice if unavailable."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        raise ValueError(
            "--tensorboard needs the tensorboard package: pip install 'metarl-harness[tensorboard]'"
        ) from None
    return SummaryWriter(log_dir=str(logdir))


class TensorBoardLog:
    """Training rows and evaluation scores of one run as TensorBoard scalars (x axis: env steps)."""

    def __init__(self, logdir: Path) -> None:
        self.writer = make_summary_writer(logdir)

    def train(self, row: dict[str, Any]) -> None:
        """Every numeric column of a ``train.parquet`` row as ``train/<column>``."""
        for key, value in row.items():
            if key not in ("iteration", "env_steps") and isinstance(value, (int, float)):
                self.writer.add_scalar(f"train/{key}", value, row["env_steps"])

    def eval(self, zero_shot: float, k_shot: float, env_steps: int) -> None:
        """An evaluation's zero-shot and last-episode scores."""
        self.writer.add_scalar("eval/zero_shot", zero_shot, env_steps)
        self.writer.add_scalar("eval/last_episode", k_shot, env_steps)
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()
