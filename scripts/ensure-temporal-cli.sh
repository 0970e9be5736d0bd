#!/usr/bin/env bash
# Prints the path of a Temporal CLI (`temporal`) that can run `server start-dev` with the flags
# scripts/temporalDevServer.ts passes, installing one first if needed. Idempotent. Only the path goes
# to stdout; what is happening goes to stderr.
# Order:
#   1. $TEMPORAL_CLI (must work, else this fails: it was asked for);
#   2. `temporal` on PATH, if its `server start-dev` takes our flags;
#   3. the cached copy, $TOOL_CACHE/bin/temporal (outside the clone: every clone on this machine reuses it);
#   4. the official release, downloaded the way the TypeScript SDK gets the CLI for
#      TestWorkflowEnvironment.createLocal() (sdk-core's ephemeral_server: ask
#      temporal.download/cli/<version>?platform=&arch=&format=tar.gz for {archiveUrl, fileToExtract},
#      then fetch that archive), checked against the release's SHA-256 pinned below;
#   5. built from source with Go (about 5 minutes and 250 MB on 2 cores): only a machine with neither
#      internet nor a CLI needs Go.
# The version is pinned to v1.5.1, the last tag `go install` accepts (later ones have `replace`
# lines), so the download and the Go build give the same CLI.
# Settings: P0_TEMPORAL_CLI_DOWNLOAD_URL (base URL of a mirror of temporal.download, or `off`),
# P0_TEMPORAL_CLI_SHA256 (the archive's SHA-256, for a mirror serving another build).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
TEMPORAL_CLI_VERSION=v1.5.1
DOWNLOAD_BASE_URL="${P0_TEMPORAL_CLI_DOWNLOAD_URL-https://temporal.download}"
DOWNLOAD_BASE_URL="${DOWNLOAD_BASE_URL%/}"

# SHA-256 of temporal_cli_1.5.1_<platform>_<arch>.tar.gz as released on github.com/temporalio/cli
# (the values cashapp/hermit-packages records for them). The SDK checks none; a bad mirror or a
# changed archive is refused here and the Go build runs instead.
release_sha256() {
  case "$1" in
    linux_amd64) echo ddc95e08b0b076efd4ea9733a3f488eb7d2be875f8834e616cd2a37358b4852d ;;
    linux_arm64) echo bd1b0db9f18b051026de8bf6cc1505f2510f14bbb7a8b9a4a91fff46c77454f5 ;;
    darwin_amd64) echo bbb73e2a31135abe50a1f1cdb35030c42961df618e8ce9c60ae89f201540c5d9 ;;
    darwin_arm64) echo cca01b7ea35ad56e2a328d9ae596bf716bd22313ef63c7a761c88354457c2415 ;;
    *) return 1 ;;
  esac
}

# The start-dev flags scripts/temporalDevServer.ts passes. A CLI whose `server start-dev --help` lacks
# one of them (the 0.x CLIs, a future CLI that renames one) would fail at start-up, so it is passed over.
DEV_SERVER_FLAGS=(--ip --port --log-level --db-filename --ui-ip --ui-port --headless)

# `--version` prints e.g. "temporal version 1.5.1 (Server 1.29.1, UI 2.42.1)"; a `go install` build
# says "0.0.0-DEV".
cli_version() { "$1" --version 2>/dev/null | sed -n 's/^temporal version \([^ ]*\).*/\1/p'; }

# Empty when $1 runs and its start-dev takes every flag above; otherwise says why not.
unfit_reason() {
  local cli=$1 help flag
  [ -x "$cli" ] || { echo "not an executable file"; return; }
  [ -n "$(cli_version "$cli")" ] || { echo "\`$cli --version\` does not answer like the Temporal CLI"; return; }
  help=$("$cli" server start-dev --help 2>&1) || { echo "it has no \`server start-dev\`"; return; }
  for flag in "${DEV_SERVER_FLAGS[@]}"; do
    grep -qE -- "(^|[ ,])$flag( |$)" <<<"$help" || { echo "its \`server start-dev\` has no $flag"; return; }
  done
}
fit() { [ -z "$(unfit_reason "$1")" ]; }

