#!/usr/bin/env bash
# Install metarl-harness from this checkout. Takes the CPU build of PyTorch first (on a CUDA machine, install
# the CUDA build of torch yourself before running this; pip then keeps it). Usage: scripts/install.sh [EXTRAS]
#   EXTRAS: e.g. "dev" (tests, linters, Ray, PostgreSQL client) -> pip install -e ".[dev]"
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
extras=${1:-}
if ! "$PY" -c "import torch" 2>/dev/null; then
    "$PY" -m pip install -q "torch==2.13.0"
fi
if [ -n "$extras" ]; then
    "$PY" -m pip install -q -e ".[$extras]"
else
    "$PY" -m pip install -q -e .
fi
