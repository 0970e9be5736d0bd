#!/usr/bin/env bash
# Prints two lines: the path of a kube-apiserver v1.31.4, then the path of an etcd, installing them
# first if needed. Idempotent. Used by test/support/kubernetes.ts (the Kubernetes provider's tests run
# against the real API server: nothing else fakes RBAC and SubjectAccessReview faithfully).
# kube-apiserver: $KUBE_APISERVER, else the cached build, else build tools/kube-apiserver with Go into
#   the tool cache (outside the clone, so every clone on this machine reuses it). ~4 min, ~130 MB, once.
# etcd: $ETCD, else `etcd` on PATH or Debian's /usr/bin/etcd, else apt-get install etcd-server (root).
# Only the paths go to stdout; diagnostics go to stderr.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
KUBE_VERSION=v1.31.4
module_dir="$(cd "$(dirname "$0")/../tools/kube-apiserver" && pwd)"

apiserver_works() { [ -x "$1" ] && "$1" --version 2>/dev/null | grep -qx "Kubernetes $KUBE_VERSION"; }
etcd_works() { [ -x "$1" ] && "$1" --version >/dev/null 2>&1; }

ensure_apiserver() {
  if [ -n "${KUBE_APISERVER:-}" ]; then
    apiserver_works "$KUBE_APISERVER" || { log "KUBE_APISERVER=$KUBE_APISERVER is not a working kube-apiserver $KUBE_VERSION"; return 1; }
    echo "$KUBE_APISERVER"; return 0
  fi
  local cached="$TOOL_CACHE/bin/kube-apiserver-$KUBE_VERSION"
  if apiserver_works "$cached"; then echo "$cached"; return 0; fi
  command -v go >/dev/null || { log "kube-apiserver $KUBE_VERSION is not built and Go is not available to build it: install Go, or set KUBE_APISERVER to a kube-apiserver $KUBE_VERSION binary"; return 1; }
  # A lock so two processes (two test runs at once) do not build it twice.
  exec 8>"$TOOL_CACHE/kube-apiserver.lock"
  flock 8
  if ! apiserver_works "$cached"; then
    log "Building kube-apiserver $KUBE_VERSION with Go into $TOOL_CACHE/bin (one time, about 4 minutes)..."
    mkdir -p "$TOOL_CACHE/bin"
    # Build beside the target and rename, so a killed build never leaves a half-written binary.
    local partial="$cached.partial.$$"
    # gitVersion makes `--version` and /version report the release instead of v0.0.0-master.
    (cd "$module_dir" && go build -trimpath -mod=readonly -o "$partial" \
      -ldflags "-s -w -X k8s.io/component-base/version.gitVersion=$KUBE_VERSION -X k8s.io/component-base/version.gitTreeState=clean" .) >&2 \
      || { rm -f "$partial"; log "Building kube-apiserver $KUBE_VERSION failed"; return 1; }
    mv -f "$partial" "$cached"
  fi
  flock -u 8
  apiserver_works "$cached" || { log "The kube-apiserver built into $cached does not run"; return 1; }
  echo "$cached"
}

find_etcd() {
  local candidate
  for candidate in "$(command -v etcd 2>/dev/null || true)" /usr/bin/etcd; do
    if [ -n "$candidate" ] && etcd_works "$candidate"; then echo "$candidate"; return 0; fi
  done
  return 1
}

ensure_etcd() {
  if [ -n "${ETCD:-}" ]; then
    etcd_works "$ETCD" || { log "ETCD=$ETCD is not a working etcd"; return 1; }
    echo "$ETCD"; return 0
  fi
  if find_etcd; then return 0; fi
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    log "etcd was not found, and it can only be installed here automatically as root on a system with apt-get."
    log "Install etcd (e.g. 'sudo apt-get install etcd-server', 'brew install etcd'), or set ETCD, and run this again."
    return 1
  fi
  # A lock so two processes do not run apt-get together.
  exec 7>"$TOOL_CACHE/etcd-install.lock"
  flock 7
  if find_etcd; then return 0; fi
  log "Installing etcd with apt-get (one time)..."
  export DEBIAN_FRONTEND=noninteractive
  apt-get update >&2
  apt-get install -y --no-install-recommends etcd-server >&2
  # The package enables an etcd service on the default ports; the tests start their own on free ports.
  if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
    systemctl disable --now etcd >&2 2>/dev/null || true
  fi
  find_etcd || { log "apt-get installed etcd-server, but no working etcd was found"; return 1; }
}

ensure_apiserver
ensure_etcd
