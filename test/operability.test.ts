/**
 * What operators rely on: Prometheus metrics from real requests, /readyz naming the dependency that
 * is down, the per-token rate limit, refusals of oversized requests, and JSON log lines that name
 * the HTTP request and the access request they are about.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { MockActivityEnvironment } from '@temporalio/testing';
import { log as activityLog } from '@temporalio/activity';
import { workflowLogAttributes } from '@temporalio/workflow/lib/logs';
import pino from 'pino';
import { startApi, type RunningApi } from '../api/server';
import type { Provider } from '../providers/provider';
import { errorKind, metrics, observeRequestEvent, startMetricsServer } from '../service/metrics';
import { openRuntime, type Runtime } from '../service/runtime';
import { temporalTarget } from '../service/temporal';
import type { RequestView } from '../shared/request';
import { temporalLogger } from '../worker/logging';
import { BASE_TEST_CONFIG, Harness } from './support/harness';
import { ensureCatalogObjects, newRequester } from './support/iam';
import { freePort } from './support/net';
import { expectMatchesOpenApi } from './support/openapi';
import { startWorkerProcess } from './support/workerProcess';
import { assertApiError } from './support/apiErrors';

const BOB = 'bob@example.com'; // approver (sre)
const UNKNOWN_ID = 'req_01ARZ3NDEKTSV4RRFFQ69G5FAV';
const NOT_READY = 'Not ready (what failed and why: the log, or /readyz with a valid token)';

/** Requesters whose label contains this get one Throttling error from their first read-back. */
const FLAKY = 'flaky';

interface ErrorBody {
  error: { code: string; message: string };
}

