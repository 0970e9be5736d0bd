/**
 * The processes the benchmark measures, each apart from the bench's own (which only drives load and
 * watches): the product's worker (`npm run worker`, or for the scale figure the no-op-provider
 * worker) and its API (`npm run api`) as two processes, or both in one as `npm start` runs them;
 * and the bare Temporal worker. Temporal's dev server and moto are shared with the test support code.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import { openDatabase } from '../db/database';
import { TokenStore } from '../db/tokenStore';
import { sharedMoto } from '../test/support/harness';
import { freePort } from '../test/support/net';
import { BenchApi, StatusWatcher } from './api';

const REPO_ROOT = path.resolve(__dirname, '..');
const READY_TIMEOUT_MS = 120_000;
/** temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW (@temporalio/proto is not a direct dependency). */
const TASK_QUEUE_TYPE_WORKFLOW = 1;
export const BENCH_ADMIN = 'bench-admin@example.com';
export const BENCH_APPROVER = 'bob@example.com';

export interface ServiceProcess {
  label: string;
  child: ChildProcess;
  pid: number;
  /** The last 20 KB the process wrote (stdout and stderr). */
  output(): string;
  stop(): Promise<void>;
}

/** Where BENCH_CPU_PROFILE asks each service process to write its V8 CPU profile (none when unset). */
const CPU_PROFILE_DIR = process.env.BENCH_CPU_PROFILE ? path.resolve(process.env.BENCH_CPU_PROFILE) : undefined;
/** How long stop() waits for a profiled process to exit on SIGTERM (and write its profile) before SIGKILL. */
const PROFILED_STOP_GRACE_MS = 30_000;

/**
 * `node --import tsx <entry>` with `env` added; reported at once if it dies before stop(). With
 * BENCH_CPU_PROFILE=<dir>, the process runs under `--cpu-prof` (one .cpuprofile per thread, written
 * at exit), so stop() asks it to exit with SIGTERM before it kills it.
 */
