/**
 * A real moto IAM server for tests: started on a free loopback port, killed on stop or when the test
 * process exits. The binary is `$MOTO_SERVER` or the pinned one scripts/ensure-moto.sh installs; a
 * missing moto fails the run, it never skips it.
 */
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import {
  CreateAccessKeyCommand,
  CreateUserCommand,
  IAMClient,
  PutUserPolicyCommand,
} from '@aws-sdk/client-iam';
import type { AwsSettings } from '../../providers/aws/iamProvider';
import { freePort } from './net';

export interface RunningMoto {
  /** `http://127.0.0.1:<port>` */
  endpoint: string;
  stop(): Promise<void>;
}

export interface AwsCredentials {
  accessKeyId: string;
  secretAccessKey: string;
}

export interface StartMotoOptions {
  /**
   * Turns on moto's IAM enforcement: the first N IAM requests after start-up are let through
   * unauthenticated, every later one must be signed with an IAM user's access key and be allowed by
   * that user's policies. See `bootstrapAdmin` for a setup that fits in those N calls.
   */
  initialNoAuthActionCount?: number;
}

const STARTUP_TIMEOUT_MS = 30_000;

let motoBinary: Promise<string> | undefined;

/** `$MOTO_SERVER`, else whatever ensure-moto.sh prints (fast once the venv is cached). Once per process. */
function findMotoBinary(): Promise<string> {
  motoBinary ??= (async () => {
    if (process.env.MOTO_SERVER) return process.env.MOTO_SERVER;
    const script = path.resolve(__dirname, '../../scripts/ensure-moto.sh');
    try {
      const { stdout } = await promisify(execFile)('bash', [script], { maxBuffer: 1024 * 1024 });
      return stdout.trim();
    } catch (error) {
      const stderr = (error as { stderr?: string }).stderr ?? '';
      throw new Error(`scripts/ensure-moto.sh failed: ${stderr.trim() || (error as Error).message}`, { cause: error });
    }
  })();
  return motoBinary;
}

export async function startMoto(options: StartMotoOptions = {}): Promise<RunningMoto> {
  const binary = await findMotoBinary();
  const port = await freePort();
  const endpoint = `http://127.0.0.1:${port}`;
  // moto logs every request; a file keeps that out of the test output but at hand when start-up fails.
  const logFile = path.join(os.tmpdir(), `p0-test-moto-${process.pid}-${port}.log`);
  const log = fs.openSync(logFile, 'w');
  const env: NodeJS.ProcessEnv = { ...process.env, MOTO_IAM_LOAD_MANAGED_POLICIES: 'true' };
  if (options.initialNoAuthActionCount !== undefined) {
    env.INITIAL_NO_AUTH_ACTION_COUNT = String(options.initialNoAuthActionCount);
  }
  const child = spawn(binary, ['-H', '127.0.0.1', '-p', String(port)], { env, stdio: ['ignore', log, log] });
  fs.closeSync(log);
  // A forgotten stop() must not hold the test process open, nor leave moto running after it.
  child.unref();
  let spawnError: Error | undefined;
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    // A binary that cannot be started (wrong MOTO_SERVER) emits 'error' and never 'exit'.
    child.once('error', (error) => {
      spawnError = error;
      resolve();
    });
  });
  const killOnExit = () => {
    child.kill('SIGKILL');
    fs.rmSync(logFile, { force: true });
  };
  process.once('exit', killOnExit);

  const stop = async () => {
    process.off('exit', killOnExit);
    if (child.exitCode === null && child.signalCode === null && !spawnError) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    }
    fs.rmSync(logFile, { force: true });
  };

  try {
    await waitUntilAnswering(endpoint, exited, () => (spawnError ? `${binary}: ${spawnError.message}` : logTail(logFile)));
  } catch (error) {
    await stop();
    throw error;
  }
  return { endpoint, stop };
}

