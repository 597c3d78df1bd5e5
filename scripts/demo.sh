#!/usr/bin/env bash
# The README's first command: install, run a small comparison on two toy suites (about 10 minutes on 2 CPU
# cores), then write the comparison table and the interactive HTML report. Every method gets the same
# 20,000 env steps per run (the quick profile's configs; its toy budgets are 30k-40k).
#   OUT=results/demo SEEDS=0,1 BUDGET=20000 METHODS=moss,pearl,sac-mt,sac-oracle,random bash scripts/demo.sh
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
OUT=${OUT:-results/demo}
SEEDS=${SEEDS:-0,1}
METHODS=${METHODS:-moss,pearl,sac-mt,sac-oracle,random}
SUITES=${SUITES:-point-goal,point-goal-nonstat}
WORKERS=${WORKERS:-2}
BUDGET=${BUDGET:-20000}
# A failed job must not hide the others' results: the table and report say what failed.
status=0
harness run --suite "$SUITES" --method "$METHODS" --seeds "$SEEDS" --profile quick --budget "$BUDGET" \
    --out "$OUT" --workers "$WORKERS" || status=$?
harness compare "$OUT"
harness report "$OUT" -o "$OUT/report.html"
echo
echo "comparison tables: $OUT/compare-final-k_final.{md,tex,csv}"
echo "interactive report (open in a browser, works offline): $OUT/report.html"
exit "$status"