export function spawnService(label: string, entry: string, env: NodeJS.ProcessEnv): ServiceProcess {
  const profiling = CPU_PROFILE_DIR ? ['--cpu-prof', `--cpu-prof-dir=${CPU_PROFILE_DIR}`] : [];
  const child = spawn(process.execPath, [...profiling, '--import', 'tsx', entry], { cwd: REPO_ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  // Node names each profile CPU.<date>.<time>.<pid>.<thread>.<seq>.cpuprofile: say which pid is what.
  if (CPU_PROFILE_DIR) fs.mkdirSync(CPU_PROFILE_DIR, { recursive: true });
  if (CPU_PROFILE_DIR) fs.appendFileSync(path.join(CPU_PROFILE_DIR, 'processes.txt'), `${child.pid} ${label}\n`);
  let output = '';
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-20_000);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  let stopping = false;
  const exited = new Promise<void>((resolve) =>
    child.once('exit', (code, signal) => {
      process.removeListener('exit', killOnExit);
      if (!stopping) console.error(`[bench] ${label} exited by itself (${signal ?? `code ${code}`}); its last output:\n${output.slice(-4000)}`);
      resolve();
    }),
  );
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  return {
    label,
    child,
    pid: child.pid!,
    output: () => output,
    stop: async () => {
      stopping = true;
      if (CPU_PROFILE_DIR && child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const graceOver = setTimeout(() => child.kill('SIGKILL'), PROFILED_STOP_GRACE_MS);
        await exited;
        clearTimeout(graceOver);
      }
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}

async function waitUntil(what: string, service: ServiceProcess, ready: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    if (service.child.exitCode !== null) throw new Error(`${service.label} exited at start-up:\n${service.output().slice(-4000)}`);
    if (await ready().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`${service.label} not ${what} in ${READY_TIMEOUT_MS} ms:\n${service.output().slice(-4000)}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

export type ProductShape = 'split' | 'whole';

export interface ProductOptions {
  configYaml: string;
  /** Everyone who will call the API; each gets a token before the product starts (plus the admin and the approver). */
  emails: string[];
  /**
   * `split`: worker/main.ts and api/main.ts, two processes (the bench's status polling then never
   * runs on the worker's event loop); `whole`: scripts/start.ts, both in one process as `npm start`.
   */
  shape: ProductShape;
  /** The worker's entry for `split` (default the product's own; the scale figure's grants nothing). */
  workerEntry?: 'worker/main.ts' | 'bench/noopWorker.ts';
  temporalAddress: string;
  /** Asks the server whether the worker polls yet. */
  client: Client;
  rateLimitPerMinute: number;
  pollMs: number;
  waitTimeoutMs: number;
  logLevel: string;
  env?: NodeJS.ProcessEnv;
}

export interface Product {
  api: BenchApi;
  watcher: StatusWatcher;
  taskQueue: string;
  shape: ProductShape;
  /** The process whose RSS is the worker's (the whole product for `whole`). */
  worker: ServiceProcess;
  token(email: string): string;
  adminToken: string;
  approverToken: string;
  stop(): Promise<void>;
}

export async function startProduct(options: ProductOptions): Promise<Product> {
  await sharedMoto(); // puts AWS_ENDPOINT_URL and test credentials in this process's env, which children inherit
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'p0-bench-'));
  const configPath = path.join(dir, 'p0.yaml');
  fs.writeFileSync(configPath, options.configYaml);
  const databaseUrl = `sqlite:${path.join(dir, 'p0.sqlite')}`;
  const taskQueue = `bench-${path.basename(dir)}`;

  // Tokens first, through the product's own store; then the bench never opens the database again.
  const tokens = new Map<string, string>();
  const database = await openDatabase({ url: databaseUrl });
  try {
    const store = new TokenStore(database);
    for (const email of new Set([BENCH_ADMIN, BENCH_APPROVER, ...options.emails])) tokens.set(email, await store.issue(email, { admin: email === BENCH_ADMIN }));
  } finally {
    await database.destroy();
  }

  const port = await freePort();
  const env: NodeJS.ProcessEnv = {
    P0_CONFIG: configPath,
    DATABASE_URL: databaseUrl,
    TEMPORAL_ADDRESS: options.temporalAddress,
    P0_TASK_QUEUE: taskQueue,
    // The harness put one signing key in this process's env: the API and the worker must share it.
    P0_SIGNING_KEY: process.env.P0_SIGNING_KEY,
    PORT: String(port),
    HOST: '127.0.0.1',
    // Raised on purpose (BENCH_API_RATE_LIMIT): the bench's watcher and approver are single clients
    // calling far more often than a person; a 429 still fails the bench (see api.ts).
    API_RATE_LIMIT_PER_MINUTE: String(options.rateLimitPerMinute),
    LOG_LEVEL: options.logLevel,
    LOG_JSON: '1',
    METRICS_PORT: 'off',
    ...options.env,
  };
  const services: ServiceProcess[] = [];
  const stop = async () => {
    for (const service of services.reverse()) await service.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  };
  try {
    let worker: ServiceProcess;
    let apiProcess: ServiceProcess;
    if (options.shape === 'whole') {
      worker = apiProcess = spawnService('product (npm start)', 'scripts/start.ts', env);
      services.push(worker);
    } else {
      const workerEntry = options.workerEntry ?? 'worker/main.ts';
      worker = spawnService(`product worker (${workerEntry})`, workerEntry, env);
      services.push(worker);
      apiProcess = spawnService('product API (npm run api)', 'api/main.ts', env);
      services.push(apiProcess);
    }
    const url = `http://127.0.0.1:${port}`;
    await waitUntil('listening', apiProcess, async () => (await fetch(`${url}/healthz`)).ok);
    // Ready when Temporal sees the worker polling its task queue (whatever the worker logs at this level).
    const pollers = async () =>
      (
        await options.client.workflowService.describeTaskQueue({
          namespace: 'default',
          taskQueue: { name: taskQueue },
          taskQueueType: TASK_QUEUE_TYPE_WORKFLOW,
        })
      ).pollers?.length ?? 0;
    await waitUntil('polling', worker, async () => (await pollers()) > 0);
    const api = new BenchApi(url, options.rateLimitPerMinute);
    const watcher = new StatusWatcher(api, tokens.get(BENCH_ADMIN)!, options.pollMs, options.waitTimeoutMs);
    return {
      api,
      watcher,
      taskQueue,
      shape: options.shape,
      worker,
      token: (email) => {
        const token = tokens.get(email);
        if (!token) throw new Error(`no token issued for ${email}`);
        return token;
      },
      adminToken: tokens.get(BENCH_ADMIN)!,
      approverToken: tokens.get(BENCH_APPROVER)!,
      stop: async () => {
        watcher.stop();
        await stop();
      },
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** The bare Temporal worker (bench/bareWorker.ts) in its own process, on `taskQueue`. */
export async function startBareWorker(temporalAddress: string, taskQueue: string): Promise<ServiceProcess> {
  const worker = spawnService('bare worker', 'bench/bareWorker.ts', { TEMPORAL_ADDRESS: temporalAddress, BARE_TASK_QUEUE: taskQueue });
  await waitUntil('running', worker, () => Promise.resolve(worker.output().includes('worker running')));
  return worker;
}

/** Resident set size of a process, from /proc. */
export function processRss(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) * 1024;
}
