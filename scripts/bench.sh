#!/usr/bin/env bash
# `npm run bench [-- --quick] [-- --trace]`: the same tool set-up as the tests, then bench/run.ts
# (not part of npm test). Sizes come from BENCH_* variables: see docs/performance.md.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
[ -d node_modules/@temporalio/worker ] || { log "installing npm packages"; npm ci --no-audit --no-fund; }
bash scripts/ensure-temporal-cli.sh >/dev/null
bash scripts/ensure-moto.sh >/dev/null
exec node --import tsx bench/run.ts "$@"
