/**
 * `npm start` beside a running one: it must refuse, never use (or stop) the other copy's Temporal.
 * Before this, a second start on a taken port reported "Temporal dev server running" and used the
 * server that was there, whose workers could then run this product's workflows; and a second start in
 * the same directory stopped the first one's server as if it were left over from a crash.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import { freePort } from './support/net';

const REPO_ROOT = path.resolve(__dirname, '..');
const START_SCRIPT = path.join(REPO_ROOT, 'scripts', 'start.ts');
const TSX = path.join(REPO_ROOT, 'node_modules', '.bin', 'tsx');

interface Started {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

function startProduct(cwd: string, ports: { api: number; temporal: number; ui: number }): Started {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PORT: String(ports.api),
    TEMPORAL_DEV_PORT: String(ports.temporal),
    TEMPORAL_DEV_UI_PORT: String(ports.ui),
    P0_CONFIG: path.join(REPO_ROOT, 'config', 'p0.example.yaml'),
    LOG_JSON: '1',
    METRICS_PORT: 'off',
  };
  delete env.TEMPORAL_ADDRESS;
  delete env.DATABASE_URL;
  const child = spawn(TSX, [START_SCRIPT], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let output = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, output: () => output, exited };
}

async function until(started: Started, pattern: RegExp, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pattern.test(started.output())) {
    if (started.child.exitCode !== null) throw new Error(`exited ${started.child.exitCode} before ${String(pattern)}:\n${started.output()}`);
    if (Date.now() > deadline) throw new Error(`no ${String(pattern)} within ${timeoutMs} ms:\n${started.output()}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** Waits until no process of group `pgid` is left (SIGKILL to the group past `timeoutMs`). */
async function groupGone(pgid: number, timeoutMs: number): Promise<void> {
  const alive = () => {
    try {
      process.kill(-pgid, 0);
      return true;
    } catch {
      return false;
    }
  };
  const deadline = Date.now() + timeoutMs;
  while (alive() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
  if (alive()) process.kill(-pgid, 'SIGKILL');
}

async function answers(address: string): Promise<boolean> {
  try {
    const connection = await Connection.connect({ address, connectTimeout: 2000 });
    try {
      await connection.workflowService.getSystemInfo({});
      return true;
    } finally {
      await connection.close();
    }
  } catch {
    return false;
  }
}

describe('npm start beside a running one', function () {
  this.timeout(180_000);
  const dirs: string[] = [];
  let first: Started | undefined;
  let temporalPort: number;

  before(async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'p0-start-'));
    dirs.push(dir);
    temporalPort = await freePort();
    first = startProduct(dir, { api: await freePort(), temporal: temporalPort, ui: await freePort() });
    await until(first, /p0-jit is running/, 120_000);
    // With no identity provider configured, it says how to sign in.
    await until(first, /npm run login-link -- you@example\.com/, 10_000);
  });

  after(async () => {
    if (first?.child.pid && first.child.exitCode === null) {
      process.kill(-first.child.pid, 'SIGINT');
      const stopped = await Promise.race([first.exited, new Promise((resolve) => setTimeout(() => resolve('timeout'), 30_000))]);
      if (stopped === 'timeout') process.kill(-first.child.pid, 'SIGKILL');
      // npm start may exit before its dev server (same process group) has closed its files.
      await groupGone(first.child.pid, 30_000);
    }
    for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true, maxRetries: 5 });
  });

  it('refuses a Temporal port that is taken, naming the port and both ways out, and leaves the other server alone', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'p0-start-'));
    dirs.push(dir);
    const startedAt = Date.now();
    const second = startProduct(dir, { api: await freePort(), temporal: temporalPort, ui: await freePort() });
    const code = await second.exited;
    assert.equal(code, 1, second.output());
    assert.ok(Date.now() - startedAt < 30_000, 'it fails fast');
    assert.match(second.output(), new RegExp(`Port ${temporalPort} on 127\\.0\\.0\\.1 is already in use`));
    assert.match(second.output(), new RegExp(`TEMPORAL_ADDRESS=127\\.0\\.0\\.1:${temporalPort}`));
    assert.match(second.output(), /TEMPORAL_DEV_PORT/);
    assert.doesNotMatch(second.output(), /Temporal dev server running/);
    assert.equal(await answers(`127.0.0.1:${temporalPort}`), true, "the first copy's server still runs");
  });

  it('refuses a second start from the same directory instead of stopping the first one\'s server', async () => {
    const second = startProduct(dirs[0]!, { api: await freePort(), temporal: await freePort(), ui: await freePort() });
    const code = await second.exited;
    assert.equal(code, 1, second.output());
    assert.match(second.output(), /p0-jit is already running from this directory \(process \d+/);
    assert.equal(await answers(`127.0.0.1:${temporalPort}`), true, "the first copy's server still runs");
  });
});
