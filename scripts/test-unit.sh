#!/usr/bin/env bash
# `npm run test:unit`: the tests that need no peer server (no moto, PostgreSQL, kube-apiserver or
# Temporal dev server), in well under a minute once the test server is cached: the pure tests and the
# workflow tests on Temporal's time-skipping test server (test/unit/). `npm test` runs them too.
# Arguments, if any, replace the file list (mocha options pass through).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

[ -d node_modules/@temporalio/worker ] || { log "installing npm packages"; npm ci --no-audit --no-fund; }
# In an assignment of its own, so `set -e` stops the run when the installer fails.
test_server=$(bash scripts/ensure-temporal-test-server.sh); log "tools: Temporal test server $test_server"
export TEMPORAL_TEST_SERVER="$test_server"

# A pure test imports no server support (test/support/moto, postgres, harness, temporal's dev server)
# and starts no process: add one here when you write it, or put it under test/unit/.
if [ $# -eq 0 ]; then
  set -- 'test/unit/**/*.test.ts' \
    test/grantAuthority.test.ts \
    test/messageSigning.test.ts \
    test/policy.test.ts \
    test/requestGrammar.test.ts \
    test/replay.test.ts
fi
npx mocha "$@"