if [ -n "${TEMPORAL_CLI:-}" ]; then
  reason=$(unfit_reason "$TEMPORAL_CLI")
  [ -z "$reason" ] || { log "TEMPORAL_CLI=$TEMPORAL_CLI cannot run the Temporal dev server: $reason. Unset it, or point it at a Temporal CLI $TEMPORAL_CLI_VERSION"; exit 1; }
  echo "$TEMPORAL_CLI"; exit 0
fi
if on_path=$(command -v temporal 2>/dev/null); then
  reason=$(unfit_reason "$on_path")
  if [ -z "$reason" ]; then
    version=$(cli_version "$on_path")
    [ "$version" = "${TEMPORAL_CLI_VERSION#v}" ] || log "Using the Temporal CLI on PATH, $on_path (version $version; p0-jit is tested with $TEMPORAL_CLI_VERSION)"
    echo "$on_path"; exit 0
  fi
  log "Passing over the temporal on PATH ($on_path): $reason"
fi
cached="$TOOL_CACHE/bin/temporal"
if fit "$cached"; then echo "$cached"; exit 0; fi

# A lock so two processes (npm start and npm test at once) do not install it twice.
exec 9>"$TOOL_CACHE/temporal-cli.lock"
flock 9
if fit "$cached"; then echo "$cached"; exit 0; fi
mkdir -p "$TOOL_CACHE/bin"
workdir=$(mktemp -d "$TOOL_CACHE/temporal-cli-install.XXXXXX")
ticker=
cleanup() {
  [ -z "$ticker" ] || kill "$ticker" 2>/dev/null || true
  rm -rf "$workdir"
}
trap cleanup EXIT

