#!/usr/bin/env bash
# Prints the path of a toxiproxy-server v2.12.0 (the TCP fault injector the fault-injection tests put
# between the worker and each provider endpoint), installing it first if needed. Idempotent.
# Order: $TOXIPROXY_SERVER, else the cached build, else build it with Go into the tool cache (outside
# the clone, so every clone on this machine reuses it). About 10 s on 2 cores, once.
# Only the path goes to stdout; diagnostics go to stderr.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
TOXIPROXY_VERSION=v2.12.0

# `-version` prints e.g. "toxiproxy-server version 2.12.0".
works() { [ -x "$1" ] && "$1" -version 2>/dev/null | grep -q "version ${TOXIPROXY_VERSION#v}\$"; }

if [ -n "${TOXIPROXY_SERVER:-}" ]; then
  works "$TOXIPROXY_SERVER" || { log "TOXIPROXY_SERVER=$TOXIPROXY_SERVER is not a working toxiproxy-server $TOXIPROXY_VERSION"; exit 1; }
  echo "$TOXIPROXY_SERVER"; exit 0
fi
cached="$TOOL_CACHE/bin/toxiproxy-server-$TOXIPROXY_VERSION"
if works "$cached"; then echo "$cached"; exit 0; fi

command -v go >/dev/null || { log "toxiproxy-server $TOXIPROXY_VERSION is not built and Go is not available to build it: install Go, or set TOXIPROXY_SERVER to a toxiproxy-server $TOXIPROXY_VERSION binary"; exit 1; }
# A lock so two processes (two test runs at once) do not build it twice.
exec 9>"$TOOL_CACHE/toxiproxy.lock"
flock 9
if ! works "$cached"; then
  log "Building toxiproxy-server $TOXIPROXY_VERSION with Go into $TOOL_CACHE/bin (one time, about 10 seconds)..."
  mkdir -p "$TOOL_CACHE/bin"
  # `go install` names the binary after its package directory (`server`): build into a private
  # directory, then rename, so a killed build never leaves a half-written binary at the cached path.
  gobin="$(mktemp -d "$TOOL_CACHE/toxiproxy-build.XXXXXX")"
  trap 'rm -rf "$gobin"' EXIT
  # The version string toxiproxy prints comes from this linker flag in its own release builds.
  GOBIN="$gobin" GOFLAGS=-mod=mod go install -trimpath \
    -ldflags "-s -w -X github.com/Shopify/toxiproxy/v2.Version=${TOXIPROXY_VERSION#v}" \
    "github.com/Shopify/toxiproxy/v2/cmd/server@$TOXIPROXY_VERSION" >&2 \
    || { log "Building toxiproxy-server $TOXIPROXY_VERSION failed"; exit 1; }
  mv -f "$gobin/server" "$cached"
fi
works "$cached" || { log "The toxiproxy-server built into $cached does not run"; exit 1; }
echo "$cached"
