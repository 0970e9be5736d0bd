/**
 * Revoke removes what was granted: the IAM user resolved at grant time is recorded with the lease,
 * and the removal, every read-back and the reconciler use it, never the email tag again. A user
 * that vanished is an alert, not a clean removal. A role grant's end also denies the requester's
 * earlier role sessions. End to end: real API, worker, Temporal dev server and moto.
 */
import assert from 'node:assert/strict';
import { DeleteUserCommand, GetRolePolicyCommand, RemoveUserFromGroupCommand, TagUserCommand, UntagUserCommand } from '@aws-sdk/client-iam';
import { register } from 'prom-client';
import { revokedSessionsPolicyName } from '../providers/aws/roleGrantPolicy';
import { Harness } from './support/harness';
import { addToGroup, ensureCatalogObjects, holdings, newRequester } from './support/iam';
import { createIamUser } from './support/moto';
import { startWorkerProcess, type WorkerProcess } from './support/workerProcess';

const BOB = 'bob@example.com'; // approver (sre)
const ADMIN = 'sec@example.com';

async function activeGroupGrant(h: Harness, email: string, timeoutMs = 30_000) {
  const created = await h.request(email, { provider: 'aws', kind: 'group', target: 'Developers', reason: 'principal test', duration: '10m' });
  assert.equal((await h.act(BOB, created.id, 'approve')).status, 200);
  return h.waitFor(email, created.id, ['active'], timeoutMs);
}

async function endEvent(h: Harness, requestId: string) {
  const events = await h.requests.events(requestId);
  return events.at(-1)!;
}

async function principalAlerts(): Promise<number> {
  const metric = await register.getSingleMetric('p0_principal_alerts_total')?.get();
  return metric?.values.filter((value) => value.labels.provider === 'aws' && value.labels.operation === 'revoke').reduce((sum, value) => sum + value.value, 0) ?? 0;
}

describe('recorded principal, with a worker that has nothing cached (restarted while access is active)', function () {
  this.timeout(300_000);
  let h: Harness;
  let worker: WorkerProcess | undefined;

  before(async () => {
    h = await Harness.start(undefined, { withWorker: false });
    await ensureCatalogObjects(h.iam);
  });
  after(async () => {
    await worker?.kill();
    await h?.stop();
  });

  it('removes exactly the recorded user\'s grants after tag changes, and the reconciler reads by the recorded user', async () => {
    worker = await startWorkerProcess(h);
    // A removes their own email tag while active.
    const untagged = await newRequester(h.iam, 'untagged');
    const untaggedRequest = await activeGroupGrant(h, untagged.email, 60_000);
    await h.iam.send(new UntagUserCommand({ UserName: untagged.userName, TagKeys: ['email'] }));
    // B's email ends up on a second user too, one that is in the group on its own account.
    const shared = await newRequester(h.iam, 'shared');
    const sharedRequest = await activeGroupGrant(h, shared.email);
    const impostor = await createIamUser(h.iam, `other-${shared.email}`, { tag: false });
    await h.iam.send(new TagUserCommand({ UserName: impostor, Tags: [{ Key: 'email', Value: shared.email }] }));
    await addToGroup(h.iam, impostor, 'Developers');
    // C's request ended; the membership came back (a late retried grant) and C removed their tag.
    const ended = await newRequester(h.iam, 'ended');
    const endedRequest = await activeGroupGrant(h, ended.email);
    assert.equal((await h.act(ended.email, endedRequest.id, 'relinquish')).status, 200);
    await h.waitFor(ended.email, endedRequest.id, ['relinquished']);
    await addToGroup(h.iam, ended.userName, 'Developers');
    await h.iam.send(new UntagUserCommand({ UserName: ended.userName, TagKeys: ['email'] }));

    // A new worker: every look-up it would make is fresh, as hours later in production.
    await worker.kill('SIGKILL');
    worker = await startWorkerProcess(h);

    const dryRun = await h.reconcile({ dryRun: true });
    assert.ok(dryRun.orphans.some((orphan) => orphan.requestId === endedRequest.id), `the ended grant is found by its recorded user: ${JSON.stringify(dryRun)}`);
    assert.deepEqual(
      dryRun.missing.filter((missing) => [untaggedRequest.id, sharedRequest.id].includes(missing.requestId)),
      [],
      'active grants read back at their recorded users are not missing',
    );
    const run = await h.reconcile();
    assert.equal(run.orphans.find((orphan) => orphan.requestId === endedRequest.id)?.action, 'revoked', JSON.stringify(run));
    assert.deepEqual((await holdings(h.iam, ended.userName)).groups, []);

    const relinquished = await h.act(untagged.email, untaggedRequest.id, 'relinquish');
    assert.equal(relinquished.status, 200, JSON.stringify(relinquished.body));
    assert.equal((await h.waitFor(untagged.email, untaggedRequest.id, ['relinquished'])).status, 'relinquished');
    assert.deepEqual((await holdings(h.iam, untagged.userName)).groups, [], 'IAM no longer lists the membership');
    assert.equal((await endEvent(h, untaggedRequest.id)).details?.removedAtProvider, true);

    const revoked = await h.act(ADMIN, sharedRequest.id, 'revoke', 'end it');
    assert.equal(revoked.status, 200, JSON.stringify(revoked.body));
    assert.equal((await h.waitFor(shared.email, sharedRequest.id, ['revoked'])).status, 'revoked');
    assert.deepEqual((await holdings(h.iam, shared.userName)).groups, []);
    assert.deepEqual((await holdings(h.iam, impostor)).groups, ['Developers'], 'the other user tagged with the email is not touched');
    assert.equal((await endEvent(h, sharedRequest.id)).details?.removedAtProvider, true);
  });
});

