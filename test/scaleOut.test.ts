/**
 * The product scaled out as docs/deployment.md describes: two API processes and three worker
 * processes (`npm run api`, and the fault suite's holding worker: the product's worker that can stop
 * a request at a step) on one PostgreSQL database and one Temporal server. A few dozen requests go
 * through both APIs at once; one API process is killed (SIGKILL) while calls are in flight, and two
 * workers are killed at different steps: one holding a request whose grant was just made, the other
 * one holding a request whose removal was just made. Every request must still end the way it must,
 * with nothing left at the provider (moto) and an audit trail without gaps. It also shows how the
 * per-process rate limit adds up across API processes.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { FINAL_STATUSES, type RequestView } from '../shared/request';
import { BASE_TEST_CONFIG, Harness } from './support/harness';
import { ensureCatalogObjects, holdings, newRequester } from './support/iam';
import { startPostgres, type RunningPostgres } from './support/postgres';
import { sharedWorkflowBundleFile } from './support/temporal';
import { startApiProcess, startWorkerProcess, type ApiProcess, type WorkerProcess } from './support/workerProcess';

const BOB = 'bob@example.com';
/** Requests per API process. */
const PER_API = 15;
/** Each API process's own limit (API_RATE_LIMIT_PER_MINUTE), low enough to reach in the test. */
const RATE_LIMIT = 80;

