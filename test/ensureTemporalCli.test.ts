/**
 * scripts/ensure-temporal-cli.sh finds or installs the Temporal CLI in this order: $TEMPORAL_CLI, a
 * `temporal` on PATH that can run our `server start-dev`, the cached copy, the official release
 * downloaded the way the TypeScript SDK downloads it (temporal.download), and only then a build with
 * Go. This machine has no internet, so the download is pointed (P0_TEMPORAL_CLI_DOWNLOAD_URL) at a
 * port that refuses, at a local server answering 404, and at a local server serving a tiny archive
 * whose `temporal` is a shell script. `go` is a fake that records its call and "builds" such a
 * script, so no test waits five minutes. Each run sees a PATH of only the tools the script needs.
 */
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { freePort } from './support/net';

const SCRIPT = path.resolve(__dirname, '..', 'scripts', 'ensure-temporal-cli.sh');
const TOOLS = ['bash', 'sh', 'node', 'curl', 'tar', 'gzip', 'sha256sum', 'flock', 'mktemp', 'sed', 'grep', 'uname', 'mkdir', 'rm', 'mv', 'chmod', 'dirname', 'sleep', 'cat'];

/** A `temporal` that answers `--version` and `server start-dev --help` like v1.5.1 does. */
function fakeCli(version: string, flags = ['--ip', '--port', '--log-level', '--db-filename', '--ui-ip', '--ui-port', '--headless']): string {
  return [
    '#!/bin/sh',
    'case "$*" in',
    `  --version) echo "temporal version ${version} (Server 1.29.1, UI 2.42.1)" ;;`,
    `  "server start-dev --help") printf '%s\\n' "Usage:" ${flags.map((flag) => `"      ${flag} string"`).join(' ')} ;;`,
    '  *) exit 2 ;;',
    'esac',
    '',
  ].join('\n');
}

/** A `go` that records its arguments and "installs" a fake CLI into $GOBIN. */
function fakeGo(callLog: string): string {
  return [
    '#!/bin/sh',
    `echo "go $*" >> '${callLog}'`,
    `cat > "$GOBIN/temporal" <<'EOF'`,
    fakeCli('0.0.0-DEV').trimEnd(),
    'EOF',
    'chmod 755 "$GOBIN/temporal"',
    '',
  ].join('\n');
}

interface Run {
  code: number;
  stdout: string;
  stderr: string;
  ms: number;
}

/** A local stand-in for temporal.download; `mode` says how it answers. */
interface Mirror {
  url: string;
  requests: string[];
  mode: 'not-found' | 'serve';
  close(): Promise<void>;
}

async function startMirror(archive: Buffer): Promise<Mirror> {
  const server = http.createServer();
  const mirror: Mirror = { url: '', requests: [], mode: 'serve', close: () => new Promise((resolve) => server.close(() => resolve())) };
  server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    mirror.requests.push(req.url ?? '');
    if (mirror.mode === 'not-found') {
      res.writeHead(404).end('not found');
    } else if (req.url?.startsWith('/cli/')) {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ archiveUrl: `${mirror.url}/releases/temporal_cli_1.5.1_test.tar.gz`, fileToExtract: 'temporal' }));
    } else if (req.url === '/releases/temporal_cli_1.5.1_test.tar.gz') {
      res.writeHead(200, { 'content-type': 'application/gzip' }).end(archive);
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  mirror.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return mirror;
}