/**
 * Polls moto's own API (`/moto-api/...`), which is not an IAM action, so it does not use up any of
 * the `initialNoAuthActionCount` unauthenticated calls.
 */
async function waitUntilAnswering(endpoint: string, exited: Promise<void>, diagnostics: () => string): Promise<void> {
  let hasExited = false;
  void exited.then(() => (hasExited = true));
  const deadline = Date.now() + STARTUP_TIMEOUT_MS;
  for (;;) {
    if (hasExited) throw new Error(`moto_server exited during start-up:\n${diagnostics()}`);
    try {
      const response = await fetch(`${endpoint}/moto-api/config`, { signal: AbortSignal.timeout(2_000) });
      await response.body?.cancel();
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`moto_server did not answer on ${endpoint} within ${STARTUP_TIMEOUT_MS} ms:\n${diagnostics()}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

function logTail(logFile: string): string {
  try {
    return fs.readFileSync(logFile, 'utf8').slice(-4_000);
  } catch {
    return '(no log)';
  }
}

/** AWS IAM-user settings for tests against moto: the config's defaults, with propagation checks made instant. */
export const MOTO_AWS_SETTINGS: AwsSettings = {
  region: 'us-east-1',
  userLookup: 'tag-then-name',
  emailTag: 'email',
  propagation: { settleDelayMs: 0, consecutiveReads: 1, pollIntervalMs: 10 },
  simulatePrincipalPolicy: false,
};

/** An IAM client for moto. Without credentials it signs with moto's conventional dummy keys. */
export function iamClientFor(endpoint: string, credentials: AwsCredentials = { accessKeyId: 'testing', secretAccessKey: 'testing' }): IAMClient {
  return new IAMClient({ region: 'us-east-1', endpoint, credentials });
}

/**
 * Creates the IAM user a requester's email maps to and returns its name. With `tag` (the default) the
 * user gets a name that is not the email and an `email=<address>` tag, so only a tag lookup finds it;
 * without, the user is named exactly the email, so only a name lookup finds it.
 */
export async function createIamUser(iam: IAMClient, email: string, options: { tag?: boolean; emailTag?: string } = {}): Promise<string> {
  const { tag = true, emailTag = 'email' } = options;
  // IAM user names are at most 64 characters.
  const userName = tag ? `tagged-${email}`.slice(0, 64) : email;
  await iam.send(new CreateUserCommand({ UserName: userName, Tags: tag ? [{ Key: emailTag, Value: email }] : undefined }));
  return userName;
}

/**
 * How many unauthenticated IAM calls `bootstrapAdmin` makes: start moto with
 * `initialNoAuthActionCount: MOTO_ADMIN_BOOTSTRAP_CALLS` and call `bootstrapAdmin` before anything else
 * talks IAM to it.
 */
export const MOTO_ADMIN_BOOTSTRAP_CALLS = 3;

/**
 * For a moto that enforces IAM: spends the unauthenticated calls on an admin user (inline `*` on `*`)
 * and returns its access key. Every later call, including test setup, signs with it: moto only accepts
 * keys of IAM users it knows (it has no root credentials), and counts requests, not users.
 */
export async function bootstrapAdmin(endpoint: string, userName = 'p0-test-admin'): Promise<AwsCredentials> {
  // One attempt each: an SDK retry would spend one more unauthenticated call than counted.
  const iam = new IAMClient({
    region: 'us-east-1',
    endpoint,
    credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
    maxAttempts: 1,
  });
  await iam.send(new CreateUserCommand({ UserName: userName }));
  await iam.send(
    new PutUserPolicyCommand({
      UserName: userName,
      PolicyName: 'admin',
      PolicyDocument: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }] }),
    }),
  );
  const { AccessKey } = await iam.send(new CreateAccessKeyCommand({ UserName: userName }));
  iam.destroy();
  return { accessKeyId: AccessKey!.AccessKeyId!, secretAccessKey: AccessKey!.SecretAccessKey! };
}
