/**
 * A whole product under test: the real API (HTTP on loopback) and a real worker on its own task
 * queue, against the shared Temporal dev server, a shared moto IAM server and a fresh SQLite file.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { IAMClient } from '@aws-sdk/client-iam';
import { startApi, type RunningApi } from '../../api/server';
import type { DatabaseLogger } from '../../db/database';
import type { GrantLeaseStore } from '../../db/grantLeaseStore';
import type { ReconcileEventStore } from '../../db/reconcileEventStore';
import type { RequestStore } from '../../db/requestStore';
import type { TokenStore } from '../../db/tokenStore';
import type { Notifier } from '../../activities';
import type { SlackSettings } from '../../bots/slack/settings';
import type { TeamsSettings } from '../../bots/teams/settings';
import type { Provider } from '../../providers/provider';
import type { SignInService } from '../../service/signIn';
import { MessageSigner, signingKeyFromEnvironment } from '../../service/messageSigning';
import { createLogger, openRuntime } from '../../service/runtime';
import { temporalTarget } from '../../service/temporal';
import type { ReconcileReport } from '../../shared/reconcile';
import type { RequestStatus, RequestView } from '../../shared/request';
import { startWorker, type StartedWorker } from '../../worker/worker';
import { iamClientFor, startMoto } from './moto';
import { sharedTemporal, sharedWorkflowBundle } from './temporal';

let moto: ReturnType<typeof startMoto> | undefined;

/**
 * One signing key for the run, in the environment as in production: the in-process API and worker
 * read it here, and worker processes the tests start inherit it (see workerProcess.ts).
 */
process.env.P0_SIGNING_KEY ||= randomBytes(32).toString('base64');
export const testSigning = new MessageSigner(signingKeyFromEnvironment({ keyFileDir: undefined }).key);

/** One moto for the run; tests keep apart by using their own IAM users. */
export async function sharedMoto(): Promise<{ endpoint: string; iam: IAMClient }> {
  moto ??= startMoto();
  const { endpoint } = await moto;
  // The provider builds its IAM client from the SDK's standard environment, as in production.
  Object.assign(process.env, {
    AWS_ENDPOINT_URL: endpoint,
    AWS_ACCESS_KEY_ID: 'testing',
    AWS_SECRET_ACCESS_KEY: 'testing',
    AWS_REGION: 'us-east-1',
  });
  return { endpoint, iam: iamClientFor(endpoint) };
}

export const BASE_TEST_CONFIG = `
approvers:
  sre: [bob@example.com, dana@example.com]
admins: [sec@example.com]
approvalTimeout: 60s
verifyTimeout: 30s
resources:
  - { provider: aws, kind: role, target: AdminRole, approvers: [sre], minDuration: 1s, maxDuration: 1h }
  - { provider: aws, kind: role, target: NoSuchRole, approvers: [sre], minDuration: 1s, maxDuration: 1h }
  - { provider: aws, kind: policy, target: ReadOnlyAccess, approvers: [sre], minDuration: 1s, maxDuration: 1h }
  - { provider: aws, kind: group, target: Developers, approvers: [sre], minDuration: 1s, maxDuration: 1h }
aws:
  propagation: { settleDelay: 0s, consecutiveReads: 2, pollInterval: 100ms }
`;

export interface ApiAnswer<T = Record<string, unknown>> {
  status: number;
  body: T;
}

export class Harness {
  private readonly tokenByEmail = new Map<string, string>();

  private constructor(
    readonly apiUrl: string,
    readonly iam: IAMClient,
    readonly taskQueue: string,
    readonly dir: string,
    readonly configPath: string,
    readonly sqlitePath: string,
    readonly temporalAddress: string,
    private readonly tokens: TokenStore,
    readonly requests: RequestStore,
    readonly leases: GrantLeaseStore,
    readonly reconcileEvents: ReconcileEventStore,
    /** Runs the reconciler now (as an admin would with `p0 reconcile`), through the real workflow. */
    readonly reconcile: (input?: { dryRun?: boolean; orphans?: 'revoke' | 'report' }) => Promise<ReconcileReport>,
    private readonly stopAll: () => Promise<void>,
  ) {}

