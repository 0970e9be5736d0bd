/**
 * The HTTP API's contract: status codes, error bodies, listing visibility and the request view,
 * with every answer held to the OpenAPI document (test/support/openapi.ts).
 */
import assert from 'node:assert/strict';
import { PutUserPolicyCommand } from '@aws-sdk/client-iam';
import { createApiApp } from '../api/app';
import { openApiDocument } from '../api/openapi';
import type { ErrorCode } from '../shared/errors';
import type { RequestView } from '../shared/request';
import { assertApiError } from './support/apiErrors';
import type { ApiAnswer } from './support/harness';
import { Harness } from './support/harness';
import { ensureCatalogObjects, newRequester } from './support/iam';
import { checkedCall, compileAllResponseSchemas, documentedOperations, expectMatchesOpenApi, findOperation } from './support/openapi';

const BOB = 'bob@example.com'; // approver (sre)
const CAROL = 'carol@example.com'; // nobody special
const SEC = 'sec@example.com'; // admin by the config's `admins`

/** A well-formed request id that no request has. */
const UNKNOWN_ID = 'req_01ARZ3NDEKTSV4RRFFQ69G5FAV';

interface ErrorBody {
  error: { code: string; message: string };
}
interface RequestBody {
  request: RequestView;
}
interface RequestsBody {
  requests: RequestView[];
}

