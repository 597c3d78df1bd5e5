#!/usr/bin/env bash
# Install everything the tests need (Python packages; Chromium and PostgreSQL from Debian when run as root)
# and run the whole test suite. This is the README's test command and what CI runs.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh dev
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    need=()
    command -v chromium >/dev/null || need+=(chromium)
    command -v pg_ctlcluster >/dev/null || need+=(postgresql)
    if [ ${#need[@]} -gt 0 ]; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
    fi
fi
export PYTHONHASHSEED=0
# pytest exits 5 when it collects no test: that is a failure here too (set -e).
# worksteal: a worker that runs out of tests takes queued ones from the other (with the default "load"
# scheduling one worker sat idle for 19 of 28 minutes behind a queue of long learning tests).
# --durations: the slowest tests are printed in every CI log, to keep the run near 15 minutes.
python3 -m pytest -n 2 --dist worksteal --durations=25 "$@"