# Downloads the official release into $cached; on failure says why (stderr) and returns 1.
download_release() {
  local platform arch expected info archive_url file_to_extract curl_opts progress actual version
  case "$DOWNLOAD_BASE_URL" in
    '' | off) log "Not downloading the Temporal CLI: P0_TEMPORAL_CLI_DOWNLOAD_URL=off"; return 1 ;;
  esac
  command -v curl >/dev/null || { log "Cannot download the Temporal CLI: curl is not installed"; return 1; }
  case "$(uname -s)" in Linux) platform=linux ;; Darwin) platform=darwin ;; *) log "No Temporal CLI release is downloaded for $(uname -s) here"; return 1 ;; esac
  case "$(uname -m)" in x86_64 | amd64) arch=amd64 ;; aarch64 | arm64) arch=arm64 ;; *) log "No Temporal CLI release is downloaded for $(uname -m) here"; return 1 ;; esac
  expected="${P0_TEMPORAL_CLI_SHA256:-$(release_sha256 "${platform}_$arch")}"

  # Offline machines must fall through to the Go build quickly: a short connect timeout (it covers
  # the name look-up too), and a download that stalls is abandoned. An https base never follows a
  # redirect to plain http.
  curl_opts=(--fail --location --show-error --connect-timeout 5)
  [[ "$DOWNLOAD_BASE_URL" != https://* ]] || curl_opts+=(--proto =https)
  log "The Temporal CLI (which runs the local Temporal server) is not installed: downloading the official release $TEMPORAL_CLI_VERSION for $platform/$arch from $DOWNLOAD_BASE_URL into $TOOL_CACHE/bin, once for this machine (the way the Temporal TypeScript SDK gets it for its test server)..."
  info=$(curl "${curl_opts[@]}" --silent --max-time 30 "$DOWNLOAD_BASE_URL/cli/$TEMPORAL_CLI_VERSION?arch=$arch&platform=$platform&format=tar.gz" 2>&1) \
    || { log "Could not download the Temporal CLI: ${info:-no answer}"; return 1; }
  # The answer names the archive and the file inside it: {"archiveUrl": ..., "fileToExtract": ...}.
  { read -r archive_url && read -r file_to_extract; } < <(node -e '
    let info; try { info = JSON.parse(process.argv[1]); } catch { process.exit(1); }
    if (typeof info?.archiveUrl !== "string" || typeof info?.fileToExtract !== "string") process.exit(1);
    console.log(info.archiveUrl); console.log(info.fileToExtract);' "$info") \
    || { log "Could not download the Temporal CLI: $DOWNLOAD_BASE_URL answered something other than the release's location"; return 1; }
  # What the network says is checked before it is used: an archive URL (the SDK takes only .tar.gz
  # and .zip; this script only .tar.gz) and a plain relative path inside it.
  [[ "$archive_url" =~ ^https?://[^[:space:]]+\.tar\.gz$ ]] || { log "Could not download the Temporal CLI: unexpected archive URL $archive_url"; return 1; }
  [[ "$file_to_extract" =~ ^[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*$ && "$file_to_extract" != *..* ]] \
    || { log "Could not download the Temporal CLI: unexpected file name in the archive: $file_to_extract"; return 1; }

  # A progress bar on a terminal; a log or a test gets the lines before and after.
  progress=(--silent)
  [ ! -t 2 ] || progress=(--progress-bar)
  curl "${curl_opts[@]}" "${progress[@]}" --speed-limit 1024 --speed-time 30 --max-time 1200 -o "$workdir/cli.tar.gz" "$archive_url" \
    || { log "Could not download the Temporal CLI from $archive_url"; return 1; }
  if [ -z "$expected" ]; then
    log "Not using the downloaded Temporal CLI: no SHA-256 is known for ${platform}_$arch (set P0_TEMPORAL_CLI_SHA256 to the archive's)"; return 1
  fi
  if command -v sha256sum >/dev/null; then actual=$(sha256sum "$workdir/cli.tar.gz"); else actual=$(shasum -a 256 "$workdir/cli.tar.gz"); fi
  actual=${actual%% *}
  [ "$actual" = "$expected" ] || { log "Not using the downloaded Temporal CLI: its archive's SHA-256 is $actual, the release's is $expected"; return 1; }
  mkdir "$workdir/unpacked"
  tar -xzf "$workdir/cli.tar.gz" -C "$workdir/unpacked" "$file_to_extract" >&2 \
    || { log "Could not unpack $file_to_extract from the downloaded Temporal CLI archive"; return 1; }
  chmod 755 "$workdir/unpacked/$file_to_extract"
  fit "$workdir/unpacked/$file_to_extract" \
    || { log "The downloaded Temporal CLI does not run here: $(unfit_reason "$workdir/unpacked/$file_to_extract")"; return 1; }
  version=$(cli_version "$workdir/unpacked/$file_to_extract")
  # Renamed into place, so a killed download never leaves half a binary at the cached path.
  mv -f "$workdir/unpacked/$file_to_extract" "$cached"
  log "Downloaded the Temporal CLI $version into $cached"
}

build_with_go() {
  command -v go >/dev/null || return 1
  log "Building the Temporal CLI $TEMPORAL_CLI_VERSION from source with Go into $TOOL_CACHE/bin instead, once for this machine. This takes about 5 minutes on 2 cores; Go's own lines and the elapsed time follow."
  # Go is silent while it compiles: say every 30 s that the build goes on. The ticker takes its
  # `sleep` with it when stopped, or the sleep would hold our stdout and stderr open (and whoever
  # reads them waiting) for up to 30 s after the build.
  (
    started=$SECONDS
    trap '[ -z "${sleeper:-}" ] || kill "$sleeper" 2>/dev/null; exit 0' TERM
    while :; do
      sleep 30 & sleeper=$!
      wait "$sleeper"
      log "still building the Temporal CLI: $((SECONDS - started)) s so far (about 300 s in all)"
    done
  ) >&2 &
  ticker=$!
  GOBIN="$workdir" GOFLAGS=-mod=mod go install "github.com/temporalio/cli/cmd/temporal@$TEMPORAL_CLI_VERSION" >&2 \
    || { log "Building the Temporal CLI failed"; exit 1; }
  kill "$ticker" 2>/dev/null || true
  ticker=
  mv -f "$workdir/temporal" "$cached"
  log "Built the Temporal CLI into $cached"
}

if ! download_release && ! build_with_go; then
  log "The Temporal CLI is not installed, it could not be downloaded (see above), and Go is not available to build it: install it (https://docs.temporal.io/cli) and put \`temporal\` on PATH, set TEMPORAL_CLI to its path, or install Go"
  exit 1
fi
fit "$cached" || { log "The Temporal CLI installed into $cached cannot run the dev server: $(unfit_reason "$cached")"; exit 1; }
echo "$cached"