describe('HTTP API contract', function () {
  this.timeout(120_000);
  let h: Harness;

  before(async () => {
    h = await Harness.start();
    await ensureCatalogObjects(h.iam);
  });
  after(() => h?.stop());

  /** Every call in this suite goes through the OpenAPI check. */
  function call<T = Record<string, unknown>>(email: string | undefined, method: string, route: string, body?: unknown): Promise<ApiAnswer<T>> {
    return checkedCall<T>(h, email, method, route, body);
  }

  /** A call with headers of our own (odd Authorization or Content-Encoding), also held to the document. */
  async function callWithHeaders<T>(method: string, route: string, headers: Record<string, string>, requestBody?: string): Promise<ApiAnswer<T>> {
    const response = await fetch(`${h.apiUrl}${route}`, { method, headers, body: requestBody });
    assert.match(response.headers.get('content-type') ?? '', /^application\/json/);
    const body = (await response.json()) as T;
    expectMatchesOpenApi(method, route, response.status, body);
    return { status: response.status, body };
  }

  async function create(email: string, body: Record<string, unknown>): Promise<RequestView> {
    const answer = await call<RequestBody>(email, 'POST', '/v1/requests', body);
    assert.equal(answer.status, 201, JSON.stringify(answer.body));
    return answer.body.request;
  }

  function act<T = RequestBody>(email: string, id: string, action: string, comment?: string): Promise<ApiAnswer<T>> {
    return call<T>(email, 'POST', `/v1/requests/${id}/${action}`, comment === undefined ? {} : { comment });
  }

  async function list(email: string, query = ''): Promise<RequestView[]> {
    const answer = await call<RequestsBody>(email, 'GET', `/v1/requests${query}`);
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    return answer.body.requests;
  }

  /** Polls (the store's projection lags the workflow by a moment) until `check` passes. */
  async function eventually<T>(read: () => Promise<T>, check: (value: T) => boolean, what: string, timeoutMs = 15_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    let last: T;
    do {
      last = await read();
      if (check(last)) return last;
      await new Promise((resolve) => setTimeout(resolve, 100));
    } while (Date.now() < deadline);
    assert.fail(`${what} (last seen: ${JSON.stringify(last)})`);
  }

  async function waitForStatus(email: string, id: string, status: RequestView['status']): Promise<RequestView> {
    const answer = await eventually(
      () => call<RequestBody>(email, 'GET', `/v1/requests/${id}`),
      (seen) => seen.status === 200 && seen.body.request.status === status,
      `request ${id} did not become ${status}`,
      30_000,
    );
    return answer.body.request;
  }

  /** A 4xx with its code, whose message is for people: no stack trace, no "SomethingError:" prefix. */
  function assertHumanError(answer: ApiAnswer<ErrorBody>, code: ErrorCode | 'any', messagePattern: RegExp): void {
    assertApiError(answer, code, messagePattern);
    const { message } = answer.body.error;
    assert.doesNotMatch(message, /^\s*at\s|\n\s*at\s|\(\S+:\d+:\d+\)/m, 'no stack trace lines');
    assert.doesNotMatch(message, /^\w*Error:/, 'no "Error:" prefix');
  }

  describe('the OpenAPI check', () => {
    it('accepts a real answer and rejects a body or status the document does not declare', async () => {
      const { email } = await newRequester(h.iam, 'api-check');
      const created = await create(email, { provider: 'aws', kind: 'group', target: 'Developers', reason: 'checker', duration: '1m' });

      const { id: _id, ...withoutId } = created;
      assert.throws(() => expectMatchesOpenApi('POST', '/v1/requests', 201, { request: withoutId }), /must have required property 'id'/);
      assert.throws(() => expectMatchesOpenApi('POST', '/v1/requests', 201, { request: { ...created, secret: 'x' } }), /must NOT have additional properties/);
      assert.throws(() => expectMatchesOpenApi('GET', `/v1/requests/${created.id}`, 200, { request: { ...created, createdAt: 'yesterday' } }), /must match format "date-time"/);
      assert.throws(() => expectMatchesOpenApi('GET', '/v1/resources', 418, {}), /does not declare status 418/);
      assert.throws(() => expectMatchesOpenApi('GET', '/v1/requests', 400, { error: { code: 'conflict', message: 'x' } }), /belongs to another HTTP status/);
      assert.throws(() => expectMatchesOpenApi('DELETE', '/v1/requests', 200, {}), /declares no DELETE/);

      const cancelled = await act(email, created.id, 'cancel');
      assert.equal(cancelled.status, 200, JSON.stringify(cancelled.body));
    });
  });

  describe('unauthenticated routes', () => {
    it('GET /healthz answers 200 without a token', async () => {
      const answer = await call(undefined, 'GET', '/healthz');
      assert.equal(answer.status, 200);
      assert.deepEqual(answer.body, { status: 'ok' });
    });

    it('GET /v1/openapi.json serves the OpenAPI 3.1 document, covering every route the app serves', async () => {
      const answer = await call<typeof openApiDocument>(undefined, 'GET', '/v1/openapi.json');
      assert.equal(answer.status, 200);
      assert.deepEqual(answer.body, JSON.parse(JSON.stringify(openApiDocument)));
      assert.equal(answer.body.openapi, '3.1.0');
      for (const path of [
        '/v1/requests',
        '/v1/requests/{id}',
        '/v1/requests/{id}/approve',
        '/v1/requests/{id}/deny',
        '/v1/requests/{id}/relinquish',
        '/v1/requests/{id}/cancel',
        '/v1/requests/{id}/revoke',
        '/v1/resources',
        '/v1/me',
        '/v1/reconcile',
        '/v1/reconcile/events',
      ]) {
        assert.ok(path in answer.body.paths, `the document lacks ${path}`);
      }
      assert.ok(compileAllResponseSchemas() > 0);

      // Both ways against the routes Express really has: none undocumented, none documented but missing.
      const served = servedRoutes();
      assert.ok(served.length >= 7, `found only ${served.length} routes in the app`);
      for (const { method, path } of served) {
        const pattern = new RegExp(`^${path.replace(/:[^/]+/g, '[^/]+')}$`);
        const documented = documentedOperations().some((operation) => operation.method === method && pattern.test(sampleRoute(operation.template)));
        assert.ok(documented, `${method.toUpperCase()} ${path} is served but not in the OpenAPI document`);
      }
      for (const { method, template } of documentedOperations()) {
        const route = sampleRoute(template);
        const isServed = served.some((candidate) => candidate.method === method && new RegExp(`^${candidate.path.replace(/:[^/]+/g, '[^/]+')}$`).test(route));
        assert.ok(isServed, `${method.toUpperCase()} ${template} is documented but the app does not serve it`);
        assert.equal(findOperation(method, route)?.template, template);
      }
    });
  });

  describe('authentication', () => {
    it('GET /v1/me says who the token belongs to', async () => {
      const answer = await call<{ user: { email: string; admin: boolean } }>(CAROL, 'GET', '/v1/me');
      assert.equal(answer.status, 200);
      assert.deepEqual(answer.body.user, { email: CAROL, admin: false });
      const admin = await call<{ user: { email: string; admin: boolean } }>('sec@example.com', 'GET', '/v1/me');
      assert.deepEqual(admin.body.user, { email: 'sec@example.com', admin: true }, 'admin by the config');
    });

    it('answers 401 unauthenticated without a token', async () => {
      const answer = await call<ErrorBody>(undefined, 'GET', '/v1/requests');
      assert.equal(answer.status, 401);
      assert.deepEqual(Object.keys(answer.body.error).sort(), ['code', 'message']);
      assert.equal(answer.body.error.code, 'unauthenticated');
      assert.ok(answer.body.error.message.length > 0);
    });

    it('answers 401 to a garbage token, saying how to get a new one', async () => {
      for (const token of ['garbage', 'p0_not-a-real-token']) {
        const answer = await callWithHeaders<ErrorBody>('GET', '/v1/resources', { authorization: `Bearer ${token}` });
        assertHumanError(answer, 'unauthenticated', /get a new one.*npm run token/);
        assert.equal(answer.body.error.code, 'unauthenticated');
      }
    });

    it('answers 401 to Basic authentication', async () => {
      const answer = await callWithHeaders<ErrorBody>('GET', '/v1/resources', { authorization: `Basic ${Buffer.from('bob@example.com:hunter2').toString('base64')}` });
      assertHumanError(answer, 'unauthenticated', /Bearer/);
      assert.equal(answer.body.error.code, 'unauthenticated');
    });
  });

  describe('GET /v1/resources', () => {
    it('lists the catalog from the config, durations as strings', async () => {
      const answer = await call<{ resources: Record<string, unknown>[] }>(CAROL, 'GET', '/v1/resources');
      assert.equal(answer.status, 200);
      const rules = {
        minDuration: '1s',
        maxDuration: '1h',
        defaultDuration: '1h',
        durationPresets: [],
        approvalsRequired: 1,
        requireReason: false,
        readOnly: false,
        allowExtension: true,
        maxLifetime: '1h',
        provider: 'aws',
        resource: 'default',
      };
      // Core-style flat entries sit in the resource "default", one level per grant.
      assert.deepEqual(answer.body.resources, [
        { id: 'aws/default/role-AdminRole', level: 'role-AdminRole', kind: 'role', target: 'AdminRole', ...rules },
        { id: 'aws/default/role-NoSuchRole', level: 'role-NoSuchRole', kind: 'role', target: 'NoSuchRole', ...rules },
        { id: 'aws/default/policy-ReadOnlyAccess', level: 'policy-ReadOnlyAccess', kind: 'policy', target: 'ReadOnlyAccess', ...rules },
        { id: 'aws/default/group-Developers', level: 'group-Developers', kind: 'group', target: 'Developers', ...rules },
      ]);
    });
  });

  describe('POST /v1/requests', () => {
    it('refuses bad input with a 400 naming the problem, an unknown resource with a 404, and keeps nothing', async () => {
      const { email } = await newRequester(h.iam, 'api-bad-input');
      const good = { provider: 'aws', kind: 'group', target: 'Developers', reason: 'x', duration: '1m' };
      const { target: _target, ...withoutTarget } = good;
      const badInputs: { body: unknown; message: RegExp }[] = [
        { body: withoutTarget, message: /name what you need: kind and target/ },
        { body: { ...good, colour: 'red' }, message: /unknown field.*colour/ },
        { body: { ...good, duration: '2 hours' }, message: /duration: "2 hours" is not a duration.*e\.g\. 90s/ },
        { body: { ...good, duration: '2h' }, message: /duration: 2h is outside what aws\/default\/group-Developers allows \(1s to 1h\)/ },
        { body: '{"provider": "aws", "kind": ', message: /not valid JSON/ },
        { body: { ...good, reason: 42 }, message: /reason: .*string/ },
      ];
      for (const { body, message } of badInputs) {
        const answer = await call<ErrorBody>(email, 'POST', '/v1/requests', body);
        assertHumanError(answer, 'bad_request', message);
        assert.equal(answer.body.error.code, 'bad_request');
      }

      const unknown = await call<ErrorBody>(email, 'POST', '/v1/requests', { ...good, target: 'Finance' });
      assertHumanError(unknown, 'not_found', /This resource doesn't exist/);
      assert.equal(unknown.body.error.code, 'not_found');

      // A refused request must not have started a workflow: once a good request shows up in the
      // listing (so the projection has caught up), it is the only one there.
      assert.deepEqual(await list(email, '?mine=true'), []);
      const sentinel = await create(email, good);
      const mine = await eventually(() => list(email, '?mine=true'), (views) => views.length > 0, 'the good request never showed up');
      assert.deepEqual(mine.map((view) => view.id), [sentinel.id]);
      assert.equal((await act(email, sentinel.id, 'cancel')).status, 200);
    });
  });

  describe('POST /v1/requests durations', () => {
    it('says an absurdly long duration is out of range, not that it lacks whole seconds', async () => {
      const { email } = await newRequester(h.iam, 'api-huge-duration');
      const answer = await call<ErrorBody>(email, 'POST', '/v1/requests', { provider: 'aws', kind: 'group', target: 'Developers', duration: '99999999999999999999d' });
      assertHumanError(answer, 'bad_request', /duration: .*(outside what this resource allows \(1s to 1h\)|too large)/);
    });
  });

  describe('malformed HTTP', () => {
    it('answers a bad URL encoding or body encoding with a 4xx the document declares, never a 500', async () => {
      const bearer = { authorization: `Bearer ${await h.token(BOB)}` };
      const json = { ...bearer, 'content-type': 'application/json' };
      const cases: [method: string, route: string, headers: Record<string, string>, body?: string][] = [
        ['GET', '/v1/requests/%E0%A4%A', bearer],
        ['POST', '/v1/requests/%E0%A4%A/approve', json, '{}'],
        ['POST', '/v1/requests', { ...json, 'content-encoding': 'gzip' }, 'this is not gzip'],
        ['POST', '/v1/requests', { ...json, 'content-encoding': 'compress-9000' }, '{}'],
      ];
      // Every case is tried, so one run reports them all.
      const failures: string[] = [];
      for (const [method, route, headers, body] of cases) {
        try {
          const answer = await callWithHeaders<ErrorBody>(method, route, headers, body);
          assert.ok(answer.status >= 400 && answer.status < 500, JSON.stringify(answer));
          assertHumanError(answer, 'any', /./);
        } catch (error) {
          failures.push(`${method} ${route} ${JSON.stringify(headers['content-encoding'] ?? '')}: ${(error as Error).message.split('\n')[0]}`);
        }
      }
      assert.deepEqual(failures, []);
    });
  });

  describe('unknown things and bad filters', () => {
    it('answers 404 for an unknown or malformed id and for an unknown action', async () => {
      const unknown = await call<ErrorBody>(BOB, 'GET', `/v1/requests/${UNKNOWN_ID}`);
      assertHumanError(unknown, 'not_found', new RegExp(`No request ${UNKNOWN_ID}`));

      const malformed = await call<ErrorBody>(BOB, 'GET', '/v1/requests/not-an-id');
      assertHumanError(malformed, 'not_found', /No request not-an-id/);

      const action = await call<ErrorBody>(BOB, 'POST', `/v1/requests/${UNKNOWN_ID}/frobnicate`, {});
      assertHumanError(action, 'not_found', /No such action "frobnicate": use one of approve, deny, relinquish, cancel, revoke/);

      const approveUnknown = await call<ErrorBody>(BOB, 'POST', `/v1/requests/${UNKNOWN_ID}/approve`, {});
      assertHumanError(approveUnknown, 'not_found', /No request/);
    });

    it('answers 400 to a bad listing filter', async () => {
      const status = await call<ErrorBody>(BOB, 'GET', '/v1/requests?status=bogus');
      assertHumanError(status, 'bad_request', /status: must be one of pending, approved, .*failed/);

      const mine = await call<ErrorBody>(BOB, 'GET', '/v1/requests?mine=maybe');
      assertHumanError(mine, 'bad_request', /mine: must be true or false/);

      const pendingApproval = await call<ErrorBody>(BOB, 'GET', '/v1/requests?pendingApproval=perhaps');
      assertHumanError(pendingApproval, 'bad_request', /pendingApproval: must be true or false/);
    });
  });

  describe('listing', () => {
    it('shows a request to its requester, its approvers and admins, and to nobody else', async () => {
      const { email } = await newRequester(h.iam, 'api-list');
      const created = await create(email, { provider: 'aws', kind: 'role', target: 'AdminRole', reason: 'listing', duration: '5m' });
      const has = (views: RequestView[]) => views.some((view) => view.id === created.id);

      const mine = await eventually(() => list(email, '?mine=true'), has, 'the requester does not see the request with ?mine=true');
      assert.ok(mine.every((view) => view.requester === email));

      const approvable = await eventually(() => list(BOB, '?pendingApproval=true'), has, 'the approver does not see it with ?pendingApproval=true');
      assert.ok(approvable.every((view) => view.status === 'pending' && view.approvers.includes(BOB)));
      assert.ok(has(await list(BOB)), 'an approver sees it in the plain listing too');

      assert.ok(!has(await list(CAROL)), 'an unrelated user sees it');
      assert.ok(!has(await list(CAROL, '?pendingApproval=true')), 'an unrelated user sees it as approvable');
      assertApiError(await call(CAROL, 'GET', `/v1/requests/${created.id}`), 'not_found');

      assert.ok(has(await list(SEC)), 'the admin does not see it');
      assert.ok(has(await list(SEC, '?status=pending')), 'the admin does not see it among pending requests');
      assert.ok(!has(await list(SEC, '?status=active')), 'a pending request is listed as active');
      assert.equal((await call(SEC, 'GET', `/v1/requests/${created.id}`)).status, 200);

      assert.equal((await act(email, created.id, 'cancel')).status, 200);
    });

    it('lists with ?pendingApproval=true only requests the caller may approve (not their own)', async () => {
      // Bob is an approver asking for access himself: Dana may approve it, Bob may not (403).
      const created = await create(BOB, { provider: 'aws', kind: 'group', target: 'Developers', reason: 'own request', duration: '1m' });
      const has = (views: RequestView[]) => views.some((view) => view.id === created.id);
      await eventually(() => list('dana@example.com', '?pendingApproval=true'), has, 'the other approver does not see it with ?pendingApproval=true');
      assertApiError(await act<ErrorBody>(BOB, created.id, 'approve'), 'forbidden', /cannot approve your own request/);
      try {
        assert.ok(!has(await list(BOB, '?pendingApproval=true')), 'Bob is offered his own request to approve, which he may not');
      } finally {
        assert.equal((await act(BOB, created.id, 'cancel')).status, 200);
      }
    });

    it('combines ?pendingApproval=true with ?status= instead of ignoring the status', async () => {
      const { email } = await newRequester(h.iam, 'api-filters');
      const created = await create(email, { provider: 'aws', kind: 'group', target: 'Developers', reason: 'filters', duration: '1m' });
      await eventually(() => list(BOB, '?pendingApproval=true'), (views) => views.some((view) => view.id === created.id), 'not listed as approvable');
      try {
        const answer = await call<RequestsBody>(BOB, 'GET', '/v1/requests?pendingApproval=true&status=active');
        if (answer.status === 200) {
          assert.deepEqual(answer.body.requests.map((view) => `${view.id} ${view.status}`).filter((line) => !line.endsWith(' active')), [], 'asked for active requests, got others');
        } else {
          assertApiError(answer, 'bad_request');
        }
      } finally {
        assert.equal((await act(email, created.id, 'cancel')).status, 200);
      }
    });
  });

  describe('actions in the wrong state', () => {
    it('answers 409 to relinquishing or approving a cancelled request', async () => {
      const { email } = await newRequester(h.iam, 'api-state');
      const created = await create(email, { provider: 'aws', kind: 'group', target: 'Developers', reason: 'x', duration: '1m' });
      const cancelled = await call<RequestBody>(email, 'POST', `/v1/requests/${created.id}/cancel`, { comment: 'not needed' });
      assert.equal(cancelled.status, 200, JSON.stringify(cancelled.body));
      assert.equal(cancelled.body.request.status, 'cancelled');

      const relinquished = await call<ErrorBody>(email, 'POST', `/v1/requests/${created.id}/relinquish`, {});
      assertHumanError(relinquished, 'conflict', /already cancelled/);
      assert.equal(relinquished.body.error.code, 'conflict');

      const approved = await call<ErrorBody>(BOB, 'POST', `/v1/requests/${created.id}/approve`, { comment: 'ok' });
      assertHumanError(approved, 'conflict', /already cancelled/);
      assert.equal(approved.body.error.code, 'conflict');
    });
  });

  describe('the reconciler', () => {
    interface Outcome {
      requestId: string;
      action: string;
    }
    interface ReportBody {
      report: { runId: string; dryRun: boolean; orphans: Outcome[]; missing: Outcome[]; errors: unknown[] };
    }
    interface EventsBody {
      events: { runId: string; finding: string; requestId?: string; action: string }[];
    }

    it('POST /v1/reconcile and GET /v1/reconcile/events answer as documented, to admins only', async () => {
      // An orphan: an inline policy marked with a request id no request has (as test/reconcile.test.ts makes them).
      const { userName } = await newRequester(h.iam, 'api-reconcile');
      const requestId = `req_APIORPHAN${Date.now()}`;
      const document = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Deny', Action: 'iam:Nothing', Resource: '*' }] });
      await h.iam.send(new PutUserPolicyCommand({ UserName: userName, PolicyName: `p0-${requestId}`, PolicyDocument: document }));

      const dryRun = await call<ReportBody>(SEC, 'POST', '/v1/reconcile', { dryRun: true });
      assert.equal(dryRun.status, 200, JSON.stringify(dryRun.body));
      assert.equal(dryRun.body.report.dryRun, true);
      assert.equal(dryRun.body.report.orphans.find((orphan) => orphan.requestId === requestId)?.action, 'would revoke');

      const run = await call<ReportBody>(SEC, 'POST', '/v1/reconcile', {});
      assert.equal(run.status, 200, JSON.stringify(run.body));
      assert.equal(run.body.report.orphans.find((orphan) => orphan.requestId === requestId)?.action, 'revoked');

      const events = await call<EventsBody>(SEC, 'GET', `/v1/reconcile/events?requestId=${requestId}`);
      assert.equal(events.status, 200, JSON.stringify(events.body));
      assert.deepEqual(
        events.body.events.map(({ runId, finding, action }) => ({ runId, finding, action })),
        [{ runId: run.body.report.runId, finding: 'orphan', action: 'revoked' }],
      );
      const limited = await call<EventsBody>(SEC, 'GET', '/v1/reconcile/events?limit=1');
      assert.equal(limited.body.events.length, 1);

      for (const [method, route] of [['POST', '/v1/reconcile'], ['GET', '/v1/reconcile/events']] as const) {
        const refused = await call<ErrorBody>(CAROL, method, route, method === 'POST' ? { dryRun: true } : undefined);
        assertHumanError(refused, 'forbidden', /Only an admin can run the reconciler/);
        assertApiError(await call<ErrorBody>(undefined, method, route, method === 'POST' ? {} : undefined), 'unauthenticated');
      }
      assertHumanError(await call<ErrorBody>(SEC, 'POST', '/v1/reconcile', { dryRun: 'yes' }), 'bad_request', /dryRun/);
      assertHumanError(await call<ErrorBody>(SEC, 'POST', '/v1/reconcile', { orphans: 'delete' }), 'bad_request', /orphans/);
      assertHumanError(await call<ErrorBody>(SEC, 'GET', '/v1/reconcile/events?limit=0'), 'bad_request', /limit: must be a positive whole number/);
    });
  });

  describe('the request view', () => {
    it('has every field from creation, activation and the end', async () => {
      const { email } = await newRequester(h.iam);
      const created = await create(email, { provider: 'aws', kind: 'group', target: 'Developers', reason: 'view fields', duration: '2s' });
      const always = ['id', 'status', 'requester', 'provider', 'kind', 'target', 'reason', 'duration', 'createdAt', 'approvals'] as const;
      for (const field of always) assert.ok(field in created, `a new request lacks ${field}`);
      assert.deepEqual(
        { status: created.status, requester: created.requester, provider: created.provider, kind: created.kind, target: created.target, reason: created.reason, duration: created.duration, approvals: created.approvals },
        { status: 'pending', requester: email, provider: 'aws', kind: 'group', target: 'Developers', reason: 'view fields', duration: '2s', approvals: [] },
      );
      assert.ok(Number.isFinite(Date.parse(created.createdAt)));
      for (const field of ['activeAt', 'expiresAt', 'endedAt'] as const) assert.equal(created[field], undefined, `a new request has ${field}`);

      const approved = await call<RequestBody>(BOB, 'POST', `/v1/requests/${created.id}/approve`, { comment: 'go' });
      assert.equal(approved.status, 200, JSON.stringify(approved.body));
      assert.deepEqual(approved.body.request.approvals.map(({ by, comment }) => ({ by, comment })), [{ by: BOB, comment: 'go' }]);

      const active = await waitForStatus(email, created.id, 'active');
      for (const field of always) assert.ok(field in active, `an active request lacks ${field}`);
      assert.equal(Date.parse(active.expiresAt!) - Date.parse(active.activeAt!), 2000);
      assert.equal(active.endedAt, undefined);

      const expired = await waitForStatus(email, created.id, 'expired');
      for (const field of always) assert.ok(field in expired, `an expired request lacks ${field}`);
      assert.equal(expired.activeAt, active.activeAt);
      assert.equal(expired.expiresAt, active.expiresAt);
      assert.ok(Date.parse(expired.endedAt!) >= Date.parse(expired.expiresAt!));

      const listed = (await list(email, '?mine=true')).find((view) => view.id === created.id);
      assert.deepEqual(listed, expired, 'the listing shows the same view as GET /v1/requests/:id');
    });
  });

  describe('audit trails, filters and the event stream (the web page\'s routes)', () => {
    it('filters requests by person, resource and day, and names a bad filter', async () => {
      const { email } = await newRequester(h.iam, 'api-filter');
      const created = await create(email, { provider: 'aws', kind: 'group', target: 'Developers', reason: 'filters', duration: '5m' });
      const ids = (views: RequestView[]) => views.map((view) => view.id);
      await eventually(() => list(SEC, `?requester=${encodeURIComponent(email)}`), (views) => ids(views).includes(created.id), 'an admin finds it by its requester');
      assert.deepEqual(ids(await list(SEC, `?requester=${encodeURIComponent(email.toUpperCase())}`)), [created.id], 'the same person, however spelled');
      assert.deepEqual(ids(await list(SEC, `?requester=${encodeURIComponent(email)}&resource=aws/default/group-Developers`)), [created.id]);
      assert.deepEqual(ids(await list(SEC, `?requester=${encodeURIComponent(email)}&resource=aws/prod`)), []);
      const today = created.createdAt.slice(0, 10);
      assert.deepEqual(ids(await list(email, `?mine=true&from=${today}&to=${today}`)), [created.id], 'to names a whole day');
      assert.deepEqual(ids(await list(email, '?mine=true&to=2000-01-01')), []);
      assert.deepEqual(ids(await list(CAROL, `?requester=${encodeURIComponent(email)}`)), [], 'a filter never widens what one sees');

      assertHumanError(await call<ErrorBody>(SEC, 'GET', '/v1/requests?from=yesterday'), 'bad_request', /^from: must be a date \(2026-05-01\) or an ISO-8601 time/);
      assertHumanError(await call<ErrorBody>(SEC, 'GET', '/v1/requests?requester=nobody'), 'bad_request', /^requester: "nobody" is not an email address/);
    });

    it('gives a request\'s audit trail to those who may see it, and every trail (JSON or CSV) to admins only', async () => {
      const { email } = await newRequester(h.iam, 'api-trail');
      const created = await create(email, { provider: 'aws', kind: 'group', target: 'Developers', reason: 'trail', duration: '5m' });
      const trail = await eventually(
        () => call<{ events: { type: string; seq: number }[] }>(email, 'GET', `/v1/requests/${created.id}/events`),
        (answer) => answer.status === 200 && answer.body.events.length > 0,
        'the requester reads the trail',
      );
      assert.deepEqual(trail.body.events.map((event) => `${event.seq} ${event.type}`), ['1 requested']);
      assert.equal((await call(BOB, 'GET', `/v1/requests/${created.id}/events`)).status, 200, 'an approver may');
      assertHumanError(await call<ErrorBody>(CAROL, 'GET', `/v1/requests/${created.id}/events`), 'not_found', /No request/);

      assertHumanError(await call<ErrorBody>(email, 'GET', '/v1/audit'), 'forbidden', /Only an admin/);
      const audit = await call<{ requests: RequestView[]; events: { requestId: string }[] }>(SEC, 'GET', `/v1/audit?requester=${encodeURIComponent(email)}`);
      assert.deepEqual(audit.body.requests.map((view) => view.id), [created.id]);
      assert.deepEqual(audit.body.events.map((event) => event.requestId), [created.id]);
      const csv = await fetch(`${h.apiUrl}/v1/audit?format=csv&requester=${encodeURIComponent(email)}`, { headers: { authorization: `Bearer ${await h.token(SEC)}` } });
      assert.match(csv.headers.get('content-type') ?? '', /^text\/csv/);
      assert.match(csv.headers.get('content-disposition') ?? '', /^attachment; filename="p0-audit-\d{4}-\d{2}-\d{2}\.csv"$/);
      const lines = (await csv.text()).trim().split('\r\n');
      assert.equal(lines.length, 2);
      assert.match(lines[1]!, new RegExp(`,${created.id},requested,${email},${email},aws,default,group-Developers,group,Developers,pending,trail,`));
    });

    it('streams the changes to the requests a person may see, and only those; a resume replays what was missed', async () => {
      const { email } = await newRequester(h.iam, 'api-stream');
      const mine = await openStream(await h.token(email));
      const carols = await openStream(await h.token(CAROL));
      try {
        const created = await create(email, { provider: 'aws', kind: 'group', target: 'Developers', reason: 'stream', duration: '5m' });
        const requested = await mine.next((event) => event.request.id === created.id && event.type === 'requested');
        assert.equal(requested.request.requester, email);
        await call(email, 'POST', `/v1/requests/${created.id}/cancel`, { comment: 'not needed' });
        const cancelled = await mine.next((event) => event.request.id === created.id && event.type === 'cancelled');
        assert.equal(cancelled.request.status, 'cancelled');
        assert.equal(cancelled.request.decision?.comment, 'not needed');
        // Carol's stream, open all along, heard nothing of it (the feed reads a second at a time).
        await new Promise((resolve) => setTimeout(resolve, 1_500));
        assert.deepEqual(carols.received().filter((event) => event.request.id === created.id), []);

        const resumed = await openStream(await h.token(email), requested.id);
        try {
          const replayed = await resumed.next((event) => event.request.id === created.id);
          assert.equal(replayed.type, 'cancelled', 'the change after Last-Event-ID, not the one before');
        } finally {
          resumed.close();
        }
      } finally {
        mine.close();
        carols.close();
      }
      const unauthenticated = await fetch(`${h.apiUrl}/v1/events`);
      assert.equal(unauthenticated.status, 401);
    });
  });

  /** GET /v1/events with a token: what arrives, and a wait for the next event that matches. */
  async function openStream(token: string, lastEventId?: string) {
    const controller = new AbortController();
    const response = await fetch(`${h.apiUrl}/v1/events`, { headers: { authorization: `Bearer ${token}`, ...(lastEventId ? { 'last-event-id': lastEventId } : {}) }, signal: controller.signal });
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /^text\/event-stream/);
    type Change = { id: string; type: string; request: RequestView };
    const events: Change[] = [];
    let waiting: (() => void) | undefined;
    void (async () => {
      const decoder = new TextDecoder();
      let buffer = '';
      try {
        for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
          buffer += decoder.decode(chunk, { stream: true });
          let end: number;
          while ((end = buffer.indexOf('\n\n')) >= 0) {
            const block = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            const field = (name: string) => block.split('\n').find((line) => line.startsWith(`${name}: `))?.slice(name.length + 2);
            if (field('event') !== 'request') continue;
            const data = JSON.parse(field('data')!) as { type: string; request: RequestView };
            events.push({ id: field('id')!, ...data });
            waiting?.();
          }
        }
      } catch {
        // Aborted by close().
      }
    })();
    return {
      received: () => [...events],
      async next(matches: (event: Change) => boolean, timeoutMs = 15_000): Promise<Change> {
        const deadline = Date.now() + timeoutMs;
        for (;;) {
          const found = events.find(matches);
          if (found) return found;
          assert.ok(Date.now() < deadline, `no matching event in ${timeoutMs} ms; received ${JSON.stringify(events.map((event) => [event.type, event.request.id]))}`);
          await new Promise<void>((resolve) => {
            waiting = resolve;
            setTimeout(resolve, 200);
          });
        }
      },
      close: () => controller.abort(),
    };
  }
});

/** The routes Express serves, read from its router (`:param` paths), with the method of each. */
function servedRoutes(): { method: string; path: string }[] {
  interface Layer {
    route?: { path: string; methods: Record<string, boolean> };
    handle?: { stack?: Layer[] };
  }
  const app = createApiApp({ service: {} as never, tokens: {} as never, logger: {} as never, reconcile: {} as never, signIn: {} as never, feed: {} as never, web: { unavailable: 'not built' } });
  const routes: { method: string; path: string }[] = [];
  const walk = (stack: Layer[]) => {
    for (const layer of stack) {
      if (layer.route) {
        for (const method of Object.keys(layer.route.methods)) routes.push({ method, path: layer.route.path });
      } else if (layer.handle?.stack) {
        walk(layer.handle.stack);
      }
    }
  };
  walk((app as unknown as { router: { stack: Layer[] } }).router.stack);
  return routes;
}

/** A concrete route for a path template: `/v1/requests/{id}` -> `/v1/requests/x`. */
function sampleRoute(template: string): string {
  return template.replace(/\{[^}]+\}/g, 'x');
}