interface Sent {
  requester: string;
  userName: string;
  body: Record<string, unknown>;
  expected: 'expired' | 'relinquished';
  /** Ids the test learnt (from an answer, or by listing the requester's requests). */
  ids: string[];
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('scaled out: two API processes, three workers, PostgreSQL', function () {
  this.timeout(240_000);
  let postgres: RunningPostgres;
  let h: Harness;
  let holdDir: string;
  const workers: WorkerProcess[] = [];
  const apis: ApiProcess[] = [];

  before(async function () {
    this.timeout(20 * 60_000); // may install PostgreSQL on a first run
    postgres = await startPostgres();
    // The harness holds the stores and issues tokens; its own API and worker take no part.
    // Provisioning must outlast a worker's death: its activities are retried after their 30-s heartbeat timeout.
    const config = BASE_TEST_CONFIG.replace('verifyTimeout: 30s', 'verifyTimeout: 2m');
    assert.match(config, /verifyTimeout: 2m/);
    h = await Harness.start(config, { withWorker: false, databaseUrl: postgres.url });
    await ensureCatalogObjects(h.iam);
    holdDir = fs.mkdtempSync(path.join(os.tmpdir(), 'p0-scale-hold-'));
    const shared = { DATABASE_URL: postgres.url };
    const bundle = await sharedWorkflowBundleFile();
    const started = await Promise.all([
      ...[0, 1, 2].map(() => startWorkerProcess(h, 'test/faults/holdingWorker.ts', { ...shared, P0_HOLD_DIR: holdDir, P0_WORKFLOW_BUNDLE: bundle })),
      ...[0, 1].map(() => startApiProcess(h, { ...shared, API_RATE_LIMIT_PER_MINUTE: String(RATE_LIMIT) })),
    ]);
    workers.push(...started.slice(0, 3));
    apis.push(...(started.slice(3) as ApiProcess[]));
  });

  after(async () => {
    for (const process of [...workers, ...apis]) await process.kill('SIGKILL');
    await h?.stop();
    await postgres?.stop();
    if (holdDir) fs.rmSync(holdDir, { recursive: true, force: true });
  });

  /** One call to an API process; a connection the process dropped (it was killed) answers status 0. */
  async function call<T = { request?: RequestView; requests?: RequestView[]; error?: { code: string; message: string } }>(
    api: ApiProcess,
    email: string,
    method: string,
    route: string,
    body?: unknown,
  ): Promise<{ status: number; body: T }> {
    try {
      const response = await fetch(`${api.url}${route}`, {
        method,
        headers: { authorization: `Bearer ${await h.token(email)}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await response.text();
      return { status: response.status, body: (text ? JSON.parse(text) : {}) as T };
    } catch {
      return { status: 0, body: {} as T };
    }
  }

  it('ends every request right after an API process and two workers are killed mid-way', async () => {
    const [first, second] = apis as [ApiProcess, ApiProcess];

    // Each process counts its own calls: a token gets the limit from each.
    const counter = 'carol@example.com';
    for (const api of [first, second]) {
      const answers = [];
      for (let i = 0; i <= RATE_LIMIT; i++) answers.push((await call(api, counter, 'GET', '/v1/me')).status);
      assert.deepEqual(answers.slice(0, RATE_LIMIT), Array<number>(RATE_LIMIT).fill(200), `the first ${RATE_LIMIT} calls on ${api.url} are answered`);
      assert.equal(answers[RATE_LIMIT], 429, `call ${RATE_LIMIT + 1} on ${api.url} is refused`);
    }

    // The requests, each with a requester of its own: most left to expire, some relinquished.
    const sent: Sent[] = [];
    for (let i = 0; i < 2 * PER_API; i++) {
      const { email, userName } = await newRequester(h.iam, 'scale');
      const relinquish = i % 5 === 4;
      const [kind, target] = i % 2 === 0 ? ['group', 'Developers'] : ['role', 'AdminRole'];
      sent.push({ requester: email, userName, body: { provider: 'aws', kind, target, reason: 'scale out', duration: relinquish ? '10m' : `${3 + (i % 3)}s` }, expected: relinquish ? 'relinquished' : 'expired', ids: [] });
    }
    // Two of them are held by whichever worker runs the step: after its grant, after its removal.
    const [heldAtGrant, heldAtRemoval] = [sent[0]!, sent[2]!];
    for (const [request, point] of [[heldAtGrant, 'grant'], [heldAtRemoval, 'revoke']] as const) {
      const created = await call(second, request.requester, 'POST', '/v1/requests', request.body);
      assert.equal(created.status, 201, JSON.stringify(created.body));
      request.ids.push(created.body.request!.id);
      fs.writeFileSync(path.join(holdDir, `armed-${created.body.request!.id}`), point);
    }

    // Both APIs at once: create and approve; the first API process is killed once it has answered a few.
    let firstAnswered = 0;
    /** Calls the first process had been sent when it was killed, and never answered. */
    let firstDropped = 0;
    let firstKilledAt = Infinity;
    let firstKilled: Promise<void> | undefined;
    const through = async (request: Sent, api: ApiProcess) => {
      if (request.ids.length === 0) {
        const sentAt = Date.now();
        let created = await call(api, request.requester, 'POST', '/v1/requests', request.body);
        if (api === first) {
          if (created.status === 0 && sentAt < firstKilledAt) firstDropped += 1;
          else if (created.status !== 0 && ++firstAnswered === 3) {
            firstKilledAt = Date.now();
            firstKilled = first.kill('SIGKILL');
          }
        }
        // Its answer lost, the call goes to the other process; the first one may have made the request all the same.
        if (created.status === 0) created = await call(second, request.requester, 'POST', '/v1/requests', request.body);
        assert.equal(created.status, 201, JSON.stringify(created.body));
        request.ids.push(created.body.request!.id);
      }
      const approveSentAt = Date.now();
      let approved = await call(api, BOB, 'POST', `/v1/requests/${request.ids[0]}/approve`, {});
      if (api === first && approved.status === 0 && approveSentAt < firstKilledAt) firstDropped += 1;
      if (approved.status === 0) approved = await call(second, BOB, 'POST', `/v1/requests/${request.ids[0]}/approve`, {});
      // A 409 only where the lost call had approved it already.
      assert.ok(approved.status === 200 || (approved.status === 409 && approved.body.error?.code === 'conflict'), JSON.stringify(approved.body));
    };
    await Promise.all(sent.map((request, index) => through(request, index % 2 === 0 ? first : second)));
    await firstKilled;
    assert.ok(firstKilled, 'the first API process was killed');
    assert.ok(firstDropped > 0, 'the kill caught calls in flight on the first API process');

    // Requests the killed process made without answering: found by listing each requester's own.
    for (const request of sent) {
      const listed = await call(second, request.requester, 'GET', '/v1/requests?mine=true');
      assert.equal(listed.status, 200, JSON.stringify(listed.body));
      for (const view of listed.body.requests ?? []) {
        if (request.ids.includes(view.id)) continue;
        request.ids.push(view.id);
        if (view.status === 'pending') assert.equal((await call(second, BOB, 'POST', `/v1/requests/${view.id}/approve`, {})).status, 200);
      }
    }

    // The workers holding the two requests are killed when they get there.
    const killed: number[] = [];
    for (const request of [heldAtGrant, heldAtRemoval]) {
      const marker = path.join(holdDir, `reached-${request.ids[0]}`);
      const deadline = Date.now() + 60_000;
      while (!fs.existsSync(marker)) {
        assert.ok(Date.now() < deadline, `${request.ids[0]} never reached its step`);
        await sleep(100);
      }
      const { pid } = JSON.parse(fs.readFileSync(marker, 'utf8')) as { pid: number };
      const holder = workers.find((worker) => worker.child.pid === pid);
      assert.ok(holder && !killed.includes(pid), `held by a live worker (${pid})`);
      await holder.kill('SIGKILL');
      killed.push(pid);
    }
    assert.equal(killed.length, 2);

    // The relinquished ones, once active, through the surviving API process.
    for (const request of sent.filter((candidate) => candidate.expected === 'relinquished')) {
      for (const id of request.ids) {
        await waitUntil(() => h.requests.get(id), (view) => view?.status === 'active', 90_000);
        const answer = await call(second, request.requester, 'POST', `/v1/requests/${id}/relinquish`, {});
        assert.equal(answer.status, 200, JSON.stringify(answer.body));
      }
    }

    // Every request ends as it must, nothing is left in IAM, and every audit trail is whole.
    const problems: string[] = [];
    for (const request of sent) {
      for (const id of request.ids) {
        const view = await waitUntil(() => h.requests.get(id), (candidate) => FINAL_STATUSES.includes(candidate?.status as never), 120_000);
        if (view?.status !== request.expected) problems.push(`${id} ended ${view?.status}, not ${request.expected}`);
        const events = await h.requests.events(id);
        const types = events.map((event) => event.type).join(',');
        if (!events.every((event, index) => event.seq === index + 1) || types !== `requested,approved,provisioning,granted,active,${request.expected}`) {
          problems.push(`${id} audit trail: ${types} (seq ${events.map((event) => event.seq).join(',')})`);
        }
      }
      const held = await holdings(h.iam, request.userName);
      if (held.inlinePolicies.length + held.groups.length > 0) problems.push(`${request.requester} still holds ${JSON.stringify(held)}`);
    }
    assert.deepEqual(problems, []);
    const requests = sent.reduce((sum, request) => sum + request.ids.length, 0);
    assert.ok(requests >= 2 * PER_API, `${requests} requests`);
    console.log(`      (${requests} requests; ${firstDropped} calls dropped by the killed API process; workers ${killed.join(', ')} killed)`);
  });
});

async function waitUntil<T>(read: () => Promise<T>, done: (value: T) => boolean, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value) || Date.now() > deadline) return value;
    await sleep(200);
  }
}
