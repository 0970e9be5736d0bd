/**
 * One Temporal dev server for the whole test run (started on first use, on a free loopback port,
 * in memory), and the workflow bundle built once for every test worker.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DefaultLogger, Runtime, bundleWorkflowCode, type WorkflowBundle } from '@temporalio/worker';
import { startDevServer, type DevServer } from '../../scripts/temporalDevServer';
import { freePort } from './net';

// Workers in tests log errors only (expected activity failures would be logged as warnings); worker state changes would drown the test output.
// The SDK's native side logs to the console on its own: errors only there too (it warns on every
// worker that the time-skipping test server lacks a capability of the real server's).
Runtime.install({ logger: new DefaultLogger('ERROR'), telemetryOptions: { logging: { filter: { core: 'ERROR', other: 'ERROR' } } } });

let server: Promise<DevServer> | undefined;
let bundle: Promise<WorkflowBundle> | undefined;

export function sharedTemporal(): Promise<DevServer> {
  server ??= (async () => {
    const started = await startDevServer({
      port: await freePort(),
      logFile: path.join(os.tmpdir(), `p0-test-temporal-${process.pid}.log`),
    });
    process.once('exit', () => {
      try {
        process.kill(started.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    });
    return started;
  })();
  return server;
}

export function sharedWorkflowBundle(): Promise<WorkflowBundle> {
  bundle ??= bundleWorkflowCode({ workflowsPath: require.resolve('../../workflows'), logger: quietLogger });
  return bundle;
}

let bundleFile: Promise<string> | undefined;

/**
 * The same bundle in a file, for worker processes a test starts (test/faults/holdingWorker.ts reads
 * P0_WORKFLOW_BUNDLE): a worker that need not bundle the workflows starts in a few seconds, not ten.
 */
export function sharedWorkflowBundleFile(): Promise<string> {
  bundleFile ??= (async () => {
    const file = path.join(os.tmpdir(), `p0-test-workflows-${process.pid}.js`);
    fs.writeFileSync(file, (await sharedWorkflowBundle()).code);
    process.once('exit', () => fs.rmSync(file, { force: true }));
    return file;
  })();
  return bundleFile;
}

const quietLogger = {
  trace() {},
  debug() {},
  info() {},
  warn() {},
  error(message: string, meta?: unknown) {
    console.error(message, meta);
  },
  log() {},
};
