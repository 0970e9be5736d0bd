/**
 * Starts Temporal's dev server (`temporal server start-dev`) as a child process: used by `npm start`
 * (embedded default) and by the tests. Its SQLite file keeps workflows and timers across restarts.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { Connection } from '@temporalio/client';
import { makePrivateDir, makePrivateFile } from '../db/privateFiles';

const execFileAsync = promisify(execFile);
const REPO_ROOT = path.resolve(__dirname, '..');
const READY_TIMEOUT_MS = 60_000;

export interface DevServerOptions {
  /** SQLite file for durable state; omitted = in memory (tests that do not restart the server). */
  dbFile?: string;
  ip?: string;
  port: number;
  /** Web UI port; omit for a headless server. */
  uiPort?: number;
  /** Where the server's own log goes. */
  logFile: string;
  /**
   * A file recording the server's pid: a server left behind by a hard-killed parent is stopped
   * before a new one starts on the same database.
   */
  pidFile?: string;
}

export interface DevServer {
  address: string;
  uiUrl?: string;
  pid: number;
  stop(): Promise<void>;
}

/** Finds (or builds, once) the Temporal CLI through scripts/ensure-temporal-cli.sh. */
export async function temporalCliPath(): Promise<string> {
  const script = path.join(REPO_ROOT, 'scripts', 'ensure-temporal-cli.sh');
  const { stdout } = await execFileAsync('bash', [script], { maxBuffer: 1 << 20, timeout: 30 * 60_000 });
  return stdout.trim().split('\n').pop()!;
}

export async function startDevServer(options: DevServerOptions): Promise<DevServer> {
  const cli = await temporalCliPath();
  const ip = options.ip ?? '127.0.0.1';
  if (options.pidFile) await stopLeftover(options.pidFile);
  const args = ['server', 'start-dev', '--ip', ip, '--port', String(options.port), '--log-level', 'warn'];
  // Every workflow's history is in the database, and request details in the log: owner only. The
  // server must create its database itself (it sets the schema up only for a new file), so it runs
  // under umask 077; files an earlier version left readable to others are tightened.
  if (options.dbFile) {
    makePrivateDir(path.dirname(options.dbFile));
    for (const suffix of ['', '-wal', '-shm', '-journal']) {
      if (fs.existsSync(options.dbFile + suffix)) makePrivateFile(options.dbFile + suffix);
    }
    args.push('--db-filename', options.dbFile);
  }
  if (options.uiPort) args.push('--ui-port', String(options.uiPort));
  else args.push('--headless');

  makePrivateDir(path.dirname(options.logFile));
  makePrivateFile(options.logFile);
  const log = fs.openSync(options.logFile, 'a');
  const child = spawn('/bin/sh', ['-c', 'umask 077 && exec "$0" "$@"', cli, ...args], { stdio: ['ignore', log, log] });
  fs.closeSync(log);
  if (options.pidFile && child.pid) fs.writeFileSync(options.pidFile, String(child.pid), { mode: 0o600 });

  const address = `${ip}:${options.port}`;
  const stop = () => stopChild(child, options.pidFile);
  try {
    await waitUntilServing(address, child, options.logFile);
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    address,
    uiUrl: options.uiPort ? `http://${ip}:${options.uiPort}` : undefined,
    pid: child.pid!,
    stop,
  };
}

async function waitUntilServing(address: string, child: ChildProcess, logFile: string): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  let exited = false;
  child.once('exit', () => (exited = true));
  while (Date.now() < deadline) {
    if (exited) throw new Error(`The Temporal dev server exited at start-up; see ${logFile}`);
    try {
      const connection = await Connection.connect({ address, connectTimeout: 1000 });
      try {
        await connection.workflowService.getSystemInfo({});
        return;
      } finally {
        await connection.close();
      }
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
  throw new Error(`The Temporal dev server did not answer on ${address} within ${READY_TIMEOUT_MS / 1000}s; see ${logFile}`);
}

async function stopChild(child: ChildProcess, pidFile?: string): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) {
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  }
  if (pidFile) fs.rmSync(pidFile, { force: true });
}

async function stopLeftover(pidFile: string): Promise<void> {
  let pid: number;
  try {
    pid = Number(fs.readFileSync(pidFile, 'utf8'));
  } catch {
    return;
  }
  if (!pid || !isTemporalProcess(pid)) return;
  process.kill(pid, 'SIGTERM');
  for (let waited = 0; waited < 10_000 && isAlive(pid); waited += 100) {
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  if (isAlive(pid)) process.kill(pid, 'SIGKILL');
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Only a process that is really a Temporal server is stopped (pids are reused). */
function isTemporalProcess(pid: number): boolean {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('start-dev');
  } catch {
    return isAlive(pid);
  }
}
