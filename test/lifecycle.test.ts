/**
 * An access request end to end: real API, real worker, real Temporal dev server, moto for IAM.
 */
import assert from 'node:assert/strict';
import { Client, Connection } from '@temporalio/client';
import { classifyAwsError } from '../providers/aws/errors';
import type { RequestView } from '../shared/request';
import { assertApiError } from './support/apiErrors';
import { BASE_TEST_CONFIG, Harness } from './support/harness';
import { addToGroup, ensureCatalogObjects, holdings, inlinePolicyDocument, newRequester } from './support/iam';

interface RoleGrantStatement {
  Action: string;
  Resource: string;
  Condition: { DateLessThan: { 'aws:CurrentTime': string } };
}

const BOB = 'bob@example.com'; // approver (sre)
const DANA = 'dana@example.com'; // approver (sre)
const CAROL = 'carol@example.com'; // nobody special

describe('access request lifecycle', function () {
  this.timeout(120_000);
  let h: Harness;

  before(async () => {
    h = await Harness.start();
    await ensureCatalogObjects(h.iam);
  });
  after(() => h?.stop());

  it('goes pending -> approved -> active -> expired, and IAM ends exactly as it began', async () => {
    const { email, userName } = await newRequester(h.iam);
    const before = await holdings(h.iam, userName);

    const created = await h.request(email, { provider: 'aws', kind: 'group', target: 'Developers', reason: 'debug prod', duration: '3s' });
    assert.equal(created.status, 'pending');
    assert.equal(created.requester, email);
    assert.match(created.id, /^req_[0-9A-Z]{26}$/);

    const approved = await h.act(BOB, created.id, 'approve', 'go ahead');
    assert.equal(approved.status, 200, JSON.stringify(approved.body));
    assert.deepEqual(approved.body.request.approvals.map((approval) => approval.by), [BOB]);

    const active = await h.waitFor(email, created.id, ['active']);
    assert.deepEqual((await holdings(h.iam, userName)).groups, [...before.groups, 'Developers'].sort());
    // The clock starts when the grant is verified usable.
    assert.equal(Date.parse(active.expiresAt!) - Date.parse(active.activeAt!), 3000);
    assert.ok(Date.parse(active.activeAt!) >= Date.parse(approved.body.request.approvals[0]!.at));

    const expired = await h.waitFor(email, created.id, ['expired']);
    assert.ok(Date.parse(expired.endedAt!) >= Date.parse(active.expiresAt!));
    assert.deepEqual(await holdings(h.iam, userName), before);

    const events = await h.requests.events(created.id);
    assert.deepEqual(
      events.map((event) => event.type),
      ['requested', 'approved', 'provisioning', 'granted', 'active', 'expired'],
    );
    assert.deepEqual(events.map((event) => event.seq), [1, 2, 3, 4, 5, 6]);
    assert.equal(events[1]!.actor, BOB);
  });

  it('grants a role as an inline policy with an AWS-enforced expiry, and removes it on relinquish', async () => {
    const { email, userName } = await newRequester(h.iam);
    const created = await h.request(email, { provider: 'aws', kind: 'role', target: 'AdminRole', reason: 'deploy', duration: '10m' });
    await h.act(BOB, created.id, 'approve');
    const active = await h.waitFor(email, created.id, ['active']);

    const policyName = `p0-${created.id}`;
    assert.deepEqual((await holdings(h.iam, userName)).inlinePolicies, [policyName]);
    const document = await inlinePolicyDocument(h.iam, userName, policyName);
    const statement = (document.Statement as RoleGrantStatement[])[0]!;
    assert.equal(statement.Action, 'sts:AssumeRole');
    assert.match(String(statement.Resource), /:role\/AdminRole$/);
    const notAfter = Date.parse(statement.Condition.DateLessThan['aws:CurrentTime']);
    assert.ok(notAfter >= Date.parse(active.expiresAt!), 'the backstop is never earlier than the approved end');

    const relinquished = await h.act(email, created.id, 'relinquish', 'done early');
    assert.equal(relinquished.status, 200);
    assert.equal(relinquished.body.request.status, 'relinquished');
    assert.equal(relinquished.body.request.decision?.by, email);
    assert.deepEqual((await holdings(h.iam, userName)).inlinePolicies, []);
  });

  it('attaches a managed policy and detaches it when the request ends', async () => {
    const { email, userName } = await newRequester(h.iam);
    const created = await h.request(email, { provider: 'aws', kind: 'policy', target: 'ReadOnlyAccess', reason: 'audit', duration: '10m' });
    await h.act(DANA, created.id, 'approve');
    await h.waitFor(email, created.id, ['active']);
    assert.deepEqual((await holdings(h.iam, userName)).attachedPolicies, ['arn:aws:iam::aws:policy/ReadOnlyAccess']);

    assertApiError(await h.act(BOB, created.id, 'revoke'), 'forbidden');
    const revoked = await h.act('sec@example.com', created.id, 'revoke', 'incident over');
    assert.equal(revoked.status, 200, JSON.stringify(revoked.body));
    assert.equal(revoked.body.request.status, 'revoked');
    assert.deepEqual((await holdings(h.iam, userName)).attachedPolicies, []);
  });

  it('refuses self-approval and approval by a non-approver, synchronously, and changes nothing', async () => {
    const { email } = await newRequester(h.iam);
    // An approver asking for access themselves still cannot approve it.
    const created = await h.request(BOB, { provider: 'aws', kind: 'group', target: 'Developers', reason: 'x', duration: '1m' });
    assertApiError(await h.act(BOB, created.id, 'approve'), 'forbidden', /cannot approve your own request/);

    assertApiError(await h.act(CAROL, created.id, 'approve'), 'forbidden', /not an approver/);

    assertApiError(await h.act(email, created.id, 'cancel'), 'forbidden', /Only the requester can cancel/);
    // Someone who is neither requester nor approver cannot read it.
    assertApiError(await h.call(email, 'GET', `/v1/requests/${created.id}`), 'not_found');

    const view = await h.waitFor(BOB, created.id, ['pending']);
    assert.deepEqual(view.approvals, []);
    const cancelled = await h.act(BOB, created.id, 'cancel', 'not needed');
    assert.equal(cancelled.body.request.status, 'cancelled');
  });

  it('denies with a reason, and a second decision is refused with who decided', async () => {
    const { email, userName } = await newRequester(h.iam);
    const created = await h.request(email, { provider: 'aws', kind: 'group', target: 'Developers', reason: 'x', duration: '1m' });
    const denied = await h.act(BOB, created.id, 'deny', 'use the read-only role');
    assert.equal(denied.status, 200);
    assert.equal(denied.body.request.status, 'denied');
    assert.deepEqual({ by: denied.body.request.decision?.by, comment: denied.body.request.decision?.comment }, { by: BOB, comment: 'use the read-only role' });

    assertApiError(await h.act(DANA, created.id, 'approve'), 'conflict', /already denied/);
    assert.deepEqual((await holdings(h.iam, userName)).groups, []);
  });

  it('keeps a group membership that an overlapping request still grants', async () => {
    const { email, userName } = await newRequester(h.iam);
    const first = await h.request(email, { provider: 'aws', kind: 'group', target: 'Developers', reason: 'one', duration: '10m' });
    await h.act(BOB, first.id, 'approve');
    await h.waitFor(email, first.id, ['active']);
    const second = await h.request(email, { provider: 'aws', kind: 'group', target: 'Developers', reason: 'two', duration: '10m' });
    await h.act(BOB, second.id, 'approve');
    await h.waitFor(email, second.id, ['active']);

    const firstEnded = await h.act(email, first.id, 'relinquish');
    assert.equal(firstEnded.body.request.status, 'relinquished');
    assert.deepEqual((await holdings(h.iam, userName)).groups, ['Developers'], 'the second request still grants it');

    const secondEnded = await h.act(email, second.id, 'relinquish');
    assert.equal(secondEnded.body.request.status, 'relinquished');
    assert.deepEqual((await holdings(h.iam, userName)).groups, []);
  });

  it('never removes a membership the user had before the request', async () => {
    const { email, userName } = await newRequester(h.iam);
    await addToGroup(h.iam, userName, 'Developers');
    const created = await h.request(email, { provider: 'aws', kind: 'group', target: 'Developers', reason: 'x', duration: '2s' });
    await h.act(BOB, created.id, 'approve');
    const ended = await h.waitFor(email, created.id, ['expired']);
    assert.equal(ended.status, 'expired');
    assert.deepEqual((await holdings(h.iam, userName)).groups, ['Developers']);
  });

  it('fails cleanly for a role that does not exist, leaving nothing granted', async () => {
    const { email, userName } = await newRequester(h.iam);
    const before = await holdings(h.iam, userName);
    const created = await h.request(email, { provider: 'aws', kind: 'role', target: 'NoSuchRole', reason: 'x', duration: '1m' });
    await h.act(BOB, created.id, 'approve');
    const failed = await h.waitFor(email, created.id, ['failed']);
    assert.match(failed.error!, /NoSuchRole/);
    assert.deepEqual(await holdings(h.iam, userName), before);
  });

  it('fails cleanly when the requester has no IAM user', async () => {
    const created = await h.request(CAROL, { provider: 'aws', kind: 'group', target: 'Developers', reason: 'x', duration: '1m' });
    await h.act(BOB, created.id, 'approve');
    const failed = await h.waitFor(CAROL, created.id, ['failed']);
    assert.match(failed.error!, /carol@example\.com/);
  });
});