  /**
   * @param options.withWorker false to run the worker as a separate process instead (see workerProcess.ts).
   * @param options.slack the Slack app on the API (/slack/events) and its notifier on the in-process worker.
   * @param options.notifiers more notifiers for the in-process worker.
   * @param options.rateLimitPerMinute the API's per-token rate limit (default: the product's, 600).
   */
  static async start(
    configYaml = BASE_TEST_CONFIG,
    options: {
      withWorker?: boolean;
      wrapProvider?: (provider: Provider) => Provider;
      slack?: SlackSettings;
      /** The Teams bot on the API (/api/messages) and its notifier on the in-process worker. */
      teams?: TeamsSettings;
      notifiers?: Notifier[];
      rateLimitPerMinute?: number;
      /** Have the in-process worker keep the reconciler's Temporal Schedule for this task queue (deleted at stop). */
      reconcileSchedule?: boolean;
      /** A PostgreSQL URL instead of a fresh SQLite file. */
      databaseUrl?: string;
      /** This Temporal server instead of the run's shared one (e.g. one a test restarts). */
      temporalAddress?: string;
      /** Where the worker's AWS SDK sends IAM calls (a fault proxy); default the shared moto. */
      awsEndpointUrl?: string;
      /** Hears knex's own warnings (connection errors while the database is down). */
      databaseLogger?: DatabaseLogger;
      /** The API's port (0: any), for a config whose auth.publicUrl names it. */
      port?: number;
    } = {},
  ): Promise<Harness> {
    const [temporal, { iam }, workflowBundle] = await Promise.all([
      options.temporalAddress ? { address: options.temporalAddress } : sharedTemporal(),
      sharedMoto(),
      sharedWorkflowBundle(),
    ]);
    process.env.TEMPORAL_ADDRESS = temporal.address;
    if (options.awsEndpointUrl) process.env.AWS_ENDPOINT_URL = options.awsEndpointUrl;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'p0-test-'));
    const configPath = path.join(dir, 'p0.yaml');
    fs.writeFileSync(configPath, configYaml);
    const sqlitePath = path.join(dir, 'p0.sqlite');
    const taskQueue = `test-${path.basename(dir)}`;
    const logger = createLogger('p0-test');
    logger.level = 'warn';
    // As in production: the config file is watched and reloaded; the signing key comes from P0_SIGNING_KEY (set above).
    const runtime = await openRuntime({
      configPath,
      databaseUrl: options.databaseUrl ?? `sqlite:${sqlitePath}`,
      logger,
      databaseLogger: options.databaseLogger,
      watch: true,
    });
    const worker: StartedWorker | undefined =
      options.withWorker === false
        ? undefined
        : await startWorker(runtime, {
            taskQueue,
            workflowBundle,
            wrapProvider: options.wrapProvider,
            slack: options.slack ?? null,
            teams: options.teams ?? null,
            notifiers: options.notifiers,
            reconcileSchedule: options.reconcileSchedule ?? false,
          });
    void worker?.run();
    const target = temporalTarget();
    const apiOptions = { temporal: target, logger, taskQueue, slack: options.slack ?? null, teams: options.teams ?? null, rateLimitPerMinute: options.rateLimitPerMinute };
    let api: RunningApi = await startApi({ ...apiOptions, runtime, port: options.port ?? 0 });
    /** An API process started afresh: its own runtime (database connection, caches), on the same port. */
    let restartedRuntime: Awaited<ReturnType<typeof openRuntime>> | undefined;
    const restartApi = async () => {
      const port = Number(new URL(api.url).port);
      await api.close();
      await restartedRuntime?.close();
      restartedRuntime = await openRuntime({ configPath, databaseUrl: options.databaseUrl ?? `sqlite:${sqlitePath}`, logger });
      api = await startApi({ ...apiOptions, runtime: restartedRuntime, port });
    };

    const admin = { email: runtime.policy.current().config.admins[0] ?? 'sec@example.com', admin: true };
    const reconcile = (input: { dryRun?: boolean; orphans?: 'revoke' | 'report' } = {}) => api.reconcile.run(admin, input);
    const { tokens, requests, leases, reconcileEvents } = runtime;
    const harness = new Harness(api.url, iam, taskQueue, dir, configPath, sqlitePath, temporal.address, tokens, requests, leases, reconcileEvents, reconcile, async () => {
      if (options.reconcileSchedule) await api.reconcile.deleteSchedule();
      await api.close();
      await restartedRuntime?.close();
      // A worker that already stopped (it failed) throws its error here.
      await worker?.close();
      await runtime.close();
      fs.rmSync(dir, { recursive: true, force: true });
    });
    harness.signIn = api.signIn;
    harness.restartApi = restartApi;
    return harness;
  }

  /** Stops the API and starts it again on the same port, over a fresh runtime (as a new API process would); the worker keeps running. */
  restartApi!: () => Promise<void>;

  /** Sign-in (login links, sessions); set by start. */
  signIn!: SignInService;

  /** A one-time login link, as `npm run login-link` prints it. */
  loginLink(email: string): Promise<string> {
    return this.signIn.createLoginLink(email);
  }

  /** Moves a token's end into the past. */
  async expireToken(token: string): Promise<void> {
    await this.tokens.setExpiry(token, new Date(Date.now() - 1000));
  }

  async token(email: string, admin = false): Promise<string> {
    const key = `${email}:${admin}`;
    if (!this.tokenByEmail.has(key)) this.tokenByEmail.set(key, await this.tokens.issue(email, { admin }));
    return this.tokenByEmail.get(key)!;
  }

  /** One API call as `email` (or with no token when email is undefined). */
  async call<T = Record<string, unknown>>(email: string | undefined, method: string, route: string, body?: unknown): Promise<ApiAnswer<T>> {
    const headers: Record<string, string> = {};
    if (email) headers.authorization = `Bearer ${await this.token(email)}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const response = await fetch(`${this.apiUrl}${route}`, {
      method,
      headers,
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await response.text();
    return { status: response.status, body: text ? (JSON.parse(text) as T) : ({} as T) };
  }

  /** POST /v1/requests, asserting it was accepted. */
  async request(email: string, body: Record<string, unknown>): Promise<RequestView> {
    const answer = await this.call<{ request: RequestView }>(email, 'POST', '/v1/requests', body);
    if (answer.status !== 201) throw new Error(`request refused: ${answer.status} ${JSON.stringify(answer.body)}`);
    return answer.body.request;
  }

  /** `subject` (approve, deny): what is decided, e.g. the pending extension's id. */
  async act(email: string, id: string, action: string, comment?: string, subject?: string): Promise<ApiAnswer<{ request: RequestView; error?: { code: string; message: string } }>> {
    return this.call(email, 'POST', `/v1/requests/${id}/${action}`, { ...(comment === undefined ? {} : { comment }), ...(subject === undefined ? {} : { subject }) });
  }

  /** Polls GET /v1/requests/:id until the request reaches one of `statuses`. */
  async waitFor(email: string, id: string, statuses: RequestStatus[], timeoutMs = 30_000): Promise<RequestView> {
    const deadline = Date.now() + timeoutMs;
    let last: RequestView | undefined;
    while (Date.now() < deadline) {
      const answer = await this.call<{ request: RequestView }>(email, 'GET', `/v1/requests/${id}`);
      last = answer.body.request;
      if (last && statuses.includes(last.status)) return last;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error(`request ${id} did not reach ${statuses.join('|')} in ${timeoutMs} ms; last: ${JSON.stringify(last)}`);
  }

  stop(): Promise<void> {
    return this.stopAll();
  }
}
