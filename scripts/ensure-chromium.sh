#!/usr/bin/env bash
# Prints the path of a Chromium the browser tests drive through playwright-core, installing Debian's
# `chromium` package first if it is missing and this runs as root with apt-get. Idempotent. Only the
# path goes to stdout; diagnostics go to stderr. (Never `npx playwright install`: it downloads from
# the network at test time and fails offline.)
set -euo pipefail
source "$(dirname "$0")/lib.sh"

find_chromium() {
  local candidate
  for candidate in "${P0_CHROMIUM:-}" /usr/bin/chromium /usr/bin/chromium-browser; do
    if [ -n "$candidate" ] && [ -x "$candidate" ]; then echo "$candidate"; return 0; fi
  done
  return 1
}

if find_chromium; then exit 0; fi

if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  log "Chromium was not found, and it can only be installed here automatically as root on a system with apt-get."
  log "Install it (e.g. 'sudo apt-get install chromium') or point P0_CHROMIUM at a Chromium binary, and run this again."
  exit 1
fi

# A lock so two processes (two test runs at once) do not run apt-get together.
exec 9>"$TOOL_CACHE/chromium-install.lock"
flock 9
if find_chromium; then exit 0; fi
log "Installing Chromium with apt-get (one time)..."
export DEBIAN_FRONTEND=noninteractive
apt-get update >&2
apt-get install -y --no-install-recommends chromium >&2
find_chromium || { log "apt-get installed chromium, but /usr/bin/chromium is still not there"; exit 1; }