describe('provider error text', function () {
  this.timeout(120_000);
  const USER_ARN = 'arn:aws:iam::123456789012:user/p0-quota';
  let h: Harness;

  before(async () => {
    // IAM refusing the grant as it does at a quota, its words (with an ARN and the account id)
    // classified exactly as the provider classifies them.
    const refusal = classifyAwsError(Object.assign(new Error(`Cannot exceed quota for GroupsPerUser: 10 on ${USER_ARN}`), { name: 'LimitExceededException' }), `adding ${USER_ARN} to group Developers`);
    assert.ok(refusal instanceof Error);
    h = await Harness.start(BASE_TEST_CONFIG, {
      wrapProvider: (provider) => ({
        name: provider.name,
        propagation: provider.propagation,
        inspect: (spec) => provider.inspect(spec),
        grant: (spec) =>
          spec.principal.startsWith('quota')
            ? Promise.reject(refusal)
            : provider.grant(spec),
        revoke: (spec) => provider.revoke(spec),
        isGranted: (spec) => provider.isGranted(spec),
        listMarked: () => provider.listMarked(),
        removeMarked: (grant) => provider.removeMarked(grant),
      }),
    });
    await ensureCatalogObjects(h.iam);
  });
  after(() => h?.stop());

  it('names ARNs and account ids to admins only: the requester and the approver get it without them', async () => {
    const { email } = await newRequester(h.iam, 'quota');
    const created = await h.request(email, { provider: 'aws', kind: 'group', target: 'Developers', reason: 'x', duration: '1m' });
    assert.equal((await h.act(BOB, created.id, 'approve')).status, 200);
    const failed = await h.waitFor(email, created.id, ['failed']);

    const admin = await h.call<{ request: RequestView }>('sec@example.com', 'GET', `/v1/requests/${created.id}`);
    assert.equal(admin.body.request.error, `AWS refused adding ${USER_ARN} to group Developers: LimitExceeded: Cannot exceed quota for GroupsPerUser: 10 on ${USER_ARN}`, 'the admin sees the provider\'s own words');

    const listed = await h.call<{ requests: RequestView[] }>(email, 'GET', '/v1/requests?mine=true');
    const byApprover = await h.call<{ request: RequestView }>(BOB, 'GET', `/v1/requests/${created.id}`);
    const seen = [failed.error, listed.body.requests.find((request) => request.id === created.id)?.error, byApprover.body.request.error];
    for (const error of seen) {
      assert.ok(error, 'the failure is still explained');
      assert.doesNotMatch(error, /arn:/i);
      assert.doesNotMatch(error, /123456789012/);
      assert.match(error, /^AWS refused adding .* to group Developers: LimitExceeded: Cannot exceed quota for GroupsPerUser: 10/, error);
      assert.match(error, /an admin can see the provider's full message/);
    }
    // The store (and so the log and the audit trail) keeps the whole text, for admins.
    assert.ok((await h.requests.get(created.id))?.error?.includes(USER_ARN));
  });
});

describe('approval window', function () {
  this.timeout(60_000);
  let h: Harness;
  before(async () => {
    h = await Harness.start(BASE_TEST_CONFIG.replace('approvalTimeout: 60s', 'approvalTimeout: 2s'));
  });
  after(() => h?.stop());

  it('times out a request nobody decides on', async () => {
    const created = await h.request(CAROL, { provider: 'aws', kind: 'group', target: 'Developers', reason: 'x', duration: '1m' });
    const timedOut = await h.waitFor(CAROL, created.id, ['timed_out'], 15_000);
    assert.ok(Date.parse(timedOut.endedAt!) - Date.parse(timedOut.createdAt) >= 2000);
    assertApiError(await h.act(BOB, created.id, 'approve'), 'conflict', /timed out/);
  });
});

describe('propagation that never completes', function () {
  this.timeout(60_000);
  let h: Harness;
  before(async () => {
    // IAM really gets the grant, but never reports it: as if propagation never finished. (The
    // removal is then checked below straight from IAM, since this provider cannot confirm it.)
    h = await Harness.start(BASE_TEST_CONFIG.replace('verifyTimeout: 30s', 'verifyTimeout: 3s'), {
      wrapProvider: (provider) => ({
        name: provider.name,
        propagation: provider.propagation,
        inspect: (spec) => provider.inspect(spec),
        grant: (spec) => provider.grant(spec),
        revoke: (spec) => provider.revoke(spec),
        isGranted: () => Promise.resolve(false),
        listMarked: () => provider.listMarked(),
        removeMarked: (grant) => provider.removeMarked(grant),
      }),
    });
    await ensureCatalogObjects(h.iam);
  });
  after(() => h?.stop());

  it('fails the request after verifyTimeout and removes what was granted', async () => {
    const { email, userName } = await newRequester(h.iam);
    const created = await h.request(email, { provider: 'aws', kind: 'group', target: 'Developers', reason: 'x', duration: '1m' });
    await h.act(BOB, created.id, 'approve');
    const failed = await h.waitFor(email, created.id, ['failed'], 30_000);
    assert.match(failed.error!, /did not report the group Developers as granted/);
    assert.equal(failed.activeAt, undefined, 'the access clock never started');
    assert.deepEqual((await holdings(h.iam, userName)).groups, []);
    const events = await h.requests.events(created.id);
    assert.deepEqual(events.map((event) => event.type), ['requested', 'approved', 'provisioning', 'granted', 'failed']);
    assert.equal(events.at(-1)!.details?.removedAtProvider, true);
  });
});

describe('one read-back and no settle delay: provision and revoke check their own work', function () {
  this.timeout(60_000);
  let h: Harness;
  let connection: Connection;
  before(async () => {
    h = await Harness.start(BASE_TEST_CONFIG.replace('consecutiveReads: 2', 'consecutiveReads: 1'));
    await ensureCatalogObjects(h.iam);
    connection = await Connection.connect({ address: h.temporalAddress });
  });
  after(async () => {
    await connection?.close();
    await h?.stop();
  });

  it('goes active and expires with no separate verification, and IAM ends as it began', async () => {
    const { email, userName } = await newRequester(h.iam);
    const before = await holdings(h.iam, userName);
    const created = await h.request(email, { provider: 'aws', kind: 'group', target: 'Developers', reason: 'debug', duration: '2s' });
    await h.act(BOB, created.id, 'approve');
    await h.waitFor(email, created.id, ['active']);
    assert.deepEqual((await holdings(h.iam, userName)).groups, [...before.groups, 'Developers'].sort());
    const expired = await h.waitFor(email, created.id, ['expired']);
    assert.deepEqual(await holdings(h.iam, userName), before);

    const events = await h.requests.events(created.id);
    assert.deepEqual(events.map((event) => event.type), ['requested', 'approved', 'provisioning', 'granted', 'active', 'expired']);
    assert.equal(events.at(-1)!.details?.removedAtProvider, true);
    assert.equal(expired.status, 'expired');
    const { events: history } = await new Client({ connection }).workflow.getHandle(created.id).fetchHistory();
    const activities = (history ?? []).flatMap((event) => event.activityTaskScheduledEventAttributes?.activityType?.name ?? []);
    assert.deepEqual(activities, ['provision', 'revoke']);
  });
});
