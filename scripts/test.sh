#!/usr/bin/env bash
# `npm test`: installs what the tests need (idempotent, cached outside the clone), type-checks,
# lints, then runs the whole mocha suite against real peers (Temporal dev server, moto, PostgreSQL).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

[ -d node_modules/@temporalio/worker ] || { log "installing npm packages"; npm ci --no-audit --no-fund; }
# Each installer runs in an assignment of its own: `set -e` stops the run when one fails (inside
# another command's arguments, a failed $(...) is ignored and the tests would run without the tool).
temporal_cli=$(bash scripts/ensure-temporal-cli.sh); log "tools: Temporal CLI $temporal_cli"
moto=$(bash scripts/ensure-moto.sh); log "tools: moto $moto"
postgres=$(bash scripts/ensure-postgres.sh); log "tools: PostgreSQL $postgres"
kube=$(bash scripts/ensure-kube-apiserver.sh); log "tools: kube-apiserver and etcd $(echo "$kube" | paste -sd ' ')"
toxiproxy=$(bash scripts/ensure-toxiproxy.sh); log "tools: toxiproxy $toxiproxy"
chromium=$(bash scripts/ensure-chromium.sh); log "tools: Chromium $chromium"
test_server=$(bash scripts/ensure-temporal-test-server.sh); log "tools: Temporal time-skipping test server $test_server"
export TEMPORAL_TEST_SERVER="$test_server"

log "type-checking"
npx tsc --noEmit -p .
log "linting"
bash scripts/lint.sh
# Once here, so no test's time includes it (the API builds it too when its sources changed).
log "building the web page"
npx tsx scripts/webBuild.ts >/dev/null
log "running tests"
# With no arguments: the whole suite; otherwise the files or mocha options given.
if [ $# -eq 0 ]; then set -- "test/**/*.test.ts"; fi
npx mocha "$@"
