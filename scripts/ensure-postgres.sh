#!/usr/bin/env bash
# Prints the directory of PostgreSQL's server programs (postgres, initdb, pg_ctl), installing Debian's
# `postgresql` package first if they are missing and this runs as root with apt-get. Idempotent.
# Only the directory goes to stdout; diagnostics go to stderr. Used by test/support/postgres.ts.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

has_server() { [ -x "$1/postgres" ] && [ -x "$1/initdb" ] && [ -x "$1/pg_ctl" ]; }

find_bindir() {
  local dir
  # Debian and Ubuntu keep the server outside PATH, one directory per major version: newest first.
  for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k4,4 -n -r); do
    if has_server "$dir"; then echo "$dir"; return 0; fi
  done
  # Elsewhere (Homebrew, source builds, other distributions) pg_config knows where it is.
  if command -v pg_config >/dev/null 2>&1; then
    dir=$(pg_config --bindir 2>/dev/null || true)
    if [ -n "$dir" ] && has_server "$dir"; then echo "$dir"; return 0; fi
  fi
  return 1
}

if find_bindir; then exit 0; fi

if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  log "PostgreSQL's server programs (initdb, pg_ctl, postgres) were not found, and they can only be installed here automatically as root on a system with apt-get."
  log "Install the PostgreSQL server (e.g. 'sudo apt-get install postgresql', 'brew install postgresql') and run this again."
  exit 1
fi

# A lock so two processes (two test runs at once) do not run apt-get together.
exec 9>"$TOOL_CACHE/postgres-install.lock"
flock 9
if find_bindir; then exit 0; fi
log "Installing PostgreSQL with apt-get (one time)..."
export DEBIAN_FRONTEND=noninteractive
apt-get update >&2
apt-get install -y --no-install-recommends postgresql >&2
find_bindir || { log "apt-get installed postgresql, but its server programs are still not found under /usr/lib/postgresql/*/bin"; exit 1; }
