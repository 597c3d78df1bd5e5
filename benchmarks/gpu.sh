#!/usr/bin/env bash
# GPU check for a lent CUDA machine, unattended, under 8 minutes: the iteration benchmark of MoSS and PEARL
# with --device cuda (paper schedule on cheetah-vel), then a smoke run of every method with --device cuda,
# each resumed from its checkpoint (meta.json marked failed, then the same command again), and a table.
# Usage (from anywhere): bash benchmarks/gpu.sh [OUT_DIR]   (default: a temporary directory)
# Exit codes: 0 all passed, 1 a step failed, 2 no CUDA device.
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
OUT=${1:-$(mktemp -d -t harness-gpu-XXXX)}
mkdir -p "$OUT"
if ! "$PY" -c "import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)" 2>/dev/null; then
    echo "benchmarks/gpu.sh: no CUDA device visible to PyTorch ($("$PY" -c 'import torch; print("torch", torch.__version__, "cuda build:", torch.version.cuda)' 2>&1)); nothing run." >&2
    exit 2
fi
"$PY" -c "import torch; print('device:', torch.cuda.get_device_name(0), '| torch', torch.__version__)"
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
step iteration-moss 150 "$PY" -m benchmarks.bench_iteration --methods moss --device cuda --full
step iteration-pearl 120 "$PY" -m benchmarks.bench_iteration --methods pearl --device cuda --sac-steps 500
methods=$("$PY" -c "from harness.registry import list_methods; print(' '.join(list_methods()))")
for m in $methods; do
    run=(harness run --suite cheetah-vel --method "$m" --profile smoke --device cuda --seeds 0 --out "$OUT/smoke")
    step "smoke-$m" 60 "${run[@]}"
    meta="$OUT/smoke/cheetah-vel/$m/seed=0/meta.json"
    if [ -f "$meta" ] && "$PY" - "$meta" <<'PYEOF'
import json, sys
path = sys.argv[1]
meta = json.load(open(path))
meta["status"] = "failed"  # as if killed after its last checkpoint: the next run resumes from it
json.dump(meta, open(path, "w"))
PYEOF
    then
        step "resume-$m" 60 "${run[@]}"
        grep -q "resum" "$OUT/resume-$m.log" || rows+=("$(printf '%-34s %s' "resume-$m" "(no 'resum' in its log)")")
    fi
done
echo
echo "== benchmarks/gpu.sh summary ($(( $(date +%s) - start )) s; logs in $OUT) =="
grep -h -E "^(moss|pearl) on|^  (collect|encoder|belief|sac|sample|other) |ratio" "$OUT"/iteration-*.log
printf '%s\n' "${rows[@]}"
exit $fail
