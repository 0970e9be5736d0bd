/**
 * `npm run worker` and `npm run api` as real child processes, so a test can kill one with SIGKILL
 * mid-request and start another, as an operator's crash would.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import type { Harness } from './harness';
import { freePort } from './net';

const REPO_ROOT = path.resolve(__dirname, '..', '..');
const READY_TIMEOUT_MS = 90_000;

export interface WorkerProcess {
  child: ChildProcess;
  output(): string;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

export interface ApiProcess extends WorkerProcess {
  /** `http://127.0.0.1:<port>` */
  url: string;
}

/**
 * @param entry the worker's entry point (the product's own by default; the benchmark swaps in a no-op provider).
 * @param env more environment for the worker (its metrics server is off unless METRICS_PORT is given
 *   here; DATABASE_URL here replaces the harness's SQLite file).
 */
export function startWorkerProcess(h: Harness, entry = 'worker/main.ts', env: NodeJS.ProcessEnv = {}): Promise<WorkerProcess> {
  return startProductProcess(h, entry, env, 'worker running');
}

/** `npm run api` on a free loopback port, over the harness's config and task queue (`env` as for workers). */
export async function startApiProcess(h: Harness, env: NodeJS.ProcessEnv = {}): Promise<ApiProcess> {
  const port = await freePort();
  const started = await startProductProcess(h, 'api/main.ts', { PORT: String(port), HOST: '127.0.0.1', ...env }, 'API listening');
  return { ...started, url: `http://127.0.0.1:${port}` };
}

async function startProductProcess(h: Harness, entry: string, env: NodeJS.ProcessEnv, readyLine: string): Promise<WorkerProcess> {
  const what = path.basename(entry, '.ts');
  const child = spawn(process.execPath, ['--import', 'tsx', entry], {
    cwd: REPO_ROOT,
    env: {
      ...process.env,
      P0_CONFIG: h.configPath,
      DATABASE_URL: `sqlite:${h.sqlitePath}`,
      TEMPORAL_ADDRESS: h.temporalAddress,
      P0_TASK_QUEUE: h.taskQueue,
      // The same key as the test's API (set by the harness), or the worker refuses every grant.
      P0_SIGNING_KEY: process.env.P0_SIGNING_KEY,
      LOG_LEVEL: 'info',
      METRICS_PORT: 'off',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);

  // A process that dies by itself (the fault suite's killed ones) no longer needs killing at exit.
  const exited = new Promise<void>((resolve) =>
    child.once('exit', () => {
      process.removeListener('exit', killOnExit);
      resolve();
    }),
  );
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (!output.includes(readyLine)) {
    if (child.exitCode !== null) throw new Error(`${what} exited at start-up:\n${output}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`${what} not ready in ${READY_TIMEOUT_MS} ms:\n${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    child,
    output: () => output,
    kill: async (signal: NodeJS.Signals = 'SIGKILL') => {
      process.removeListener('exit', killOnExit);
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
  };
}
