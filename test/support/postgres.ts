/**
 * A throwaway PostgreSQL server for tests: a fresh cluster in a temp dir, on a free loopback port,
 * trust auth, fsync off. The server programs come from scripts/ensure-postgres.sh (which installs
 * them when it can); a machine without them fails the tests that need PostgreSQL, it never skips them.
 */
import { execFile, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './net';

const execFileAsync = promisify(execFile);
const REPO_ROOT = path.resolve(__dirname, '..', '..');
const DATABASE_NAME = 'p0';
const SUPERUSER = 'postgres';
const START_ATTEMPTS = 3;

export interface RunningPostgres {
  /** `postgres://postgres@127.0.0.1:<port>/p0`, no password (trust auth on loopback). */
  url: string;
  /** Stops the server abruptly (like a crash: `-m immediate`) and starts it again on the same port. */
  restart(options?: { downMs?: number }): Promise<void>;
  stop(): Promise<void>;
}

/** The directory holding initdb, pg_ctl and postgres (installing them first if needed and possible). */
export async function postgresBinDir(): Promise<string> {
  const script = path.join(REPO_ROOT, 'scripts', 'ensure-postgres.sh');
  try {
    const { stdout } = await execFileAsync('bash', [script], { maxBuffer: 1 << 20, timeout: 15 * 60_000 });
    return stdout.trim().split('\n').pop()!;
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr?.trim();
    throw new Error(`PostgreSQL is not available for the tests: ${stderr || (error as Error).message}`, { cause: error });
  }
}

/**
 * @param options.durable keep PostgreSQL's crash safety (fsync, synchronous commit): for tests that
 * crash the server and expect every committed write to survive, as in production. Off by default:
 * faster, and a test database need not survive a crash.
 */
export async function startPostgres(options: { durable?: boolean } = {}): Promise<RunningPostgres> {
  const binDir = await postgresBinDir();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'p0-pg-'));
  const dataDir = path.join(dir, 'data');
  const logFile = path.join(dir, 'server.log');
  // initdb and postgres refuse to run as root: run them as the `postgres` system user instead.
  const asRoot = process.getuid?.() === 0;
  if (asRoot) {
    const owner = systemUser(SUPERUSER);
    fs.chownSync(dir, owner.uid, owner.gid);
  }
  const serverCommand = (program: string, args: string[]): [string, string[]] => {
    const binary = path.join(binDir, program);
    return asRoot ? ['runuser', ['-u', SUPERUSER, '--', binary, ...args]] : [binary, args];
  };

  let stopped = false;
  const stopNow = (mode: 'fast' | 'immediate') => {
    if (stopped) return;
    stopped = true;
    process.removeListener('exit', onExit);
    try {
      if (fs.existsSync(path.join(dataDir, 'postmaster.pid'))) {
        execFileSync(...serverCommand('pg_ctl', ['stop', '-D', dataDir, '-m', mode, '-w', '-t', '30']), { stdio: 'ignore' });
      }
    } catch {
      // already stopped
    }
    fs.rmSync(dir, { recursive: true, force: true });
  };
  // Synchronous, so it also runs when mocha ends the process with process.exit.
  const onExit = () => stopNow('immediate');
  process.once('exit', onExit);

  try {
    await execFileAsync(
      ...serverCommand('initdb', ['-D', dataDir, '-U', SUPERUSER, '--auth=trust', '--encoding=UTF8', '--locale=C', '--no-sync']),
    );
    const { port, settings } = await startServer(serverCommand, dataDir, dir, logFile, options.durable === true);
    await execFileAsync(path.join(binDir, 'createdb'), ['-h', '127.0.0.1', '-p', String(port), '-U', SUPERUSER, DATABASE_NAME]);
    return {
      url: `postgres://${SUPERUSER}@127.0.0.1:${port}/${DATABASE_NAME}`,
      restart: async ({ downMs = 0 } = {}) => {
        await execFileAsync(...serverCommand('pg_ctl', ['stop', '-D', dataDir, '-m', 'immediate', '-w', '-t', '30']));
        await new Promise((resolve) => setTimeout(resolve, downMs));
        await execFileAsync(...serverCommand('pg_ctl', ['start', '-D', dataDir, '-l', logFile, '-w', '-t', '60', '-o', settings]));
      },
      stop: () => Promise.resolve(stopNow('fast')),
    };
  } catch (error) {
    const detail = describeFailure(error, logFile);
    stopNow('immediate');
    throw new Error(`Could not start a test PostgreSQL: ${detail}`, { cause: error });
  }
}

/** Starts the server on a free port, trying another if that one was taken in the meantime. */
async function startServer(
  serverCommand: (program: string, args: string[]) => [string, string[]],
  dataDir: string,
  socketDir: string,
  logFile: string,
  durable: boolean,
): Promise<{ port: number; settings: string }> {
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const settings = [
      `-p ${port}`,
      `-k '${socketDir}'`,
      '-c listen_addresses=127.0.0.1',
      // A test database need not survive a crash, unless the test is about surviving one.
      ...(durable ? [] : ['-c fsync=off', '-c synchronous_commit=off', '-c full_page_writes=off']),
    ].join(' ');
    try {
      await execFileAsync(...serverCommand('pg_ctl', ['start', '-D', dataDir, '-l', logFile, '-w', '-t', '60', '-o', settings]));
      return { port, settings };
    } catch (error) {
      if (attempt >= START_ATTEMPTS) throw error;
    }
  }
}

function systemUser(name: string): { uid: number; gid: number } {
  try {
    const uid = Number(execFileSync('id', ['-u', name], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', name], { encoding: 'utf8' }).trim());
    return { uid, gid };
  } catch {
    throw new Error(`PostgreSQL refuses to run as root and there is no "${name}" user to run it as`);
  }
}

function describeFailure(error: unknown, logFile: string): string {
  const stderr = (error as { stderr?: string }).stderr?.trim();
  let detail = stderr || (error instanceof Error ? error.message : String(error));
  try {
    const logTail = fs.readFileSync(logFile, 'utf8').trim().split('\n').slice(-10).join('\n');
    if (logTail) detail += `\nserver log (last lines):\n${logTail}`;
  } catch {
    // no log yet
  }
  return detail;
}