describe('operability', function () {
  this.timeout(120_000);
  let h: Harness;
  const throttledOnce = new Set<string>();

  before(async () => {
    h = await Harness.start(BASE_TEST_CONFIG, {
      wrapProvider: (provider) =>
        withFirstReadThrottled(provider, (spec) => {
          if (!spec.principal.startsWith(FLAKY) || throttledOnce.has(spec.requestId)) return false;
          throttledOnce.add(spec.requestId);
          return true;
        }),
    });
    await ensureCatalogObjects(h.iam);
  });
  after(() => h?.stop());

  async function scrape(url = `${h.apiUrl}/metrics`): Promise<string> {
    const response = await fetch(url);
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8');
    return response.text();
  }

  async function activeRequest(label: string, duration = '2s'): Promise<RequestView> {
    const { email } = await newRequester(h.iam, label);
    const created = await h.request(email, { provider: 'aws', kind: 'group', target: 'Developers', reason: 'metrics', duration });
    const approved = await h.act(BOB, created.id, 'approve', 'ok');
    assert.equal(approved.status, 200, JSON.stringify(approved.body));
    return h.waitFor(email, created.id, ['active']);
  }

  describe('GET /metrics', () => {
    it('serves every product metric in Prometheus text format, without a token', async () => {
      const text = await scrape();
      for (const [name, type] of [
        ['p0_requests', 'gauge'],
        ['p0_approval_to_active_seconds', 'histogram'],
        ['p0_revoke_lateness_seconds', 'histogram'],
        ['p0_provider_errors_total', 'counter'],
        ['p0_orphans_found_total', 'counter'],
        ['p0_principal_alerts_total', 'counter'],
        ['p0_process_cpu_user_seconds_total', 'counter'],
        ['p0_nodejs_eventloop_lag_seconds', 'gauge'],
      ]) {
        assert.match(text, new RegExp(`^# TYPE ${name} ${type}$`, 'm'), `no ${type} ${name}`);
      }
      // Every status has a series, zero or not, so dashboards and alerts need no "absent" cases.
      for (const status of ['pending', 'active', 'expired', 'failed']) assert.notEqual(sample(text, 'p0_requests', { status }), undefined, `no p0_requests{status="${status}"}`);
    });

    it('observes approval -> active and revoke lateness from a real request, and counts requests by status', async () => {
      const before = await scrape();
      const active = await activeRequest('metrics');
      const during = await scrape();
      assert.equal(delta(during, before, 'p0_approval_to_active_seconds_count'), 1);
      // The observation is exactly activeAt - the approval, as the request view shows them.
      const expected = (Date.parse(active.activeAt!) - Date.parse(active.approvals.at(-1)!.at)) / 1000;
      assert.ok(Math.abs(delta(during, before, 'p0_approval_to_active_seconds_sum') - expected) < 1e-6, `sum grew by ${delta(during, before, 'p0_approval_to_active_seconds_sum')}, expected ${expected}`);
      assert.ok(sample(during, 'p0_requests', { status: 'active' })! >= 1, 'the active request is not counted');

      const expired = await h.waitFor(active.requester, active.id, ['expired']);
      const after = await scrape();
      assert.equal(delta(after, during, 'p0_revoke_lateness_seconds_count'), 1);
      const lateness = (Date.parse(expired.endedAt!) - Date.parse(expired.expiresAt!)) / 1000;
      assert.ok(Math.abs(delta(after, during, 'p0_revoke_lateness_seconds_sum') - lateness) < 1e-6);
      assert.ok(sample(after, 'p0_requests', { status: 'expired' })! >= 1);
    });

    it('counts a failed provider call by provider, operation and kind, and the request goes active anyway', async () => {
      const series = { provider: 'aws', operation: 'verifyPropagation', kind: 'Throttling' };
      const before = await scrape();
      const active = await activeRequest(FLAKY, '1m');
      assert.ok(throttledOnce.has(active.id), 'the read-back was never throttled');
      const after = await scrape();
      assert.equal((sample(after, 'p0_provider_errors_total', series) ?? 0) - (sample(before, 'p0_provider_errors_total', series) ?? 0), 1);
      assert.equal((await h.act(active.requester, active.id, 'relinquish')).status, 200);
    });

    it('names error kinds by code, AWS name, Google status or HTTP status', () => {
      assert.equal(errorKind(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' })), 'ECONNRESET');
      assert.equal(errorKind(Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' })), 'Throttling');
      assert.equal(errorKind(Object.assign(new Error('x'), { name: 'ServiceUnavailable' })), 'ServiceUnavailable');
      assert.equal(errorKind(Object.assign(new Error('x'), { name: 'ProviderInputError' })), 'ProviderInputError');
      assert.equal(errorKind(Object.assign(new Error('x'), { code: 14 })), 'code_14');
      assert.equal(errorKind(Object.assign(new Error('x'), { statusCode: 503 })), 'http_503');
      assert.equal(errorKind(new Error('plain')), 'Error');
      assert.equal(errorKind('a string'), 'string');
      assert.equal(errorKind(Object.assign(new Error('x'), { code: 'weird code {"x"}' })), 'weird_code___x__');
    });

    it('starts the approval clock at the scheduled start when that is later, and at the request for break-glass', async () => {
      const view = (overrides: Partial<RequestView>): RequestView =>
        ({ id: UNKNOWN_ID, createdAt: '2025-01-01T00:00:00.000Z', approvals: [], activeAt: '2025-01-01T01:00:10.000Z', ...overrides }) as RequestView;
      /** Seconds observed for the view, rounded to the millisecond (the sum is a float). */
      const observed = async (requestView: RequestView) => {
        const before = await histogramSum();
        observeRequestEvent({ type: 'active' }, requestView);
        return Math.round(((await histogramSum()) - before) * 1000) / 1000;
      };
      const approvals = [{ by: BOB, at: '2025-01-01T00:00:00.000Z' }];
      assert.equal(await observed(view({ approvals, activeAt: '2025-01-01T00:00:07.000Z' })), 7);
      assert.equal(await observed(view({ approvals, startAt: '2025-01-01T01:00:00.000Z' })), 10);
      assert.equal(await observed(view({ breakGlass: true, activeAt: '2025-01-01T00:00:03.000Z' })), 3);
      assert.equal(await observed(view({ activeAt: '2025-01-01T00:00:03.000Z' })), 0, 'no approval, not break-glass: nothing to observe');
    });
  });

  describe('a worker on its own (npm run worker)', () => {
    it('serves its histograms on METRICS_PORT', async function () {
      this.timeout(180_000);
      const separate = await Harness.start(BASE_TEST_CONFIG, { withWorker: false });
      const port = await freePort();
      const worker = await startWorkerProcess(separate, undefined, { METRICS_PORT: String(port) });
      try {
        const url = `http://127.0.0.1:${port}/metrics`;
        const { email } = await newRequester(separate.iam, 'worker-metrics');
        const created = await separate.request(email, { provider: 'aws', kind: 'group', target: 'Developers', reason: 'worker metrics', duration: '1m' });
        assert.equal((await separate.act(BOB, created.id, 'approve')).status, 200);
        await separate.waitFor(email, created.id, ['active']);
        const text = await scrape(url);
        assert.equal(sample(text, 'p0_approval_to_active_seconds_count'), 1, 'the worker process observed its one request');
        assert.match(text, /^# TYPE p0_provider_errors_total counter$/m);
        assert.equal((await separate.act(email, created.id, 'relinquish')).status, 200);
      } finally {
        await worker.kill('SIGTERM');
        await separate.stop();
      }
    });

    it('serves nothing but /metrics and /healthz on that port', async () => {
      const server = await startMetricsServer({ port: 0, host: '127.0.0.1' });
      try {
        const base = server.url.replace(/\/metrics$/, '');
        assert.equal((await fetch(`${base}/healthz`)).status, 200);
        assert.equal((await fetch(`${base}/nope`)).status, 404);
        assert.equal((await fetch(server.url, { method: 'POST' })).status, 405);
      } finally {
        await server.close();
      }
    });
  });

  describe('GET /readyz', () => {
    /** GET /readyz, with `token` as the bearer token when given. */
    async function readyz(baseUrl: string, token?: string): Promise<{ status: number; body: unknown }> {
      const response = await fetch(`${baseUrl}/readyz`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
      const body: unknown = await response.json();
      expectMatchesOpenApi('GET', '/readyz', response.status, body);
      return { status: response.status, body };
    }

    it('answers ready when Temporal and the database answer: the checks only to a valid token', async () => {
      assert.deepEqual(await readyz(h.apiUrl, await h.token('carol@example.com')), { status: 200, body: { status: 'ready', checks: { temporal: 'ok', database: 'ok' } } });
      // A probe (or anyone) without a token learns ready or not, nothing about what is behind it.
      assert.deepEqual(await readyz(h.apiUrl), { status: 200, body: { status: 'ready' } });
      assert.deepEqual(await readyz(h.apiUrl, 'p0_not-a-real-token'), { status: 200, body: { status: 'ready' } });
    });

    it('answers 503 naming Temporal when it cannot be reached, then the database once it is closed', async () => {
      const proxy = await tcpProxy(h.temporalAddress);
      const lines: Record<string, unknown>[] = [];
      const extra = await startExtraApi({ temporalAddress: proxy.address, logLines: lines });
      try {
        assert.equal((await fetch(`${extra.api.url}/readyz`)).status, 200);
        const token = await extra.runtime.tokens.issue('carol@example.com', { admin: false });

        await proxy.close();
        // Without a token: not ready, and nothing about why (addresses, error texts).
        assert.deepEqual(await readyz(extra.api.url), { status: 503, body: { status: 'not_ready', error: { code: 'unavailable', message: NOT_READY } } });
        const temporalDown = await fetch(`${extra.api.url}/readyz`, { headers: { authorization: `Bearer ${token}` } });
        const temporalBody = (await temporalDown.json()) as { status: string; checks: Record<string, string>; error: { code: string; message: string } };
        expectMatchesOpenApi('GET', '/readyz', temporalDown.status, temporalBody);
        assert.equal(temporalDown.status, 503);
        assert.equal(temporalBody.status, 'not_ready');
        assert.equal(temporalBody.checks.database, 'ok');
        assert.match(temporalBody.checks.temporal!, /^failed: /);
        assert.equal(temporalBody.error.code, 'unavailable');
        assert.match(temporalBody.error.message, /^Not ready: temporal failed: /);

        await extra.runtime.database.destroy();
        // With the database down the token cannot be checked: the plain answer; the log has the details.
        assert.deepEqual(await readyz(extra.api.url, token), { status: 503, body: { status: 'not_ready', error: { code: 'unavailable', message: NOT_READY } } });
        const logged = await eventuallyFind(lines, (line) => line.msg === 'not ready' && /^failed: /.test(String((line.checks as Record<string, string>).database)));
        assert.match((logged.checks as Record<string, string>).temporal!, /^failed: /);
        // Liveness is not readiness: the process still answers.
        assert.equal((await fetch(`${extra.api.url}/healthz`)).status, 200);
      } finally {
        await extra.close();
        await proxy.close();
      }
    });
  });

  describe('rate limit', () => {
    it('answers 429 rate_limited past the limit, per token (or per IP without one), with Retry-After and RateLimit headers', async () => {
      const extra = await startExtraApi({ rateLimitPerMinute: 3 });
      try {
        const alice = await extra.runtime.tokens.issue('alice@example.com', { admin: false });
        const carol = await extra.runtime.tokens.issue('carol@example.com', { admin: false });
        const get = (route: string, token?: string) => fetch(`${extra.api.url}${route}`, { headers: token ? { authorization: `Bearer ${token}` } : {} });

        for (let i = 0; i < 3; i++) assert.equal((await get('/v1/me', alice)).status, 200);
        const limited = await get('/v1/me', alice);
        const body = (await limited.json()) as ErrorBody;
        expectMatchesOpenApi('GET', '/v1/me', limited.status, body);
        assert.equal(limited.status, 429);
        assert.equal(body.error.code, 'rate_limited');
        assert.match(body.error.message, /at most 3 a minute per token/);
        assert.match(limited.headers.get('retry-after') ?? '', /^\d+$/);
        assert.match(limited.headers.get('ratelimit-policy') ?? '', /q=3/);
        assert.match(limited.headers.get('ratelimit') ?? '', /r=0/);

        assert.equal((await get('/v1/me', carol)).status, 200, 'another token has its own allowance');
        for (let i = 0; i < 3; i++) assertApiError(await answerOf(get('/v1/me')), 'unauthenticated');
        // Without a token, the client IP is limited.
        assertApiError(await answerOf(get('/v1/me')), 'rate_limited');
        for (const route of ['/healthz', '/readyz', '/metrics']) assert.equal((await get(route, alice)).status, 200, `${route} is not rate limited`);
      } finally {
        await extra.close();
      }
    });
  });

  describe('failed calls', () => {
    it('are limited per client IP: a new random token on every call buys no new allowance', async () => {
      const extra = await startExtraApi({ rateLimitPerMinute: 3 });
      try {
        const alice = await extra.runtime.tokens.issue('alice@example.com', { admin: false });
        const get = (token?: string) => fetch(`${extra.api.url}/v1/me`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
        const randomToken = () => `p0_${randomBytes(24).toString('base64url')}`;

        // Calls that authenticate do not count against the address's allowance for failures.
        for (let i = 0; i < 3; i++) assert.equal((await get(alice)).status, 200);
        for (let i = 0; i < 3; i++) assertApiError(await answerOf(get(randomToken())), 'unauthenticated'); // each guess is answered
        const limited = await get(randomToken());
        const body = (await limited.json()) as ErrorBody;
        expectMatchesOpenApi('GET', '/v1/me', limited.status, body);
        assert.equal(limited.status, 429, 'the fourth failed call from this address is refused, whatever token it sends');
        assert.equal(body.error.code, 'rate_limited');
        assert.match(body.error.message, /at most 3 failed or unauthenticated calls a minute from your address/);
        assert.match(limited.headers.get('retry-after') ?? '', /^\d+$/);
        assertApiError(await answerOf(get()), 'rate_limited'); // no token at all shares the same allowance
        // Guessing is over for this address until the window passes: a valid token is refused too,
        // or a 200 among the 429s would still tell a right guess from a wrong one.
        assertApiError(await answerOf(get(alice)), 'rate_limited');
      } finally {
        await extra.close();
      }
    });
  });

  describe('oversized requests', () => {
    it('refuses a body over 64 KB with 413 payload_too_large, an over-long URL with 414, oversized headers with 431', async () => {
      const token = await h.token(BOB);
      const huge = JSON.stringify({ provider: 'aws', kind: 'group', target: 'Developers', reason: 'x'.repeat(70_000) });
      const cases: { method: string; route: string; headers?: Record<string, string>; body?: string; status: number; code: string }[] = [
        { method: 'POST', route: '/v1/requests', body: huge, status: 413, code: 'payload_too_large' },
        { method: 'POST', route: `/v1/requests/${UNKNOWN_ID}/approve`, body: huge, status: 413, code: 'payload_too_large' },
        { method: 'GET', route: `/v1/requests/req_${'A'.repeat(5_000)}`, status: 414, code: 'uri_too_long' },
        { method: 'GET', route: `/v1/requests?status=${'x'.repeat(5_000)}`, status: 414, code: 'uri_too_long' },
        { method: 'GET', route: `/v1/requests/req_${'A'.repeat(20_000)}`, status: 431, code: 'headers_too_large' },
        { method: 'GET', route: '/v1/me', headers: { 'x-padding': 'y'.repeat(20_000) }, status: 431, code: 'headers_too_large' },
      ];
      for (const { method, route, headers, body, status, code } of cases) {
        const response = await fetch(`${h.apiUrl}${route}`, {
          method,
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...headers },
          body,
        });
        const answer = (await response.json()) as ErrorBody;
        const what = `${method} ${route.slice(0, 40)}...`;
        assert.equal(response.status, status, `${what}: ${JSON.stringify(answer)}`);
        assert.equal(answer.error.code, code, what);
        expectMatchesOpenApi(method, route, response.status, answer);
      }
      // Without a valid token the body is never read: 401, not 413.
      assertApiError(await answerOf(fetch(`${h.apiUrl}/v1/requests`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: huge })), 'unauthenticated');
    });
  });

  describe('logs', () => {
    it('writes JSON lines carrying reqId (echoed as X-Request-Id), the user and the access request id', async () => {
      const lines: Record<string, unknown>[] = [];
      const extra = await startExtraApi({ taskQueue: h.taskQueue, logLines: lines });
      try {
        const token = await extra.runtime.tokens.issue('carol@example.com', { admin: false });
        const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };

        const missing = await fetch(`${extra.api.url}/v1/requests/${UNKNOWN_ID}`, { headers: { ...headers, 'x-request-id': 'lb-trace-42' } });
        assertApiError(await answerOf(missing), 'not_found');
        assert.equal(missing.headers.get('x-request-id'), 'lb-trace-42', 'a proxy-given id is kept');
        const line = await eventuallyFind(lines, (entry) => entry.reqId === 'lb-trace-42' && entry.msg === 'request completed');
        assert.deepEqual(
          { requestId: line.requestId, user: line.user, method: line.method, path: line.path, status: line.status },
          { requestId: UNKNOWN_ID, user: 'carol@example.com', method: 'GET', path: `/v1/requests/${UNKNOWN_ID}`, status: 404 },
        );
        assert.equal(typeof line.durationMs, 'number');

        const created = await fetch(`${extra.api.url}/v1/requests`, { method: 'POST', headers, body: JSON.stringify({ provider: 'aws', kind: 'role', target: 'AdminRole', reason: 'log line', duration: '5m' }) });
        assert.equal(created.status, 201);
        const { request } = (await created.json()) as { request: RequestView };
        const reqId = created.headers.get('x-request-id');
        assert.match(reqId ?? '', /^[0-9a-f-]{36}$/, 'a new id when none was given');
        const createdLine = await eventuallyFind(lines, (entry) => entry.reqId === reqId && entry.msg === 'request completed');
        assert.equal(createdLine.requestId, request.id, 'the creation line names the new request');
        assert.equal((await fetch(`${extra.api.url}/v1/requests/${request.id}/cancel`, { method: 'POST', headers, body: '{}' })).status, 200);
      } finally {
        await extra.close();
      }
    });

    it('gives every workflow and activity log line the request id as requestId, and leaves task tokens out', async () => {
      const lines: Record<string, unknown>[] = [];
      const logger = temporalLogger(captureLogger(lines, 'info'));

      const env = new MockActivityEnvironment(
        { workflowType: 'accessRequest', workflowExecution: { workflowId: UNKNOWN_ID, runId: 'run-1' }, activityType: 'verifyRevocation' },
        { logger },
      );
      await env.run(() => {
        activityLog.info('Access is held by another request; keeping it granted', { heldBy: ['req_other'] });
        return Promise.resolve();
      });
      const activityLine = lines.find((entry) => entry.msg === 'Access is held by another request; keeping it granted');
      assert.ok(activityLine, `no activity line among ${JSON.stringify(lines)}`);
      assert.equal(activityLine.requestId, UNKNOWN_ID);
      assert.equal(activityLine.activityType, 'verifyRevocation');
      assert.equal(activityLine.component, 'temporal');
      assert.deepEqual(activityLine.heldBy, ['req_other']);
      assert.equal('taskToken' in activityLine, false);

      // A workflow's log.warn arrives with the SDK's workflow attributes (built here by the SDK's own function).
      const workflowMeta = { sdkComponent: 'workflow', ...workflowLogAttributes({ namespace: 'default', taskQueue: 'q', workflowId: UNKNOWN_ID, runId: 'run-1', workflowType: 'accessRequest' } as never) };
      logger.warn('Grant still present after revoke; removing it again', workflowMeta);
      assert.equal(lines.at(-1)!.requestId, UNKNOWN_ID);
      assert.equal(lines.at(-1)!.level, 40);

      // Other workflows (the reconciler's) are not requests; the SDK's own INFO chatter goes to debug.
      logger.info('reconciling', { sdkComponent: 'workflow', workflowId: 'p0-reconcile', workflowType: 'reconcile' });
      assert.equal(lines.at(-1)!.msg, 'reconciling');
      assert.equal('requestId' in lines.at(-1)!, false);
      const count = lines.length;
      logger.info('Worker state changed', { sdkComponent: 'worker', state: 'RUNNING' });
      assert.equal(lines.length, count, 'SDK INFO lines are debug');
    });
  });
});

// ---------------------------------------------------------------------------------------------

/** A value of one series in Prometheus text, matched by name and (a subset of) its labels. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const seen: Record<string, string> = {};
    for (const label of (match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) seen[label[1]!] = label[2]!;
    if (Object.entries(labels).every(([key, value]) => seen[key] === value)) return Number(match[3]);
  }
  return undefined;
}

function delta(after: string, before: string, name: string): number {
  return (sample(after, name) ?? 0) - (sample(before, name) ?? 0);
}

async function histogramSum(): Promise<number> {
  const { values } = await metrics.approvalToActive.get();
  return values.find((value) => value.metricName === 'p0_approval_to_active_seconds_sum')?.value ?? 0;
}

/** The first read-back of a chosen request throws an AWS-style Throttling error; everything else is the real provider. */
function withFirstReadThrottled(provider: Provider, throttle: (spec: Parameters<Provider['isGranted']>[0]) => boolean): Provider {
  return new Proxy(provider, {
    get(target, property) {
      if (property === 'isGranted') {
        return (spec: Parameters<Provider['isGranted']>[0]) =>
          throttle(spec) ? Promise.reject(Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException', $metadata: { httpStatusCode: 400 } })) : target.isGranted(spec);
      }
      const value = Reflect.get(target, property, target) as unknown;
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}

/** A pino logger whose JSON lines land in `lines`. */
function captureLogger(lines: Record<string, unknown>[], level: string): pino.Logger {
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n')) if (line) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return pino({ level }, stream);
}

async function eventuallyFind(lines: Record<string, unknown>[], predicate: (line: Record<string, unknown>) => boolean): Promise<Record<string, unknown>> {
  const deadline = Date.now() + 5_000;
  for (;;) {
    const found = lines.find(predicate);
    if (found) return found;
    if (Date.now() > deadline) assert.fail(`no such log line among ${JSON.stringify(lines, null, 1)}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/**
 * Another API over a runtime of its own (own config copy and SQLite file), on the shared Temporal,
 * for tests that break its database or its Temporal connection, or need their own limits or logs.
 */
async function startExtraApi(options: { temporalAddress?: string; rateLimitPerMinute?: number; taskQueue?: string; logLines?: Record<string, unknown>[] }): Promise<{ api: RunningApi; runtime: Runtime; close(): Promise<void> }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'p0-operability-'));
  const configPath = path.join(dir, 'p0.yaml');
  fs.writeFileSync(configPath, BASE_TEST_CONFIG);
  const runtime = await openRuntime({ configPath, databaseUrl: `sqlite:${path.join(dir, 'p0.sqlite')}` });
  const target = temporalTarget();
  const address = options.temporalAddress ?? target.address;
  const logger = options.logLines ? captureLogger(options.logLines, 'debug') : pino({ level: 'silent' });
  const api = await startApi({
    runtime,
    temporal: { ...target, address, connectionOptions: { ...target.connectionOptions, address } },
    port: 0,
    logger,
    taskQueue: options.taskQueue ?? `operability-${path.basename(dir)}`,
    slack: null,
    rateLimitPerMinute: options.rateLimitPerMinute,
  });
  return {
    api,
    runtime,
    close: async () => {
      await api.close();
      runtime.policy.close();
      await runtime.database.destroy();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A TCP forwarder to `target` (host:port); close() cuts every connection, as a network outage would. */
async function tcpProxy(target: string): Promise<{ address: string; close(): Promise<void> }> {
  const [host, port] = [target.slice(0, target.lastIndexOf(':')), Number(target.slice(target.lastIndexOf(':') + 1))];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(port, host);
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
      socket.on('error', () => undefined);
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  let closed: Promise<void> | undefined;
  return {
    address: `127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    close: () => {
      closed ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      });
      return closed;
    },
  };
}

/** A fetch answer's status and JSON body, for assertApiError. */
async function answerOf(response: Response | Promise<Response>): Promise<{ status: number; body: unknown }> {
  const answered = await response;
  return { status: answered.status, body: await answered.json() };
}