describe('scripts/ensure-temporal-cli.sh', function () {
  this.timeout(60_000);
  let root: string;
  let toolsDir: string;
  let archive: Buffer;
  let archiveSha256: string;
  let mirror: Mirror;
  let refusedUrl: string;
  let sandbox: string;
  let cache: string;
  let extraBin: string;
  let goLog: string;

  before(async function () {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'p0-ensure-cli-'));
    toolsDir = path.join(root, 'tools');
    fs.mkdirSync(toolsDir);
    for (const tool of TOOLS) {
      let where: string;
      try {
        where = execFileSync('bash', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).trim();
      } catch {
        // A missing tool is a broken test machine: fail, never skip.
        throw new Error(`scripts/ensure-temporal-cli.sh needs ${tool}, which is not on this machine's PATH`);
      }
      fs.symlinkSync(where, path.join(toolsDir, tool));
    }
    const packed = path.join(root, 'packed');
    fs.mkdirSync(packed);
    fs.writeFileSync(path.join(packed, 'temporal'), fakeCli('1.5.1'), { mode: 0o755 });
    fs.writeFileSync(path.join(packed, 'LICENSE'), 'the release archive holds more than the binary\n');
    execFileSync('tar', ['-czf', path.join(root, 'cli.tar.gz'), '-C', packed, 'temporal', 'LICENSE']);
    archive = fs.readFileSync(path.join(root, 'cli.tar.gz'));
    archiveSha256 = createHash('sha256').update(archive).digest('hex');
    mirror = await startMirror(archive);
    refusedUrl = `http://127.0.0.1:${await freePort()}`;
  });
  after(async () => {
    await mirror?.close();
    fs.rmSync(root, { recursive: true, force: true });
  });
  beforeEach(() => {
    sandbox = fs.mkdtempSync(path.join(root, 'run-'));
    cache = path.join(sandbox, 'cache');
    extraBin = path.join(sandbox, 'bin');
    goLog = path.join(sandbox, 'go-calls.log');
    fs.mkdirSync(extraBin);
    mirror.requests.length = 0;
    mirror.mode = 'serve';
  });

  /** Runs the script with only the sandbox's tools on PATH (no real `temporal`, no real `go`). */
  function run(env: Record<string, string>): Promise<Run> {
    const started = Date.now();
    return new Promise((resolve) => {
      execFile(
        path.join(toolsDir, 'bash'),
        [SCRIPT],
        { env: { PATH: `${extraBin}:${toolsDir}`, HOME: sandbox, P0_TOOL_CACHE: cache, ...env }, timeout: 45_000 },
        (error, stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, stdout: stdout.trim(), stderr, ms: Date.now() - started }),
      );
    });
  }
  const withGo = () => fs.writeFileSync(path.join(extraBin, 'go'), fakeGo(goLog), { mode: 0o755 });
  const goCalls = () => (fs.existsSync(goLog) ? fs.readFileSync(goLog, 'utf8').trim().split('\n') : []);
  /** Asserts that the stderr lines matching `patterns` appear, in that order. */
  function inOrder(stderr: string, patterns: RegExp[]): void {
    let from = 0;
    for (const pattern of patterns) {
      const at = stderr.slice(from).search(pattern);
      assert.ok(at >= 0, `expected ${String(pattern)} after offset ${from} in:\n${stderr}`);
      from += at + 1;
    }
  }

  it('falls through a download that cannot connect to the Go build, quickly', async () => {
    withGo();
    const result = await run({ P0_TEMPORAL_CLI_DOWNLOAD_URL: refusedUrl });
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, path.join(cache, 'bin', 'temporal'));
    inOrder(result.stderr, [/downloading the official release v1\.5\.1/, /Could not download the Temporal CLI: curl: \(7\)/, /Building the Temporal CLI v1\.5\.1 from source with Go/, /Built the Temporal CLI into/]);
    assert.deepEqual(goCalls(), ['go install github.com/temporalio/cli/cmd/temporal@v1.5.1']);
    assert.ok(result.ms < 15_000, `an offline machine waited ${result.ms} ms before building`);
  });

  it('falls through a download answered with 404 to the Go build, after asking the way the SDK does', async () => {
    withGo();
    mirror.mode = 'not-found';
    const result = await run({ P0_TEMPORAL_CLI_DOWNLOAD_URL: mirror.url });
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, path.join(cache, 'bin', 'temporal'));
    inOrder(result.stderr, [/downloading the official release/, /Could not download the Temporal CLI: .*404/, /with Go/]);
    assert.equal(mirror.requests.length, 1);
    assert.match(mirror.requests[0] ?? '', /^\/cli\/v1\.5\.1\?arch=(amd64|arm64)&platform=(linux|darwin)&format=tar\.gz$/);
    assert.equal(goCalls().length, 1);
  });

  it('downloads the release into the cache, and later runs use the cache without asking again', async () => {
    // No `go` on PATH: only the download can succeed.
    const result = await run({ P0_TEMPORAL_CLI_DOWNLOAD_URL: mirror.url, P0_TEMPORAL_CLI_SHA256: archiveSha256 });
    assert.equal(result.code, 0, result.stderr);
    const cached = path.join(cache, 'bin', 'temporal');
    assert.equal(result.stdout, cached);
    assert.match(result.stderr, /Downloaded the Temporal CLI 1\.5\.1 into /);
    assert.equal(fs.readFileSync(cached, 'utf8'), fakeCli('1.5.1'));
    assert.deepEqual(
      mirror.requests.map((url) => url.replace(/\?.*/, '')),
      ['/cli/v1.5.1', '/releases/temporal_cli_1.5.1_test.tar.gz'],
    );
    assert.deepEqual(fs.readdirSync(cache).filter((name) => name.startsWith('temporal-cli-install')), [], 'the work directory is removed');

    mirror.requests.length = 0;
    const again = await run({ P0_TEMPORAL_CLI_DOWNLOAD_URL: mirror.url, P0_TEMPORAL_CLI_SHA256: archiveSha256 });
    assert.equal(again.stdout, cached);
    assert.equal(again.stderr, '');
    assert.deepEqual(mirror.requests, []);
  });

  it('refuses a downloaded archive whose SHA-256 is not the release one, and builds with Go', async () => {
    withGo();
    // No P0_TEMPORAL_CLI_SHA256: the fake archive is checked against the pinned v1.5.1 release.
    const result = await run({ P0_TEMPORAL_CLI_DOWNLOAD_URL: mirror.url });
    assert.equal(result.code, 0, result.stderr);
    inOrder(result.stderr, [/Not using the downloaded Temporal CLI: its archive's SHA-256 is [0-9a-f]{64}, the release's is [0-9a-f]{64}/, /with Go/]);
    assert.equal(goCalls().length, 1);
    assert.match(fs.readFileSync(path.join(cache, 'bin', 'temporal'), 'utf8'), /0\.0\.0-DEV/, 'the cache holds the Go build, not the refused download');
  });

  it('uses the cached CLI before any download or build', async () => {
    withGo();
    fs.mkdirSync(path.join(cache, 'bin'), { recursive: true });
    fs.writeFileSync(path.join(cache, 'bin', 'temporal'), fakeCli('1.5.1'), { mode: 0o755 });
    const result = await run({ P0_TEMPORAL_CLI_DOWNLOAD_URL: mirror.url, P0_TEMPORAL_CLI_SHA256: archiveSha256 });
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, path.join(cache, 'bin', 'temporal'));
    assert.deepEqual(mirror.requests, []);
    assert.deepEqual(goCalls(), []);
  });

  it('uses a temporal on PATH first, and says so when it is not the tested version', async () => {
    fs.writeFileSync(path.join(extraBin, 'temporal'), fakeCli('1.6.0'), { mode: 0o755 });
    const result = await run({ P0_TEMPORAL_CLI_DOWNLOAD_URL: mirror.url });
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, path.join(extraBin, 'temporal'));
    assert.match(result.stderr, /Using the Temporal CLI on PATH, .* \(version 1\.6\.0; p0-jit is tested with v1\.5\.1\)/);
    assert.deepEqual(mirror.requests, []);
  });

  it('passes over a temporal on PATH whose start-dev lacks a flag we pass, then downloads', async () => {
    fs.writeFileSync(path.join(extraBin, 'temporal'), fakeCli('0.13.2', ['--ip', '--port', '--db-filename', '--headless']), { mode: 0o755 });
    const result = await run({ P0_TEMPORAL_CLI_DOWNLOAD_URL: mirror.url, P0_TEMPORAL_CLI_SHA256: archiveSha256 });
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, path.join(cache, 'bin', 'temporal'));
    inOrder(result.stderr, [/Passing over the temporal on PATH .*: its `server start-dev` has no --log-level/, /Downloaded the Temporal CLI 1\.5\.1/]);
  });

  it('fails with the ways out when there is neither a download nor Go', async () => {
    const result = await run({ P0_TEMPORAL_CLI_DOWNLOAD_URL: refusedUrl });
    assert.notEqual(result.code, 0);
    assert.equal(result.stdout, '');
    inOrder(result.stderr, [/Could not download/, /Go is not available to build it: install it \(https:\/\/docs\.temporal\.io\/cli\) and put `temporal` on PATH, set TEMPORAL_CLI to its path, or install Go/]);
  });

  it('refuses a TEMPORAL_CLI that cannot run the dev server', async () => {
    const broken = path.join(extraBin, 'not-temporal');
    fs.writeFileSync(broken, '#!/bin/sh\nexit 1\n', { mode: 0o755 });
    const result = await run({ TEMPORAL_CLI: broken, P0_TEMPORAL_CLI_DOWNLOAD_URL: mirror.url });
    assert.notEqual(result.code, 0);
    assert.match(result.stderr, /TEMPORAL_CLI=.* cannot run the Temporal dev server: `.*--version` does not answer like the Temporal CLI/);
    assert.deepEqual(mirror.requests, []);
  });
});
