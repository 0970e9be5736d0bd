/**
 * The orphan reconciler against moto: grants left behind (by hand, by a lost reply, by a user whose
 * email tag went away mid-grant) are found and removed or reported; an active grant removed behind
 * the product's back is provisioned again by its own workflow; and the Temporal Schedule runs it.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { DeleteUserPolicyCommand, PutUserPolicyCommand, UntagUserCommand } from '@aws-sdk/client-iam';
import { Client, Connection } from '@temporalio/client';
import { register } from 'prom-client';
import { reconcileScheduleId } from '../service/reconcileService';
import { BASE_TEST_CONFIG, Harness } from './support/harness';
import { addToGroup, ensureCatalogObjects, holdings, newRequester } from './support/iam';

const BOB = 'bob@example.com'; // approver (sre)
const ALLOW_NOTHING = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Deny', Action: 'iam:Nothing', Resource: '*' }] });

/** The p0_orphans_found_total counter (the in-process worker shares this registry). */
async function orphansCounted(provider: string, action: string): Promise<number> {
  const metric = await register.getSingleMetric('p0_orphans_found_total')?.get();
  return metric?.values.find((value) => value.labels.provider === provider && value.labels.action === action)?.value ?? 0;
}

async function activeGrant(h: Harness, email: string, target: { kind: string; target: string }, duration = '10m') {
  const created = await h.request(email, { provider: 'aws', ...target, reason: 'reconcile test', duration });
  assert.equal((await h.act(BOB, created.id, 'approve')).status, 200);
  return h.waitFor(email, created.id, ['active']);
}

