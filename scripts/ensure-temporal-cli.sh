#!/usr/bin/env bash
# Prints the path of a Temporal CLI (`temporal`), installing it first if needed. Idempotent.
# Order: $TEMPORAL_CLI, `temporal` on PATH, the cached build, else build it with Go into the cache
# (outside the clone, so every clone on this machine reuses it). v1.5.1 is the last tag that
# `go install` accepts (later ones have `replace` lines). ~5 min and ~250 MB on 2 cores, once.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
TEMPORAL_CLI_VERSION=v1.5.1

works() { [ -x "$1" ] && "$1" --version >/dev/null 2>&1; }

if [ -n "${TEMPORAL_CLI:-}" ]; then
  works "$TEMPORAL_CLI" || { log "TEMPORAL_CLI=$TEMPORAL_CLI is not a working temporal binary"; exit 1; }
  echo "$TEMPORAL_CLI"; exit 0
fi
if on_path=$(command -v temporal 2>/dev/null) && works "$on_path"; then echo "$on_path"; exit 0; fi
cached="$TOOL_CACHE/bin/temporal"
if works "$cached"; then echo "$cached"; exit 0; fi

command -v go >/dev/null || { log "The Temporal CLI is not installed and Go is not available to build it: install it (https://docs.temporal.io/cli) or set TEMPORAL_CLI"; exit 1; }
log "The Temporal CLI (which runs the local Temporal server) is not installed: building $TEMPORAL_CLI_VERSION from source with Go into $TOOL_CACHE/bin, once for this machine. This takes about 5 minutes on 2 cores; Go's own lines and the elapsed time follow."
# A lock so two processes (npm start and npm test at once) do not build it twice.
exec 9>"$TOOL_CACHE/temporal-cli.lock"
flock 9
if ! works "$cached"; then
  # Go is silent while it compiles: say every 30 s that the build goes on.
  ( started=$SECONDS; while sleep 30; do log "still building the Temporal CLI: $((SECONDS - started)) s so far (about 300 s in all)"; done ) &
  ticker=$!
  trap 'kill $ticker 2>/dev/null' EXIT
  GOBIN="$TOOL_CACHE/bin" GOFLAGS=-mod=mod go install "github.com/temporalio/cli/cmd/temporal@$TEMPORAL_CLI_VERSION" >&2
  kill $ticker 2>/dev/null || true
  log "built the Temporal CLI into $cached"
fi
works "$cached" || { log "Building the Temporal CLI failed"; exit 1; }
echo "$cached"
