#!/usr/bin/env bash
# GPU check for a lent CUDA machine, unattended, under 8 minutes: the CUDA-only tests (the SAC update
# replayed from a CUDA graph against the eager one, MoSS's and PEARL's steps too; PEARL's checkpoint
# reloaded on the GPU), the SAC update benchmark (CUDA graph vs eager), the iteration benchmark of MoSS
# and PEARL with --device cuda (paper schedule on cheetah-vel), then a smoke run of every method with
# --device cuda, each resumed from its checkpoint (meta.json marked failed, then the same command again),
# and a table.
# Step limits add up to 7 minutes (60 + 60 + 90 + 60 + 90 + 60 s).
# Usage (from anywhere): bash benchmarks/gpu.sh [OUT_DIR]   (default: a temporary directory)
# DEVICE=cpu bash benchmarks/gpu.sh rehearses the same steps on the CPU (slower; no CUDA check).
# Exit codes: 0 all passed, 1 a step failed, 2 no CUDA device.
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
OUT=${1:-$(mktemp -d -t harness-gpu-XXXX)}
mkdir -p "$OUT"
DEVICE=${DEVICE:-cuda}
if [ "$DEVICE" = cuda ] && ! "$PY" -c "import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)" 2>/dev/null; then
    echo "benchmarks/gpu.sh: no CUDA device visible to PyTorch ($("$PY" -c 'import torch; print("torch", torch.__version__, "cuda build:", torch.version.cuda)' 2>&1)); nothing run." >&2
    exit 2
fi
"$PY" -c "import sys, torch; print('device:', torch.cuda.get_device_name(0) if sys.argv[1] == 'cuda' else 'cpu',
          '| torch', torch.__version__)" "$DEVICE"
start=$(date +%s)
rows=()
fail=0
step() {  # step NAME LIMIT_S CMD...: run with a time limit, record pass/fail and seconds
    local name=$1 limit=$2; shift 2
    local t0=$(date +%s) status=pass
    if ! timeout "$limit" "$@" >"$OUT/$name.log" 2>&1; then status=FAIL; fail=1; fi
    rows+=("$(printf '%-34s %-5s %4ss' "$name" "$status" "$(( $(date +%s) - t0 ))")")
    [ "$status" = pass ] || tail -n 20 "$OUT/$name.log"
}
step cuda-tests 60 "$PY" -m pytest -q -p no:cacheprovider -rs tests/methods/test_sac_graph.py \
    tests/methods/test_pearl_units.py -k "graph or cuda"
step sac-update 60 "$PY" -m benchmarks.bench_sac_update --device "$DEVICE" --no-sb3 --no-compile \
    --updates 300 --repeats 3
step iteration-moss 90 "$PY" -m benchmarks.bench_iteration --methods moss --device "$DEVICE" --full
step iteration-pearl 60 "$PY" -m benchmarks.bench_iteration --methods pearl --device "$DEVICE" --sac-steps 500
methods=$("$PY" -c "from harness.registry import list_methods; print(','.join(list_methods()))")
run=("$PY" -m harness run --suite cheetah-vel --method "$methods" --profile smoke --device "$DEVICE" --seeds 0
     --out "$OUT/smoke")
step smoke-all-methods 90 "${run[@]}"
# As if every run was killed after its last checkpoint: the same command resumes each from it.
"$PY" - "$OUT/smoke" <<'PYEOF'
import json, pathlib, sys
for path in pathlib.Path(sys.argv[1]).glob("*/*/seed=*/meta.json"):
    meta = json.loads(path.read_text())
    meta["status"] = "failed"
    path.write_text(json.dumps(meta))
PYEOF
step resume-all-methods 60 "${run[@]}"
resumed=$(grep -c "resuming at" "$OUT/resume-all-methods.log" || true)
n=$(echo "$methods" | tr ',' '\n' | wc -l)
rows+=("$(printf '%-34s %s' "runs resumed from a checkpoint" "$resumed of $n")")
[ "$resumed" = "$n" ] || fail=1
echo
echo "== benchmarks/gpu.sh summary ($(( $(date +%s) - start )) s; logs in $OUT) =="
grep -h -E "passed|failed|skipped|graph vs eager" "$OUT/cuda-tests.log" | tail -n 4
grep -h -E "^ *(hidden|[0-9]+x[0-9]+) |CUDA graph / eager" "$OUT/sac-update.log"
grep -h -E "^(moss|pearl) on|^  (collect|encoder|belief|sac|sample|other) |ratio" "$OUT"/iteration-*.log
printf '%s\n' "${rows[@]}"
exit $fail