describe('recorded principal that vanished, and role sessions at the end of a request', function () {
  this.timeout(120_000);
  let h: Harness;

  before(async () => {
    h = await Harness.start();
    await ensureCatalogObjects(h.iam);
  });
  after(() => h?.stop());

  it('a recorded user deleted while active is an alert, not a clean removal, and the reconciler reports it', async () => {
    const { email, userName } = await newRequester(h.iam, 'deleted');
    const request = await activeGroupGrant(h, email);
    // Deprovisioned by hand: IAM deletes a user only once it holds nothing.
    await h.iam.send(new RemoveUserFromGroupCommand({ UserName: userName, GroupName: 'Developers' }));
    await h.iam.send(new DeleteUserCommand({ UserName: userName }));
    const alertsBefore = await principalAlerts();

    const relinquished = await h.act(email, request.id, 'relinquish');
    assert.equal(relinquished.status, 200, JSON.stringify(relinquished.body));
    const view = await h.waitFor(email, request.id, ['relinquished']);
    assert.equal(view.status, 'relinquished');
    const event = await endEvent(h, request.id);
    assert.equal(event.type, 'relinquished');
    assert.equal(event.details?.removedAtProvider, false, JSON.stringify(event));
    assert.equal(event.details?.alert, 'removal_unconfirmed');
    assert.match(String(event.details?.removal), new RegExp(`removal unconfirmed: The IAM user ${userName} .*no longer exists`));
    assert.equal(await principalAlerts(), alertsBefore + 1, 'p0_principal_alerts_total counts it');

    const run = await h.reconcile({ dryRun: true });
    assert.ok(
      run.errors.some((error) => error.message.includes(request.id) && error.message.includes('never confirmed')),
      `the reconciler reports it: ${JSON.stringify(run.errors)}`,
    );
  });

  it('a role grant\'s end denies the requester\'s role sessions issued before it', async () => {
    const { email } = await newRequester(h.iam, 'sessions');
    const created = await h.request(email, { provider: 'aws', kind: 'role', target: 'AdminRole', reason: 'deploy', duration: '10m' });
    await h.act(BOB, created.id, 'approve');
    await h.waitFor(email, created.id, ['active']);
    const relinquished = await h.act(email, created.id, 'relinquish');
    assert.equal(relinquished.body.request.status, 'relinquished');
    const endedAt = Date.parse(relinquished.body.request.endedAt!);

    const { PolicyDocument } = await h.iam.send(new GetRolePolicyCommand({ RoleName: 'AdminRole', PolicyName: revokedSessionsPolicyName(email) }));
    const statements = (JSON.parse(decodeURIComponent(PolicyDocument!)) as { Statement: Array<{ Effect: string; Condition: { StringEquals: Record<string, string>; DateLessThan: Record<string, string> } }> }).Statement;
    const ours = statements.find((statement) => statement.Condition.StringEquals?.['aws:SourceIdentity'] === email);
    assert.ok(ours, JSON.stringify(statements));
    assert.equal(ours.Effect, 'Deny');
    const issuedBefore = Date.parse(ours.Condition.DateLessThan['aws:TokenIssueTime']!);
    assert.ok(issuedBefore <= endedAt && issuedBefore > endedAt - 30_000, `sessions issued before ${ours.Condition.DateLessThan['aws:TokenIssueTime']} denied; ended ${relinquished.body.request.endedAt}`);
  });
});
