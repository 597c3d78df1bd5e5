"""Shared test setup: one torch thread per test process (tests run under pytest-xdist on 2 cores)."""

from __future__ import annotations

import torch

torch.set_num_threads(1)
