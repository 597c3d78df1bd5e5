"""Shared test setup: one torch thread per test process (tests run under pytest-xdist on 2 cores)."""

from __future__ import annotations

import os

import torch  # noqa: E402

torch.set_num_threads(1)
