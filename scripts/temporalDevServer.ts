/**
 * Starts Temporal's dev server (`temporal server start-dev`) as a child process: used by `npm start`
 * (embedded default) and by the tests. Its SQLite file keeps workflows and timers across restarts.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import { makePrivateDir, makePrivateFile } from '../db/privateFiles';

const REPO_ROOT = path.resolve(__dirname, '..');
const READY_TIMEOUT_MS = 60_000;

/**
 * Where the dev server listens unless told otherwise: loopback only. Its namespace has no
 * authentication, and whoever reaches it (or its Web UI) can start and message workflows.
 */
export const DEV_SERVER_IP = '127.0.0.1';

export interface DevServerOptions {
  /** SQLite file for durable state; omitted = in memory (tests that do not restart the server). */
  dbFile?: string;
  /** The address the gRPC frontend and the Web UI bind to; default loopback (DEV_SERVER_IP). */
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

/**
 * Finds (or downloads or builds, once) the Temporal CLI through scripts/ensure-temporal-cli.sh. Its
 * progress (what is fetched or built, why, how long so far) goes straight to our stderr: a first start
 * can take minutes.
 */
export async function temporalCliPath(): Promise<string> {
  const script = path.join(REPO_ROOT, 'scripts', 'ensure-temporal-cli.sh');
  const child = spawn('bash', [script], { stdio: ['ignore', 'pipe', 'inherit'], timeout: 30 * 60_000 });
  let stdout = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  const code = await new Promise<number | null>((resolve, reject) => child.once('error', reject).once('close', resolve));
  if (code !== 0) throw new Error(`Could not find, download or build the Temporal CLI (scripts/ensure-temporal-cli.sh exited ${code}); see the lines above`);
  return stdout.trim().split('\n').pop()!;
}

/** Why the dev server was not started; the message says what to do. */
export class DevServerStartError extends Error {
  override readonly name = 'DevServerStartError';
}

export async function startDevServer(options: DevServerOptions): Promise<DevServer> {
  const cli = await temporalCliPath();
  const ip = options.ip ?? DEV_SERVER_IP;
  if (options.pidFile) await stopLeftover(options.pidFile);
  // A server that is already there would answer in place of ours, and its workers (another project's,
  // another copy of this one) could run this product's workflows: refuse instead.
  await requirePortFree(ip, options.port, 'TEMPORAL_DEV_PORT');
  if (options.uiPort) await requirePortFree(ip, options.uiPort, 'TEMPORAL_DEV_UI_PORT');
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
  // The UI's own address is named too, rather than relying on the CLI defaulting it to --ip.
  if (options.uiPort) args.push('--ui-ip', ip, '--ui-port', String(options.uiPort));
  else args.push('--headless');

  makePrivateDir(path.dirname(options.logFile));
  makePrivateFile(options.logFile);
  const log = fs.openSync(options.logFile, 'a');
  const child = spawn('/bin/sh', ['-c', 'umask 077 && exec "$0" "$@"', cli, ...args], { stdio: ['ignore', log, log] });
  fs.closeSync(log);
  if (options.pidFile && child.pid) {
    fs.writeFileSync(options.pidFile, JSON.stringify({ server: child.pid, owner: process.pid } satisfies PidFile), { mode: 0o600 });
  }

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

/**
 * `npm start`'s Temporal (the embedded default): state in `<dataDir>/temporal.db` so requests and
 * timers survive a restart, listening on loopback only.
 */
export function startEmbeddedTemporal(options: { dataDir: string; port: number; uiPort: number }): Promise<DevServer> {
  const { dataDir, port, uiPort } = options;
  return startDevServer({
    dbFile: path.join(dataDir, 'temporal.db'),
    ip: DEV_SERVER_IP,
    port,
    uiPort,
    logFile: path.join(dataDir, 'temporal.log'),
    pidFile: path.join(dataDir, 'temporal.pid'),
  });
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
        // An answer while our child is gone came from some other server on that port.
        if (exited) throw new DevServerStartError(`The Temporal dev server exited at start-up and another server answers on ${address}; see ${logFile}`);
        return;
      } finally {
        await connection.close();
      }
    } catch (error) {
      if (error instanceof DevServerStartError) throw error;
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

/** What `pidFile` records: the dev server, and the process (an `npm start`) that started it. */
interface PidFile {
  server: number;
  owner: number;
}

function readPidFile(pidFile: string): PidFile | undefined {
  let text: string;
  try {
    text = fs.readFileSync(pidFile, 'utf8').trim();
  } catch {
    return undefined;
  }
  // Files from before the owner was recorded hold the server's pid alone.
  if (/^\d+$/.test(text)) return { server: Number(text), owner: 0 };
  try {
    const parsed = JSON.parse(text) as Partial<PidFile>;
    return typeof parsed.server === 'number' ? { server: parsed.server, owner: typeof parsed.owner === 'number' ? parsed.owner : 0 } : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Stops a server left behind by a hard-killed `npm start` before a new one opens the same database.
 * A server whose owner still runs belongs to another `npm start` on the same data: that is refused.
 */
async function stopLeftover(pidFile: string): Promise<void> {
  const recorded = readPidFile(pidFile);
  if (!recorded?.server || !isTemporalProcess(recorded.server)) return;
  if (recorded.owner && recorded.owner !== process.pid && isAlive(recorded.owner)) {
    throw new DevServerStartError(
      `p0-jit is already running from this directory (process ${recorded.owner}, Temporal dev server ${recorded.server}, recorded in ${pidFile}): stop it first, or run the second copy from another directory`,
    );
  }
  const pid = recorded.server;
  process.kill(pid, 'SIGTERM');
  for (let waited = 0; waited < 10_000 && isAlive(pid); waited += 100) {
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  if (isAlive(pid)) process.kill(pid, 'SIGKILL');
}

/** Fails with what to do when something already listens on `ip:port`. */
async function requirePortFree(ip: string, port: number, setting: string): Promise<void> {
  const taken = await new Promise<boolean>((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', (error: NodeJS.ErrnoException) => (error.code === 'EADDRINUSE' ? resolve(true) : reject(error)));
    probe.listen(port, ip, () => probe.close(() => resolve(false)));
  });
  if (!taken) return;
  const useIt =
    setting === 'TEMPORAL_DEV_PORT'
      ? `set TEMPORAL_ADDRESS=${ip}:${port} to use the Temporal server that is there on purpose, or `
      : '';
  throw new DevServerStartError(
    `Port ${port} on ${ip} is already in use (another Temporal server, or another npm start?), so the Temporal dev server cannot start there: ${useIt}set ${setting} to start it on another port`,
  );
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
