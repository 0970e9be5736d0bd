/**
 * Temporal's time-skipping test server for workflow tests: durable timers of days fire in
 * milliseconds while a test waits on a workflow's result (or calls `env.sleep`). The server comes from
 * scripts/ensure-temporal-test-server.sh (the SDK's own download needs the internet at test time),
 * and listens on a free loopback port of its own.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { freePort } from './net';

const INSTALLER = path.join(__dirname, '..', '..', 'scripts', 'ensure-temporal-test-server.sh');

/** The test server's executable, installed first if needed (the installer logs to stderr). */
export async function testServerPath(): Promise<string> {
  const child = spawn('bash', [INSTALLER], { stdio: ['ignore', 'pipe', 'inherit'], timeout: 10 * 60_000 });
  let stdout = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  const code = await new Promise<number | null>((resolve, reject) => child.once('error', reject).once('close', resolve));
  if (code !== 0) throw new Error(`Could not find or install Temporal's test server (scripts/ensure-temporal-test-server.sh exited ${code}); see the lines above`);
  return stdout.trim().split('\n').pop()!;
}

/** One environment per suite: create it in `before`, `teardown()` it in `after`. */
export async function createTimeSkippingEnvironment(): Promise<TestWorkflowEnvironment> {
  const executable = await testServerPath();
  return TestWorkflowEnvironment.createTimeSkipping({
    server: { port: await freePort(), executable: { type: 'existing-path', path: executable } },
  });
}
