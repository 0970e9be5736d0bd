#!/usr/bin/env bash
# `npm test`: installs what the tests need (idempotent, cached outside the clone), type-checks,
# lints, then runs the whole mocha suite against real peers (Temporal dev server, moto, PostgreSQL).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

[ -d node_modules/@temporalio/worker ] || { log "installing npm packages"; npm ci --no-audit --no-fund; }
log "tools: Temporal CLI $(bash scripts/ensure-temporal-cli.sh)"
log "tools: moto $(bash scripts/ensure-moto.sh)"
log "tools: PostgreSQL $(bash scripts/ensure-postgres.sh)"
log "tools: kube-apiserver and etcd $(bash scripts/ensure-kube-apiserver.sh | paste -sd ' ')"
log "tools: toxiproxy $(bash scripts/ensure-toxiproxy.sh)"

log "type-checking"
npx tsc --noEmit -p .
log "linting"
bash scripts/lint.sh
log "running tests"
# With no arguments: the whole suite; otherwise the files or mocha options given.
if [ $# -eq 0 ]; then set -- "test/**/*.test.ts"; fi
npx mocha "$@"