describe('orphan reconciler', function () {
  this.timeout(120_000);
  let h: Harness;

  before(async () => {
    h = await Harness.start();
    await ensureCatalogObjects(h.iam);
  });
  after(() => h?.stop());

  it('finds an inline p0-* policy no request holds; --dry-run changes nothing, a run removes it and records it', async () => {
    const { userName } = await newRequester(h.iam);
    const requestId = `req_ORPHAN${Date.now()}`;
    await h.iam.send(new PutUserPolicyCommand({ UserName: userName, PolicyName: `p0-${requestId}`, PolicyDocument: ALLOW_NOTHING }));
    // Not ours: never touched.
    await h.iam.send(new PutUserPolicyCommand({ UserName: userName, PolicyName: 'team-policy', PolicyDocument: ALLOW_NOTHING }));

    const dryRun = await h.reconcile({ dryRun: true });
    const planned = dryRun.orphans.find((orphan) => orphan.requestId === requestId);
    assert.ok(planned, `dry run did not list the orphan: ${JSON.stringify(dryRun)}`);
    assert.equal(planned.action, 'would revoke');
    assert.deepEqual((await holdings(h.iam, userName)).inlinePolicies, [`p0-${requestId}`, 'team-policy']);
    assert.deepEqual(await h.reconcileEvents.list({ requestId }), [], 'a dry run records nothing');

    const countedBefore = await orphansCounted('aws', 'revoked');
    const run = await h.reconcile();
    assert.equal(run.orphans.find((orphan) => orphan.requestId === requestId)?.action, 'revoked');
    assert.deepEqual((await holdings(h.iam, userName)).inlinePolicies, ['team-policy']);
    assert.ok((await orphansCounted('aws', 'revoked')) > countedBefore, 'p0_orphans_found_total counts it');
    const [event] = await h.reconcileEvents.list({ requestId });
    assert.equal(event?.finding, 'orphan');
    assert.equal(event?.action, 'revoked');
    assert.equal(event?.runId, run.runId);
    assert.match(event.description, new RegExp(`IAM user ${userName}: inline policy p0-${requestId}`));
  });

  it('removes a group membership that came back after its request ended, but never standing access or an active grant', async () => {
    const ended = await newRequester(h.iam);
    const request = await activeGrant(h, ended.email, { kind: 'group', target: 'Developers' });
    assert.equal((await h.act(ended.email, request.id, 'relinquish')).status, 200);
    await h.waitFor(ended.email, request.id, ['relinquished']);
    // As if a grant call retried after a lost reply landed after the removal.
    await addToGroup(h.iam, ended.userName, 'Developers');

    const standing = await newRequester(h.iam, 'standing');
    await addToGroup(h.iam, standing.userName, 'Developers');
    const standingRequest = await activeGrant(h, standing.email, { kind: 'group', target: 'Developers' });
    const active = await newRequester(h.iam, 'active');
    const activeRequest = await activeGrant(h, active.email, { kind: 'group', target: 'Developers' });

    const run = await h.reconcile();
    const orphanIds = run.orphans.map((orphan) => orphan.requestId);
    assert.ok(orphanIds.includes(request.id), JSON.stringify(run));
    assert.ok(!orphanIds.includes(standingRequest.id) && !orphanIds.includes(activeRequest.id), JSON.stringify(run));
    assert.deepEqual((await holdings(h.iam, ended.userName)).groups, []);
    assert.deepEqual((await holdings(h.iam, standing.userName)).groups, ['Developers']);
    assert.deepEqual((await holdings(h.iam, active.userName)).groups, ['Developers']);
    assert.deepEqual(run.missing.filter((missing) => [standingRequest.id, activeRequest.id].includes(missing.requestId)), []);
  });

  it('removes a role grant that reappeared after its request ended (a retried grant landing after the removal)', async () => {
    const { email, userName } = await newRequester(h.iam);
    const request = await activeGrant(h, email, { kind: 'role', target: 'AdminRole' });
    assert.equal((await h.act(email, request.id, 'relinquish')).status, 200);
    await h.waitFor(email, request.id, ['relinquished']);
    await h.iam.send(new PutUserPolicyCommand({ UserName: userName, PolicyName: `p0-${request.id}`, PolicyDocument: ALLOW_NOTHING }));
    // Found by name, not through the email tag: a user whose tag was removed mid-grant is covered too.
    await h.iam.send(new UntagUserCommand({ UserName: userName, TagKeys: ['email'] }));

    const run = await h.reconcile();
    const orphan = run.orphans.find((candidate) => candidate.requestId === request.id);
    assert.equal(orphan?.action, 'revoked', JSON.stringify(run));
    assert.deepEqual((await holdings(h.iam, userName)).inlinePolicies, []);
  });

  it('has the request provision again when an active grant was removed behind its back', async () => {
    const { email, userName } = await newRequester(h.iam);
    const request = await activeGrant(h, email, { kind: 'role', target: 'AdminRole' });
    await h.iam.send(new DeleteUserPolicyCommand({ UserName: userName, PolicyName: `p0-${request.id}` }));

    const dryRun = await h.reconcile({ dryRun: true });
    assert.equal(dryRun.missing.find((missing) => missing.requestId === request.id)?.action, 'would re-provision');
    assert.deepEqual((await holdings(h.iam, userName)).inlinePolicies, []);

    const run = await h.reconcile();
    assert.equal(run.missing.find((missing) => missing.requestId === request.id)?.action, 'reprovision_requested', JSON.stringify(run));
    const deadline = Date.now() + 20_000;
    while ((await holdings(h.iam, userName)).inlinePolicies.length === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 200));
    assert.deepEqual((await holdings(h.iam, userName)).inlinePolicies, [`p0-${request.id}`]);
    const recorded = Date.now() + 10_000;
    let events: string[] = [];
    while (!events.includes('reprovisioned') && Date.now() < recorded) {
      events = (await h.requests.events(request.id)).map((event) => event.type);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.deepEqual(events.slice(2), ['provisioning', 'granted', 'active', 'reprovisioned']);

    // And it still ends, removing the re-provisioned grant.
    assert.equal((await h.act(email, request.id, 'relinquish')).status, 200);
    await h.waitFor(email, request.id, ['relinquished']);
    assert.deepEqual((await holdings(h.iam, userName)).inlinePolicies, []);
  });

  it('only reports an orphan with reconcile.orphans: report', async () => {
    const { userName } = await newRequester(h.iam);
    const requestId = `req_REPORTED${Date.now()}`;
    await h.iam.send(new PutUserPolicyCommand({ UserName: userName, PolicyName: `p0-${requestId}`, PolicyDocument: ALLOW_NOTHING }));
    const run = await h.reconcile({ orphans: 'report' });
    assert.equal(run.orphans.find((orphan) => orphan.requestId === requestId)?.action, 'reported');
    assert.deepEqual((await holdings(h.iam, userName)).inlinePolicies, [`p0-${requestId}`]);
    assert.equal((await h.reconcileEvents.list({ requestId }))[0]?.action, 'reported');
    await h.iam.send(new DeleteUserPolicyCommand({ UserName: userName, PolicyName: `p0-${requestId}` }));
  });

  it('refuses non-admins and bad input with a clear error', async () => {
    const refused = await h.call('carol@example.com', 'POST', '/v1/reconcile', { dryRun: true });
    assert.equal(refused.status, 403);
    const bad = await h.call<{ error: { code: string; message: string } }>('sec@example.com', 'POST', '/v1/reconcile', { dryRun: 'yes' });
    // sec@example.com is an admin in the config.
    assert.equal(bad.status, 400);
    assert.match(bad.body.error.message, /dryRun/);
  });
});

