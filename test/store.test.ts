/**
 * The stores, run unchanged on SQLite (the embedded default) and on a real PostgreSQL server.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Knex } from 'knex';
import { openDatabase } from '../db/database';
import { GrantLeaseStore } from '../db/grantLeaseStore';
import { ReconcileEventStore } from '../db/reconcileEventStore';
import { RequestStore } from '../db/requestStore';
import { TokenStore } from '../db/tokenStore';
import { SignInStore } from '../db/signInStore';
import type { AuditEvent, AuditEventType } from '../shared/events';
import type { RequestView } from '../shared/request';
import { startPostgres, type RunningPostgres } from './support/postgres';

const execFileAsync = promisify(execFile);
const REPO_ROOT = path.resolve(__dirname, '..');

function requestView(overrides: Partial<RequestView> & Pick<RequestView, 'id'>): RequestView {
  return {
    status: 'pending',
    requester: 'alice@example.com',
    provider: 'aws',
    resource: 'prod',
    level: 'admin',
    kind: 'role',
    target: 'AdminRole',
    reason: 'incident 42',
    duration: '1h',
    durationSeconds: 3600,
    approvers: ['bob@example.com', 'dana@example.com'],
    approvalsRequired: 1,
    approvals: [],
    createdAt: '2025-01-01T00:00:00.000Z',
    policyVersion: 'abc123',
    extensions: [],
    version: 1,
    ...overrides,
  };
}

function auditEvent(requestId: string, seq: number, type: AuditEventType, details?: Record<string, unknown>): AuditEvent {
  return { requestId, seq, type, actor: 'alice@example.com', at: `2025-01-01T00:00:0${seq}.000Z`, ...(details ? { details } : {}) };
}

describe('openDatabase', () => {
  it('refuses a URL it cannot open, without echoing it (it may hold a password)', async () => {
    await assert.rejects(openDatabase({ url: 'mysql://p0:hunter2@db.example.com/p0' }), (error: Error) => {
      assert.match(error.message, /Unsupported database URL \(scheme "mysql"\)/);
      assert.doesNotMatch(error.message, /hunter2/);
      return true;
    });
  });
});

for (const kind of ['sqlite', 'postgres'] as const) {
  describe(`stores on ${kind}`, function () {
    let postgres: RunningPostgres | undefined;
    let tempDir: string;
    let database: Knex;
    let requests: RequestStore;
    let tokens: TokenStore;
    let leases: GrantLeaseStore;

    /** A URL for a database nothing has touched yet: a new file, or a new PostgreSQL database. */
    async function freshDatabaseUrl(name: string): Promise<string> {
      if (kind === 'sqlite') return `sqlite:${path.join(tempDir, `${name}.sqlite`)}`;
      await database.raw('CREATE DATABASE ??', [name]);
      const url = new URL(postgres!.url);
      url.pathname = `/${name}`;
      return url.toString();
    }

    before(async function () {
      // The first run may install PostgreSQL (scripts/ensure-postgres.sh).
      this.timeout(15 * 60_000);
      tempDir = fs.mkdtempSync(path.join(os.tmpdir(), 'p0-store-test-'));
      if (kind === 'postgres') {
        postgres = await startPostgres();
        database = await openDatabase({ url: postgres.url });
      } else {
        database = await openDatabase({ sqlitePath: path.join(tempDir, 'nested', 'p0.sqlite') });
      }
      requests = new RequestStore(database);
      tokens = new TokenStore(database);
      leases = new GrantLeaseStore(database);
    });

    after(async () => {
      await database?.destroy();
      await postgres?.stop();
      if (tempDir) fs.rmSync(tempDir, { recursive: true, force: true });
    });

    beforeEach(async () => {
      for (const table of ['requests', 'audit_events', 'api_tokens', 'grant_leases', 'sessions', 'login_links', 'sign_in_attempts', 'device_codes']) await database(table).del();
    });

    describe('database', () => {
      it('runs the migrations once even when processes open a fresh database at the same time', async function () {
        this.timeout(60_000);
        const url = await freshDatabaseUrl(`p0_fresh_${Date.now()}`);
        const script = `
          const { openDatabase } = require('./db/database.ts');
          openDatabase({ url: process.env.P0_TEST_DATABASE_URL }).then(async (db) => {
            const applied = await db('knex_migrations').select('name');
            console.log(JSON.stringify(applied.map((row) => row.name)));
            await db.destroy();
          });`;
        const outputs = await Promise.all(
          [1, 2, 3].map(() =>
            execFileAsync(process.execPath, ['--import', 'tsx', '-e', script], {
              cwd: REPO_ROOT,
              env: { ...process.env, P0_TEST_DATABASE_URL: url },
            }),
          ),
        );
        for (const { stdout } of outputs) assert.deepEqual(JSON.parse(stdout), ['0001_initial', '0002_chat_messages', '0003_reconciler', '0004_grant_principal', '0005_grant_run', '0006_sign_in', '0007_teams']);
      });
    });

    describe('RequestStore', () => {
      it('writes a retried event once and does not fail on it', async () => {
        const view = requestView({ id: 'req_retry' });
        const event = auditEvent(view.id, 1, 'requested', { duration: '1h' });
        await requests.recordEvent(event, view);
        await requests.recordEvent(event, view);
        await Promise.all([requests.recordEvent(event, view), requests.recordEvent(event, view)]);
        assert.deepEqual(await requests.events(view.id), [event]);
        assert.deepEqual(await requests.get(view.id), view);
      });

      it('keeps the highest view version when events complete out of order', async () => {
        const id = 'req_order';
        const pending = requestView({ id, version: 1 });
        const approved = requestView({ id, version: 2, status: 'approved', approvals: [{ by: 'bob@example.com', at: '2025-01-01T00:01:00.000Z' }] });
        const active = requestView({ id, version: 3, status: 'active', activeAt: '2025-01-01T00:02:00.000Z', expiresAt: '2025-01-01T01:02:00.000Z' });

        await requests.recordEvent(auditEvent(id, 2, 'approved'), approved);
        await requests.recordEvent(auditEvent(id, 1, 'requested'), pending);
        assert.deepEqual(await requests.get(id), approved);

        await requests.recordEvent(auditEvent(id, 3, 'active'), active);
        assert.deepEqual(await requests.get(id), active);
        // The same version again (a retry) changes nothing, even with other content.
        await requests.recordEvent(auditEvent(id, 3, 'active'), { ...active, status: 'failed' });
        assert.deepEqual(await requests.get(id), active);
        assert.deepEqual(await requests.list({ status: 'active' }), [active]);
        assert.deepEqual(await requests.list({ status: 'approved' }), []);

        assert.deepEqual(
          (await requests.events(id)).map((event) => [event.seq, event.type]),
          [
            [1, 'requested'],
            [2, 'approved'],
            [3, 'active'],
          ],
        );
      });

      it('does not record an event of another run under a taken number, says what holds it, and keeps a refusal under a free one', async () => {
        const id = 'req_rerun';
        const active = requestView({ id, version: 2, status: 'active' });
        await requests.recordEvent(auditEvent(id, 1, 'requested'), requestView({ id, version: 1 }));
        await requests.recordEvent(auditEvent(id, 2, 'active'), active);
        // A retry of the same event is no clash.
        assert.deepEqual(await requests.recordEvent(auditEvent(id, 2, 'active'), active), {});

        // A second run of the workflow numbers its events from 1 again.
        const rerun = (seq: number, type: AuditEventType, details?: Record<string, unknown>) => ({ ...auditEvent(id, seq, type, details), at: '2025-01-01T05:00:00.000Z' });
        assert.deepEqual(await requests.recordEvent(rerun(1, 'requested'), requestView({ id, version: 1 })), {
          seqTakenBy: { type: 'requested', actor: 'alice@example.com', at: auditEvent(id, 1, 'requested').at },
        });
        const refusal = rerun(2, 'untrusted_input', { problem: 'first granted in another run', runId: 'run-2' });
        const kept = await requests.recordEvent(refusal, { ...active, status: 'failed' }, { keepOnClash: true });
        assert.deepEqual([kept.seqTakenBy?.type, kept.keptAs], ['active', 3]);
        // Retried: kept once.
        assert.equal((await requests.recordEvent(refusal, { ...active, status: 'failed' }, { keepOnClash: true })).keptAs, 3);

        assert.deepEqual(
          (await requests.events(id)).map((event) => [event.seq, event.type, event.details?.runId]),
          [
            [1, 'requested', undefined],
            [2, 'active', undefined],
            [3, 'untrusted_input', 'run-2'],
          ],
        );
        assert.equal((await requests.get(id))?.status, 'active', 'the projection keeps the higher version');
      });

      it('keeps event details, and leaves them out when there were none', async () => {
        const view = requestView({ id: 'req_details' });
        await requests.recordEvent(auditEvent(view.id, 1, 'requested', { nested: { list: [1, 'two'] }, flag: true }), view);
        await requests.recordEvent(auditEvent(view.id, 2, 'cancelled'), { ...view, version: 2, status: 'cancelled' });
        const [first, second] = await requests.events(view.id);
        assert.deepEqual(first!.details, { nested: { list: [1, 'two'] }, flag: true });
        assert.equal('details' in second!, false);
        assert.deepEqual(await requests.events('req_unknown'), []);
      });

      it('returns undefined for an unknown request', async () => {
        assert.equal(await requests.get('req_unknown'), undefined);
      });

      it('lists newest first, by status, requester and approver, up to a limit', async () => {
        const views = [
          requestView({ id: 'req_1', createdAt: '2025-01-01T00:00:01.000Z', requester: 'alice@example.com', approvers: ['bob@example.com'] }),
          requestView({ id: 'req_2', createdAt: '2025-01-01T00:00:02.000Z', requester: 'carol@example.com', approvers: ['jimbob@example.com'] }),
          requestView({ id: 'req_3', createdAt: '2025-01-01T00:00:03.000Z', requester: 'alice@example.com', status: 'active', approvers: ['bob@example.com', 'first_last@example.com'] }),
          requestView({ id: 'req_4', createdAt: '2025-01-01T00:00:04.000Z', requester: 'carol@example.com', status: 'denied', approvers: ['firstXlast@example.com'] }),
        ];
        for (const view of views) await requests.recordEvent(auditEvent(view.id, 1, 'requested'), view);
        const ids = (list: RequestView[]) => list.map((view) => view.id);

        assert.deepEqual(ids(await requests.list({})), ['req_4', 'req_3', 'req_2', 'req_1']);
        assert.deepEqual(ids(await requests.list({ limit: 2 })), ['req_4', 'req_3']);
        assert.deepEqual(ids(await requests.list({ status: 'pending' })), ['req_2', 'req_1']);
        assert.deepEqual(ids(await requests.list({ requester: 'alice@example.com' })), ['req_3', 'req_1']);
        assert.deepEqual(ids(await requests.list({ requester: 'alice@example.com', status: 'pending' })), ['req_1']);
        // Whole addresses only: bob is not jimbob, and `_` is not a wildcard.
        assert.deepEqual(ids(await requests.list({ approver: 'bob@example.com' })), ['req_3', 'req_1']);
        assert.deepEqual(ids(await requests.list({ approver: 'bob@example.com', status: 'pending' })), ['req_1']);
        assert.deepEqual(ids(await requests.list({ approver: 'first_last@example.com' })), ['req_3']);
        assert.deepEqual(ids(await requests.list({ approver: 'ob@example.com' })), []);
        assert.deepEqual(ids(await requests.list({ approver: 'BOB@example.com' })), []);
      });

      it('lists by creation time, reads several trails at once, and gives the change log in row order (GET /v1/events)', async () => {
        const views = ['01', '02', '03'].map((second) => requestView({ id: `req_t${second}`, createdAt: `2025-01-01T00:00:${second}.000Z` }));
        assert.equal(await requests.lastChangeId(), 0);
        await requests.recordEvent(auditEvent('req_t01', 1, 'requested'), views[0]!);
        await requests.recordEvent(auditEvent('req_t02', 1, 'requested'), views[1]!);
        await requests.recordEvent(auditEvent('req_t01', 2, 'approved'), { ...views[0]!, status: 'approved', version: 2 });
        await requests.recordEvent(auditEvent('req_t03', 1, 'requested'), views[2]!);
        await requests.recordEvent(auditEvent('req_t03', 1, 'requested'), views[2]!); // a retried write: no new change

        const ids = (list: RequestView[]) => list.map((view) => view.id);
        assert.deepEqual(ids(await requests.list({ createdFrom: '2025-01-01T00:00:02.000Z', createdBefore: '2025-01-01T00:00:03.000Z' })), ['req_t02']);
        assert.deepEqual(ids(await requests.list({ createdFrom: '2025-01-01T00:00:02.000Z' })), ['req_t03', 'req_t02']);

        const trails = await requests.eventsOf(['req_t03', 'req_t01', 'req_unknown']);
        assert.deepEqual(trails.map((event) => `${event.requestId}#${event.seq} ${event.type}`), ['req_t03#1 requested', 'req_t01#1 requested', 'req_t01#2 approved']);

        const changes = await requests.changesSince(0, 10);
        assert.deepEqual(changes.map((change) => `${change.requestId} ${change.type}`), ['req_t01 requested', 'req_t02 requested', 'req_t01 approved', 'req_t03 requested']);
        assert.ok(changes.every((change, index) => typeof change.id === 'number' && (index === 0 || change.id > changes[index - 1]!.id)), 'increasing numeric ids');
        assert.equal(await requests.lastChangeId(), changes[3]!.id);
        assert.deepEqual((await requests.changesSince(changes[0]!.id, 2)).map((change) => change.id), [changes[1]!.id, changes[2]!.id]);
        assert.deepEqual(await requests.changesSince(changes[3]!.id, 10), []);
      });

      it('counts requests by status (for the p0_requests gauge), as plain numbers', async () => {
        assert.deepEqual(await requests.countByStatus(), {});
        const views = [
          requestView({ id: 'req_c1' }),
          requestView({ id: 'req_c2' }),
          requestView({ id: 'req_c3', status: 'active' }),
        ];
        for (const view of views) await requests.recordEvent(auditEvent(view.id, 1, 'requested'), view);
        // A later version moves a request to another status: it is counted once, where it is now.
        await requests.recordEvent(auditEvent('req_c2', 2, 'expired'), requestView({ id: 'req_c2', status: 'expired', version: 2 }));
        assert.deepEqual(await requests.countByStatus(), { pending: 1, active: 1, expired: 1 });
      });
    });

    describe('TokenStore', () => {
      it('authenticates an issued token as its holder', async () => {
        const token = await tokens.issue('alice@example.com', { admin: false });
        const adminToken = await tokens.issue('sec@example.com', { admin: true });
        assert.match(token, /^p0_[A-Za-z0-9_-]{43}$/);
        assert.notEqual(token, adminToken);
        assert.deepEqual(await tokens.authenticate(token), { email: 'alice@example.com', admin: false });
        assert.deepEqual(await tokens.authenticate(adminToken), { email: 'sec@example.com', admin: true });
        assert.equal(await tokens.authenticate(`${token}x`), undefined);
        assert.equal(await tokens.authenticate(token.slice(3)), undefined);
        assert.equal(await tokens.authenticate(''), undefined);
      });

      it('revokes the tokens of a person stored in any case (tokens issued before identities were normalised)', async () => {
        const typed = await tokens.issue('Alice@Example.com', { admin: false });
        const normalised = await tokens.issue('alice@example.com', { admin: false });
        assert.equal(await tokens.revokeAllFor('alice@example.com'), 2, 'revoking finds both, whatever their case');
        assert.equal(await tokens.authenticate(typed), undefined);
        assert.equal(await tokens.authenticate(normalised), undefined);
      });

      it('stores only the sha256 of a token, never the token', async () => {
        const token = await tokens.issue('alice@example.com', { admin: false });
        const rows = await database<{ token_hash: string }>('api_tokens').select('*');
        assert.equal(rows.length, 1);
        assert.equal(rows[0]!.token_hash, createHash('sha256').update(token).digest('hex'));
        const stored = JSON.stringify(rows);
        assert.equal(stored.includes(token), false);
        assert.equal(stored.includes(token.slice(3)), false);
      });

      it('revokes every token of one user and no one else', async () => {
        const first = await tokens.issue('alice@example.com', { admin: false });
        const second = await tokens.issue('alice@example.com', { admin: true });
        const other = await tokens.issue('bob@example.com', { admin: false });
        assert.equal(await tokens.revokeAllFor('alice@example.com'), 2);
        assert.equal(await tokens.authenticate(first), undefined);
        assert.equal(await tokens.authenticate(second), undefined);
        assert.deepEqual(await tokens.authenticate(other), { email: 'bob@example.com', admin: false });
        assert.equal(await tokens.revokeAllFor('alice@example.com'), 0);
        // A token issued after the revocation works.
        const fresh = await tokens.issue('alice@example.com', { admin: false });
        assert.deepEqual(await tokens.authenticate(fresh), { email: 'alice@example.com', admin: false });
      });

      it('tells an expired token from an unknown one, lists live tokens and revokes one for its owner only', async () => {
        const now = new Date();
        const lasting = await tokens.issue('alice@example.com', { admin: false, lifetimeMs: 60_000, label: 'p0 login' });
        const ending = await tokens.issue('alice@example.com', { admin: false, lifetimeMs: 1_000 });
        const forever = await tokens.issue('alice@example.com', { admin: false });
        const later = new Date(now.getTime() + 5_000);
        assert.equal((await tokens.check(lasting, later))?.status, 'valid');
        assert.deepEqual(await tokens.check(ending, later), { status: 'expired' });
        assert.equal((await tokens.check(forever, later))?.status, 'valid');
        assert.equal(await tokens.check(`${ending}x`, later), undefined);
        const listed = await tokens.list({ email: 'Alice@example.com' }, later);
        assert.equal(listed.length, 2, 'the expired one is not listed');
        assert.deepEqual(listed.map((token) => token.label), [null, 'p0 login']);
        const lastingId = listed[1]!.id;
        assert.equal(await tokens.revoke(lastingId, { owner: 'bob@example.com' }), false);
        assert.equal(await tokens.revoke(lastingId, { owner: 'alice@example.com' }), true);
        assert.equal(await tokens.revoke(lastingId), false, 'already revoked');
        assert.equal(await tokens.check(lasting), undefined);
      });
    });

    describe('SignInStore', () => {
      let signIn: SignInStore;
      before(() => {
        signIn = new SignInStore(database);
      });

      it('keeps sessions by hash, ending them when idle too long or past their absolute end', async () => {
        const start = new Date('2030-01-01T00:00:00Z');
        const at = (minutes: number) => new Date(start.getTime() + minutes * 60_000);
        const id = await signIn.createSession('alice@example.com', 120 * 60_000, start);
        const stored = JSON.stringify(await database('sessions').select('*'));
        assert.equal(stored.includes(id), false, 'only the hash is stored');
        assert.deepEqual(await signIn.useSession(id, 30 * 60_000, at(20)), { email: 'alice@example.com' });
        assert.deepEqual(await signIn.useSession(id, 30 * 60_000, at(45)), { email: 'alice@example.com' }, 'used at 20: idle until 50');
        assert.deepEqual(await signIn.useSession(id, 30 * 60_000, at(110)), undefined, 'idle from 45 to 110');
        const other = await signIn.createSession('bob@example.com', 60 * 60_000, start);
        for (const minutes of [20, 40]) assert.ok(await signIn.useSession(other, 30 * 60_000, at(minutes)));
        assert.equal(await signIn.useSession(other, 30 * 60_000, at(61)), undefined, 'past the absolute end');
        assert.equal(await signIn.useSession('nonsense', 30 * 60_000, at(1)), undefined);
        const ended = await signIn.createSession('carol@example.com', 60 * 60_000);
        await signIn.deleteSession(ended);
        assert.equal(await signIn.useSession(ended, 60_000), undefined);
      });

      it('uses a login link once, within its lifetime', async () => {
        const link = await signIn.createLoginLink('alice@example.com', 10 * 60_000);
        assert.deepEqual(await signIn.peekLoginLink(link), { email: 'alice@example.com' });
        const [first, second] = await Promise.all([signIn.consumeLoginLink(link), signIn.consumeLoginLink(link)]);
        assert.deepEqual([first, second].filter(Boolean), [{ email: 'alice@example.com' }], 'one of two concurrent uses wins');
        assert.equal(await signIn.peekLoginLink(link), undefined);
        const stale = await signIn.createLoginLink('bob@example.com', 1_000, new Date(Date.now() - 5_000));
        assert.equal(await signIn.consumeLoginLink(stale), undefined);
        assert.equal(JSON.stringify(await database('login_links').select('*')).includes(link), false);
      });

      it('finishes a sign-in attempt at most once', async () => {
        await signIn.saveSignInAttempt('state-1', { codeVerifier: 'v', nonce: 'n', returnTo: '/x' }, 60_000);
        assert.deepEqual(await signIn.takeSignInAttempt('state-1'), { codeVerifier: 'v', nonce: 'n', returnTo: '/x' });
        assert.equal(await signIn.takeSignInAttempt('state-1'), undefined);
        assert.equal(await signIn.takeSignInAttempt('state-2'), undefined);
      });

      it('hands a device its approval once', async () => {
        const { deviceCode, userCode } = await signIn.createDeviceCode(60_000);
        assert.match(userCode, /^[A-HJ-NP-Z2-9]{8}$/);
        assert.deepEqual(await signIn.pollDeviceCode(deviceCode), { status: 'pending' });
        assert.equal(await signIn.approveDeviceCode('nope-nope', 'alice@example.com'), false);
        assert.equal(await signIn.approveDeviceCode(`${userCode.slice(0, 4).toLowerCase()}-${userCode.slice(4)}`, 'alice@example.com'), true);
        assert.equal(await signIn.approveDeviceCode(userCode, 'mallory@example.com'), false, 'approved once');
        assert.deepEqual(await signIn.pollDeviceCode(deviceCode), { status: 'approved', email: 'alice@example.com' });
        assert.deepEqual(await signIn.pollDeviceCode(deviceCode), { status: 'unknown' });
      });
    });

    describe('GrantLeaseStore', () => {
      const key = 'aws:iam:user/alice:role/AdminRole';

      it('keeps a shared grant until the last overlapping request ends', async () => {
        assert.deepEqual(await leases.acquire({ requestId: 'req_a', resourceKey: key, presentBefore: false }), { standing: false });
        // req_b finds the access present: req_a granted it, so it is not the user's own.
        assert.deepEqual(await leases.acquire({ requestId: 'req_b', resourceKey: key, presentBefore: true }), { standing: false });
        assert.deepEqual((await leases.activeLeases()).map((lease) => lease.requestId), ['req_a', 'req_b']);

        assert.deepEqual(await leases.release('req_a'), { removeAtProvider: false, reason: 'still granted by req_b' });
        const last = await leases.release('req_b');
        assert.equal(last.removeAtProvider, true);
        assert.deepEqual(await leases.activeLeases(), []);
      });

      it('never removes access the user had before, nor access that overlapped with it', async () => {
        assert.deepEqual(await leases.acquire({ requestId: 'req_own', resourceKey: key, presentBefore: true }), { standing: true });
        // Acquired while the standing lease is held: inherits standing whatever it saw.
        assert.deepEqual(await leases.acquire({ requestId: 'req_overlap', resourceKey: key, presentBefore: false }), { standing: true });
        const active = await leases.activeLeases();
        assert.deepEqual(
          active
            .map(({ requestId, resourceKey, standing }) => ({ requestId, resourceKey, standing }))
            .sort((a, b) => a.requestId.localeCompare(b.requestId)),
          [
            { requestId: 'req_overlap', resourceKey: key, standing: true },
            { requestId: 'req_own', resourceKey: key, standing: true },
          ],
        );
        assert.match(active[0]!.acquiredAt, /^\d{4}-\d\d-\d\dT/);

        const first = await leases.release('req_own');
        assert.equal(first.removeAtProvider, false);
        assert.match(first.reason, /had this access before/);
        assert.equal((await leases.release('req_overlap')).removeAtProvider, false);

        // Once nothing holds it, a request that finds the access gone owns its grant again.
        assert.deepEqual(await leases.acquire({ requestId: 'req_later', resourceKey: key, presentBefore: false }), { standing: false });
        assert.equal((await leases.release('req_later')).removeAtProvider, true);
      });

      it('keeps other keys apart', async () => {
        await leases.acquire({ requestId: 'req_a', resourceKey: key, presentBefore: false });
        assert.deepEqual(await leases.acquire({ requestId: 'req_b', resourceKey: `${key}-other`, presentBefore: false }), { standing: false });
        assert.equal((await leases.release('req_b')).removeAtProvider, true);
        assert.equal((await leases.release('req_a')).removeAtProvider, true);
      });

      it('answers a retried acquire or release as it did the first time', async () => {
        assert.deepEqual(await leases.acquire({ requestId: 'req_a', resourceKey: key, presentBefore: false }), { standing: false });
        // The retry sees the access present (its own grant went through): still not standing.
        assert.deepEqual(await leases.acquire({ requestId: 'req_a', resourceKey: key, presentBefore: true }), { standing: false });
        assert.equal((await leases.activeLeases()).length, 1);
        await assert.rejects(leases.acquire({ requestId: 'req_a', resourceKey: 'another key', presentBefore: false }), /recorded on/);

        const released = await leases.release('req_a');
        assert.equal(released.removeAtProvider, true);
        // A new request on the key in the meantime does not change the recorded decision.
        await leases.acquire({ requestId: 'req_b', resourceKey: key, presentBefore: false });
        assert.deepEqual(await leases.release('req_a'), released);
        // An attempt still running after the release is told the hold ended: it must not grant.
        assert.deepEqual(await leases.acquire({ requestId: 'req_a', resourceKey: key, presentBefore: true }), { standing: false, released: true });
        assert.deepEqual(await leases.releaseOf('req_a'), released);
        assert.equal(await leases.releaseOf('req_b'), undefined);
        assert.deepEqual(
          (await leases.activeLeases()).map((lease) => lease.requestId),
          ['req_b'],
        );
      });

      it('keeps a request cleaned up before any lease was recorded from recording one later', async () => {
        const cleanedUp = await leases.release('req_a');
        assert.equal(cleanedUp.removeAtProvider, true);
        assert.deepEqual(await leases.release('req_a'), cleanedUp);
        assert.deepEqual(await leases.acquire({ requestId: 'req_a', resourceKey: key, presentBefore: false }), { standing: false, released: true });
        assert.deepEqual(await leases.activeLeases(), []);
        assert.deepEqual(await leases.recordedGrants('1970-01-01T00:00:00.000Z'), []);
        // The key stays free: another request on it is not taken as sharing anything.
        assert.deepEqual(await leases.acquire({ requestId: 'req_b', resourceKey: key, presentBefore: false }), { standing: false });
        assert.deepEqual(await leases.otherHolders('req_b'), []);
      });

      it('does not take access as standing while an ended request is still removing it', async () => {
        await leases.acquire({ requestId: 'req_a', resourceKey: key, presentBefore: false });
        assert.equal((await leases.release('req_a')).removeAtProvider, true);
        // req_a's removal is under way: req_b still sees the access, but it is the product's.
        assert.deepEqual(await leases.acquire({ requestId: 'req_b', resourceKey: key, presentBefore: true }), { standing: false });
        assert.deepEqual(await leases.otherHolders('req_a'), ['req_b']);
        // req_a's removal confirmed: req_b holds the same access, so the caller grants it back.
        assert.deepEqual(await leases.confirmRemoved('req_a'), { heldBy: ['req_b'] });
        assert.equal((await leases.release('req_b')).removeAtProvider, true);
        assert.deepEqual(await leases.confirmRemoved('req_b'), { heldBy: [] });
        // Everything confirmed removed: access seen now was granted outside the product.
        assert.deepEqual(await leases.acquire({ requestId: 'req_c', resourceKey: key, presentBefore: true }), { standing: true });
      });

      it('tells compensation to remove when no lease was ever recorded', async () => {
        const release = await leases.release('req_never');
        assert.equal(release.removeAtProvider, true);
        assert.match(release.reason, /no lease was recorded for req_never/);
        assert.deepEqual(await leases.release('req_never'), release);
      });

      it('gives concurrent acquirers of one key one owner, and concurrent releasers one remover', async function () {
        this.timeout(30_000);
        const ids = Array.from({ length: 8 }, (_, index) => `req_c${index}`);
        const acquired = await Promise.all(ids.map((requestId) => leases.acquire({ requestId, resourceKey: key, presentBefore: false })));
        assert.deepEqual(acquired, ids.map(() => ({ standing: false })));

        const released = await Promise.all(ids.map((requestId) => leases.release(requestId)));
        assert.equal(released.filter((release) => release.removeAtProvider).length, 1, JSON.stringify(released));
        assert.deepEqual(await leases.activeLeases(), []);
      });

      it('records one consistent answer when concurrent acquirers saw different things', async function () {
        this.timeout(30_000);
        // Whoever is first decides; every later acquirer inherits that: never a mix of standing and not.
        for (let round = 0; round < 5; round++) {
          const roundKey = `${key}#${round}`;
          const ids = Array.from({ length: 6 }, (_, index) => `req_r${round}_${index}`);
          const acquired = await Promise.all(
            ids.map((requestId, index) => leases.acquire({ requestId, resourceKey: roundKey, presentBefore: index % 2 === 0 })),
          );
          const standings = new Set(acquired.map((lease) => lease.standing));
          assert.equal(standings.size, 1, `round ${round}: ${JSON.stringify(acquired)}`);
          const released = await Promise.all(ids.map((requestId) => leases.release(requestId)));
          const removers = released.filter((release) => release.removeAtProvider).length;
          assert.equal(removers, acquired[0]!.standing ? 0 : 1, `round ${round}: ${JSON.stringify(released)}`);
        }
      });

      it('keeps each grant for the reconciler: held ones always, released ones within the look-back', async () => {
        const spec = (requestId: string) => ({
          requestId,
          provider: 'aws',
          resource: 'default',
          scope: {},
          kind: 'group',
          target: 'Developers',
          principal: 'alice@example.com',
          notAfter: '2030-01-01T00:00:00.000Z',
        });
        await leases.acquire({ requestId: 'req_held', resourceKey: key, presentBefore: false, spec: spec('req_held') });
        await leases.acquire({ requestId: 'req_ended', resourceKey: `${key}#2`, presentBefore: false, spec: spec('req_ended') });
        await leases.acquire({ requestId: 'req_old_lease', resourceKey: `${key}#3`, presentBefore: false });
        await leases.release('req_ended');

        const recent = await leases.recordedGrants(new Date(Date.now() - 60_000).toISOString());
        assert.deepEqual(
          recent.map(({ requestId, released, removeAtProvider, removed }) => ({ requestId, released, removeAtProvider, removed })),
          [
            { requestId: 'req_held', released: false, removeAtProvider: false, removed: false },
            { requestId: 'req_ended', released: true, removeAtProvider: true, removed: false },
          ],
        );
        assert.deepEqual(recent[0]!.spec, spec('req_held'));
        const future = await leases.recordedGrants(new Date(Date.now() + 60_000).toISOString());
        assert.deepEqual(future.map((grant) => grant.requestId), ['req_held']);
        assert.equal(await leases.isHeld(key, 'req_other'), true);
        assert.equal(await leases.isHeld(key, 'req_held'), false);
      });
      it('keeps the run that first provisioned a grant; a lease from before run ids is claimed by the first run that acquires it', async () => {
        const spec = { requestId: 'req_run', provider: 'aws', resource: 'default', scope: {}, kind: 'group', target: 'Developers', principal: 'alice@example.com', notAfter: '2030-01-01T00:00:00.000Z' };
        assert.deepEqual(await leases.acquire({ requestId: 'req_run', resourceKey: key, presentBefore: false, spec, runId: 'run-1' }), { standing: false, runId: 'run-1' });
        // A retry, a re-provision, or another run: the answer names the run that recorded it.
        assert.deepEqual(await leases.acquire({ requestId: 'req_run', resourceKey: key, presentBefore: false, spec, runId: 'run-2' }), { standing: false, runId: 'run-1' });
        assert.equal(await leases.grantedInRun('req_run'), 'run-1');
        assert.equal(await leases.grantedInRun('req_unknown'), undefined);

        await leases.acquire({ requestId: 'req_old', resourceKey: `${key}#2`, presentBefore: false, spec: { ...spec, requestId: 'req_old' } });
        assert.equal(await leases.grantedInRun('req_old'), undefined, 'recorded before run ids were');
        assert.deepEqual(await leases.acquire({ requestId: 'req_old', resourceKey: `${key}#2`, presentBefore: false, runId: 'run-7' }), { standing: false, runId: 'run-7' });
        assert.deepEqual(await leases.acquire({ requestId: 'req_old', resourceKey: `${key}#2`, presentBefore: false, runId: 'run-8' }), { standing: false, runId: 'run-7' });
        assert.equal(await leases.grantedInRun('req_old'), 'run-7');
      });

      it('keeps the principal resolved at grant time with the lease, for revoke and the reconciler', async () => {
        const principal = { userName: 'tagged-alice', userArn: 'arn:aws:iam::123456789012:user/tagged-alice', userId: 'AIDAEXAMPLE' };
        const spec = { requestId: 'req_p', provider: 'aws', resource: 'default', scope: {}, kind: 'group', target: 'Developers', principal: 'alice@example.com', notAfter: '2030-01-01T00:00:00.000Z' };
        await leases.acquire({ requestId: 'req_p', resourceKey: key, presentBefore: false, spec, principal });
        // A retried acquire (or a re-provision) never replaces what was recorded first.
        await leases.acquire({ requestId: 'req_p', resourceKey: key, presentBefore: false, spec, principal: { ...principal, userId: 'AIDAOTHER' } });
        await leases.acquire({ requestId: 'req_legacy', resourceKey: `${key}#2`, presentBefore: false, spec: { ...spec, requestId: 'req_legacy' } });

        assert.deepEqual(await leases.recordedPrincipal('req_p'), principal);
        assert.equal(await leases.recordedPrincipal('req_legacy'), undefined, 'a lease from before principals were recorded has none');
        assert.equal(await leases.recordedPrincipal('req_unknown'), undefined);
        await leases.release('req_p');
        assert.deepEqual(await leases.recordedPrincipal('req_p'), principal, 'still there after release, for the removal');

        const grants = await leases.recordedGrants(new Date(Date.now() - 60_000).toISOString());
        assert.deepEqual(
          grants.map((grant) => ({ requestId: grant.requestId, principal: grant.principal })).sort((a, b) => a.requestId.localeCompare(b.requestId)),
          [
            { requestId: 'req_legacy', principal: undefined },
            { requestId: 'req_p', principal },
          ],
        );
      });
    });

    describe('ReconcileEventStore', () => {
      it('records a finding once per run however often the activity is retried, newest first', async () => {
        const events = new ReconcileEventStore(database);
        await database('reconcile_events').del();
        const finding = { runId: 'run-1', at: '2026-11-25T12:00:00.000Z', finding: 'orphan' as const, provider: 'aws', requestId: 'req_x', description: 'IAM user a: inline policy p0-req_x' };
        await events.record({ ...finding, action: 'revoke_failed', error: 'Throttling' });
        await events.record({ ...finding, action: 'revoked' });
        await events.record({ ...finding, runId: 'run-2', requestId: undefined, action: 'reported' });
        const listed = await events.list();
        assert.deepEqual(listed.map((event) => [event.runId, event.action, event.requestId, event.error]), [
          ['run-2', 'reported', undefined, undefined],
          ['run-1', 'revoked', 'req_x', undefined],
        ]);
        assert.deepEqual((await events.list({ requestId: 'req_x', limit: 5 })).map((event) => event.runId), ['run-1']);
      });
    });
  });
}
