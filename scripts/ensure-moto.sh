#!/usr/bin/env bash
# Prints the path of a moto_server (the IAM fake the tests run against), installing it first if
# needed. Idempotent. It lives in its own virtualenv in the tool cache, pinned, so tests never depend
# on whatever moto the system Python happens to have.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
MOTO_VERSION=5.2.1
venv="$TOOL_CACHE/moto"
server="$venv/bin/moto_server"

# moto_server has no --version; ask the venv's Python instead, which also proves the venv is intact.
works() {
  [ -x "$server" ] && "$server" --help >/dev/null 2>&1 \
    && [ "$("$venv/bin/python" -c 'import moto; print(moto.__version__)' 2>/dev/null)" = "$MOTO_VERSION" ]
}

if works; then echo "$server"; exit 0; fi

command -v python3 >/dev/null || { log "python3 is needed to install moto $MOTO_VERSION"; exit 1; }
# A lock so two test runs starting at once do not build the venv twice.
exec 9>"$TOOL_CACHE/moto.lock"
flock 9
if ! works; then
  log "Installing moto[server]==$MOTO_VERSION into $venv (one time)..."
  python3 -m venv "$venv" >&2
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "moto[server]==$MOTO_VERSION" >&2
fi
works || { log "Installing moto $MOTO_VERSION into $venv failed"; exit 1; }
echo "$server"