describe('orphan reconciler with reconcile.regrantMissing: false', function () {
  this.timeout(120_000);
  let h: Harness;

  before(async () => {
    h = await Harness.start(`${BASE_TEST_CONFIG}\nreconcile: { regrantMissing: false }\n`);
    await ensureCatalogObjects(h.iam);
  });
  after(() => h?.stop());

  it('reports an active grant removed behind its back, and leaves it removed (for an incident)', async () => {
    const { email, userName } = await newRequester(h.iam);
    const request = await activeGrant(h, email, { kind: 'role', target: 'AdminRole' });
    await h.iam.send(new DeleteUserPolicyCommand({ UserName: userName, PolicyName: `p0-${request.id}` }));

    const dryRun = await h.reconcile({ dryRun: true });
    assert.equal(dryRun.missing.find((missing) => missing.requestId === request.id)?.action, 'would report', JSON.stringify(dryRun));

    const run = await h.reconcile();
    assert.equal(run.missing.find((missing) => missing.requestId === request.id)?.action, 'reported', JSON.stringify(run));
    const [event] = await h.reconcileEvents.list({ requestId: request.id });
    assert.deepEqual([event?.finding, event?.action, event?.runId], ['missing', 'reported', run.runId]);

    // Nothing asked the request to provision again: the grant stays gone, the request active.
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    assert.deepEqual((await holdings(h.iam, userName)).inlinePolicies, []);
    assert.deepEqual((await h.requests.events(request.id)).map((event) => event.type).slice(2), ['provisioning', 'granted', 'active']);
    assert.equal((await h.requests.get(request.id))?.status, 'active');

    assert.equal((await h.act(email, request.id, 'relinquish')).status, 200);
    await h.waitFor(email, request.id, ['relinquished']);
  });
});

describe('reconciler schedule', function () {
  this.timeout(90_000);
  let h: Harness;
  let client: Client;
  let connection: Connection;

  before(async () => {
    h = await Harness.start(`${BASE_TEST_CONFIG}\nreconcile: { every: 2s }\n`, { reconcileSchedule: true });
    await ensureCatalogObjects(h.iam);
    connection = await Connection.connect({ address: h.temporalAddress });
    client = new Client({ connection });
  });
  after(async () => {
    await h?.stop();
    await connection?.close();
  });

  it('is a Temporal Schedule on the worker task queue that removes orphans by itself, and follows config changes', async () => {
    const schedule = await client.schedule.getHandle(reconcileScheduleId(h.taskQueue)).describe();
    assert.equal(schedule.spec.intervals?.[0]?.every, 2000);
    assert.equal(schedule.action.type, 'startWorkflow');
    assert.equal(schedule.action.type === 'startWorkflow' && schedule.action.taskQueue, h.taskQueue);

    const { userName } = await newRequester(h.iam);
    const requestId = `req_SCHEDULED${Date.now()}`;
    await h.iam.send(new PutUserPolicyCommand({ UserName: userName, PolicyName: `p0-${requestId}`, PolicyDocument: ALLOW_NOTHING }));
    const deadline = Date.now() + 30_000;
    while ((await holdings(h.iam, userName)).inlinePolicies.length > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 250));
    assert.deepEqual((await holdings(h.iam, userName)).inlinePolicies, []);
    const [event] = await h.reconcileEvents.list({ requestId });
    assert.match(event!.runId, new RegExp(`^${reconcileScheduleId(h.taskQueue)}`));

    fs.writeFileSync(h.configPath, `${BASE_TEST_CONFIG}\nreconcile: { every: 1h }\n`);
    const changed = Date.now() + 15_000;
    let every: unknown;
    while (Date.now() < changed) {
      every = (await client.schedule.getHandle(reconcileScheduleId(h.taskQueue)).describe()).spec.intervals?.[0]?.every;
      if (every === 3_600_000) break;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    assert.equal(every, 3_600_000);
  });
});
