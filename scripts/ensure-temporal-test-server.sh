#!/usr/bin/env bash
# Prints the path of an executable that runs Temporal's time-skipping test server (its one argument
# is the port), installing it first if needed. Idempotent. The workflow tests that skip time
# (test/unit/) hand it to TestWorkflowEnvironment.createTimeSkipping as an existing path, because the
# SDK's own download of it needs the internet at test time.
# Order: $TEMPORAL_TEST_SERVER; the cached one; the SDK's own download (the native build Temporal
# publishes for this SDK version; skipped within seconds when offline); else the Java test server
# (io.temporal:temporal-test-server, pinned) and its dependencies resolved with Maven, run by a small
# wrapper that execs java. Both are cached outside the clone. The Maven path takes about 30 s once.
# Only the path goes to stdout; diagnostics go to stderr.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
repo="$(cd "$(dirname "$0")/.." && pwd)"
TEST_SERVER_VERSION=1.38.0
# The logging binding that matches the test server's slf4j-api 1.7: silences its start-up warning.
SLF4J_NOP_VERSION=1.7.36

if [ -n "${TEMPORAL_TEST_SERVER:-}" ]; then
  [ -x "$TEMPORAL_TEST_SERVER" ] || { log "TEMPORAL_TEST_SERVER=$TEMPORAL_TEST_SERVER is not an executable"; exit 1; }
  echo "$TEMPORAL_TEST_SERVER"; exit 0
fi

home="$TOOL_CACHE/temporal-test-server"
sdk_version=$(cd "$repo" && node -p "require('@temporalio/testing/package.json').version")
# The SDK's download, as scripts/downloadTestServer.ts left it: a symlink to the native binary.
downloaded="$home/sdk-$sdk_version/server"
maven_dir="$home/maven-$TEST_SERVER_VERSION"
wrapper="$maven_dir/temporal-test-server"

maven_works() { [ -x "$wrapper" ] && [ -f "$maven_dir/lib/temporal-test-server-$TEST_SERVER_VERSION.jar" ] && command -v java >/dev/null; }
cached() {
  if [ -x "$downloaded" ]; then echo "$downloaded"; return 0; fi
  if maven_works; then echo "$wrapper"; return 0; fi
  return 1
}

if cached; then exit 0; fi

mkdir -p "$home"
# A lock so two test runs starting at once do not install it twice.
exec 9>"$TOOL_CACHE/temporal-test-server.lock"
flock 9
if cached; then exit 0; fi

log "Temporal's time-skipping test server is not installed: trying the SDK's own download first"
if (cd "$repo" && timeout 300 npx tsx scripts/downloadTestServer.ts "$home/sdk-$sdk_version") >&2; then
  [ -x "$downloaded" ] && { echo "$downloaded"; exit 0; }
fi

command -v java >/dev/null || { log "No download, and Java is not installed to run the Java test server: install a JDK 17+ (and Maven), or set TEMPORAL_TEST_SERVER"; exit 1; }
command -v mvn >/dev/null || { log "No download, and Maven is not installed to fetch the Java test server: install Maven, or set TEMPORAL_TEST_SERVER"; exit 1; }
log "Resolving io.temporal:temporal-test-server:$TEST_SERVER_VERSION and its dependencies with Maven into $maven_dir (one time, about 30 seconds)"
# Built aside and moved into place, so a killed install never leaves a half-filled cache.
build="$(mktemp -d "$home/maven-build.XXXXXX")"
trap 'rm -rf "$build"' EXIT
cat >"$build/pom.xml" <<EOF
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>p0-jit.tools</groupId>
  <artifactId>temporal-test-server-runtime</artifactId>
  <version>1</version>
  <dependencies>
    <dependency><groupId>io.temporal</groupId><artifactId>temporal-test-server</artifactId><version>$TEST_SERVER_VERSION</version></dependency>
    <dependency><groupId>org.slf4j</groupId><artifactId>slf4j-nop</artifactId><version>$SLF4J_NOP_VERSION</version></dependency>
  </dependencies>
</project>
EOF
# Maven's own lines are shown only when it fails.
mvn -B -q -f "$build/pom.xml" org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy-dependencies \
  -DincludeScope=runtime -DoutputDirectory="$build/lib" >"$build/maven.log" 2>&1 \
  || { cat "$build/maven.log" >&2; log "Maven could not resolve io.temporal:temporal-test-server:$TEST_SERVER_VERSION (its lines are above)"; exit 1; }
# Serial GC and the quick compiler: the server starts in about a second and stays light on 2 cores.
cat >"$build/temporal-test-server" <<EOF
#!/bin/sh
# Temporal's time-skipping test server $TEST_SERVER_VERSION (Java); written by scripts/ensure-temporal-test-server.sh.
# Usage: temporal-test-server <port>
exec java -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -cp '$maven_dir/lib/*' io.temporal.testserver.TestServer "\$@"
EOF
chmod +x "$build/temporal-test-server"
rm -rf "$maven_dir"
mv "$build" "$maven_dir"
trap - EXIT
maven_works || { log "The test server installed into $maven_dir does not look complete"; exit 1; }
log "installed Temporal's time-skipping test server into $maven_dir"
echo "$wrapper"
