/**
 * Starts Temporal's dev server (`temporal server start-dev`) as a child process: used by `npm start`
 * (embedded default) and by the tests. Its SQLite file keeps workflows and timers across restarts.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { Connection } from '@temporalio/client';

const execFileAsync = promisify(execFile);
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

/** Finds (or builds, once) the Temporal CLI through scripts/ensure-temporal-cli.sh. */
export async function temporalCliPath(): Promise<string> {
  const script = path.join(REPO_ROOT, 'scripts', 'ensure-temporal-cli.sh');
  const { stdout } = await execFileAsync('bash', [script], { maxBuffer: 1 << 20, timeout: 30 * 60_000 });
  return stdout.trim().split('\n').pop()!;
}

export async function startDevServer(options: DevServerOptions): Promise<DevServer> {
  const cli = await temporalCliPath();
  const ip = options.ip ?? DEV_SERVER_IP;
  if (options.pidFile) await stopLeftover(options.pidFile);
  const args = ['server', 'start-dev', '--ip', ip, '--port', String(options.port), '--log-level', 'warn'];
  if (options.dbFile) {
    fs.mkdirSync(path.dirname(options.dbFile), { recursive: true });
    args.push('--db-filename', options.dbFile);
  }
  // The UI's own address is named too, rather than relying on the CLI defaulting it to --ip.
  if (options.uiPort) args.push('--ui-ip', ip, '--ui-port', String(options.uiPort));
  else args.push('--headless');

  fs.mkdirSync(path.dirname(options.logFile), { recursive: true });
  const log = fs.openSync(options.logFile, 'a');
  const child = spawn(cli, args, { stdio: ['ignore', log, log] });
  fs.closeSync(log);
  if (options.pidFile && child.pid) fs.writeFileSync(options.pidFile, String(child.pid));

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
