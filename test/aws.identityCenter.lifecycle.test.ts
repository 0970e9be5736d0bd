/**
 * Permission-set requests end to end: the real API and worker on the real Temporal dev server, with
 * moto's IAM Identity Center behind the AWS provider. Every test has its own catalog resource (so its
 * own account) and its own Identity Store user: the run shares one moto.
 */
import assert from 'node:assert/strict';
import { Harness, sharedMoto } from './support/harness';
import {
  assignDirectly,
  assignmentsOf,
  destroyFixture,
  ensurePermissionSet,
  identityCenterOn,
  newIdentityStoreUser,
  type IdentityCenterFixture,
} from './support/identityCenter';

const BOB = 'bob@example.com'; // approver (sre)
const PERMISSION_SET = 'P0LifecycleAdmin';

/** One resource (one account) per test. */
const ACCOUNTS = {
  expiry: '510000000001',
  overlap: '510000000002',
  standing: '510000000003',
  missing: '510000000004',
  noUser: '510000000005',
} as const;

const resource = (name: keyof typeof ACCOUNTS, target = PERMISSION_SET) => `
    - resource: ${name}
      account: '${ACCOUNTS[name]}'
      levels:
        - { level: admin, kind: permission-set, target: ${target}, approvers: [sre], minDuration: 1s, maxDuration: 1h }`;

const CONFIG = `
approvers:
  sre: [${BOB}, dana@example.com]
admins: [sec@example.com]
approvalTimeout: 60s
verifyTimeout: 30s
catalog:
  aws:${resource('expiry')}${resource('overlap')}${resource('standing')}${resource('missing', 'NoSuchPermissionSet')}${resource('noUser')}
aws:
  propagation: { settleDelay: 0s, consecutiveReads: 2, pollInterval: 100ms }
  identityCenter:
    assignmentPolling: { initialInterval: 100ms, maxInterval: 1s, timeout: 10s }
`;

describe('permission-set requests end to end (IAM Identity Center on moto)', function () {
  this.timeout(120_000);
  let h: Harness;
  let fixture: IdentityCenterFixture;
  let permissionSetArn: string;

  before(async () => {
    h = await Harness.start(CONFIG);
    fixture = await identityCenterOn((await sharedMoto()).endpoint);
    permissionSetArn = await ensurePermissionSet(fixture, PERMISSION_SET);
  });
  after(async () => {
    destroyFixture(fixture);
    await h?.stop();
  });

  const request = (email: string, name: keyof typeof ACCOUNTS, duration: string) =>
    h.request(email, { provider: 'aws', resource: name, level: 'admin', reason: 'on call', duration });

  it('assigns the permission set on the account while active, and the assignment is gone after expiry', async () => {
    const { email, userId } = await newIdentityStoreUser(fixture, 'expiry');
    const created = await request(email, 'expiry', '3s');
    await h.act(BOB, created.id, 'approve');
    const active = await h.waitFor(email, created.id, ['active']);
    assert.deepEqual(await assignmentsOf(fixture, userId), [`${ACCOUNTS.expiry}:${permissionSetArn}`]);
    assert.equal(Date.parse(active.expiresAt!) - Date.parse(active.activeAt!), 3000);

    const expired = await h.waitFor(email, created.id, ['expired']);
    assert.ok(Date.parse(expired.endedAt!) >= Date.parse(active.expiresAt!));
    assert.deepEqual(await assignmentsOf(fixture, userId), []);
    const events = await h.requests.events(created.id);
    assert.deepEqual(
      events.map((event) => event.type),
      ['requested', 'approved', 'provisioning', 'granted', 'active', 'expired'],
    );
  });

  it('keeps the assignment while an overlapping request still holds it, and removes it after the last', async () => {
    const { email, userId } = await newIdentityStoreUser(fixture, 'overlap');
    const assigned = [`${ACCOUNTS.overlap}:${permissionSetArn}`];
    const first = await request(email, 'overlap', '10m');
    await h.act(BOB, first.id, 'approve');
    await h.waitFor(email, first.id, ['active']);
    const second = await request(email, 'overlap', '10m');
    await h.act(BOB, second.id, 'approve');
    await h.waitFor(email, second.id, ['active']);
    assert.deepEqual(await assignmentsOf(fixture, userId), assigned, 'one assignment, not one per request');

    const firstEnded = await h.act(email, first.id, 'relinquish');
    assert.equal(firstEnded.body.request.status, 'relinquished');
    assert.deepEqual(await assignmentsOf(fixture, userId), assigned, 'the second request still grants it');
    assert.equal((await h.waitFor(email, second.id, ['active'])).status, 'active');

    const secondEnded = await h.act(email, second.id, 'relinquish');
    assert.equal(secondEnded.body.request.status, 'relinquished');
    assert.deepEqual(await assignmentsOf(fixture, userId), []);
  });

  it('never removes an assignment the user had before the request', async () => {
    const { email, userId } = await newIdentityStoreUser(fixture, 'standing');
    await assignDirectly(fixture, userId, permissionSetArn, ACCOUNTS.standing);
    const created = await request(email, 'standing', '2s');
    await h.act(BOB, created.id, 'approve');
    await h.waitFor(email, created.id, ['active']);
    assert.deepEqual(await assignmentsOf(fixture, userId), [`${ACCOUNTS.standing}:${permissionSetArn}`], 'not assigned a second time');
    await h.waitFor(email, created.id, ['expired']);
    assert.deepEqual(await assignmentsOf(fixture, userId), [`${ACCOUNTS.standing}:${permissionSetArn}`]);
  });

  it('fails cleanly for a permission set that does not exist, leaving nothing assigned', async () => {
    const { email, userId } = await newIdentityStoreUser(fixture, 'missing');
    const created = await request(email, 'missing', '1m');
    await h.act(BOB, created.id, 'approve');
    const failed = await h.waitFor(email, created.id, ['failed']);
    assert.match(failed.error!, /NoSuchPermissionSet/);
    assert.deepEqual(await assignmentsOf(fixture, userId), []);
  });

  it('fails cleanly when the requester has no Identity Store user', async () => {
    const email = `no-identity-store-user-${process.pid}@example.com`;
    const created = await request(email, 'noUser', '1m');
    await h.act(BOB, created.id, 'approve');
    const failed = await h.waitFor(email, created.id, ['failed']);
    assert.match(failed.error!, new RegExp(email.replace(/[.]/g, '\\.')));
  });
});
