/**
 * The orphan reconciler against moto: grants left behind (by hand, by a lost reply, by a user whose
 * email tag went away mid-grant) are found and removed or reported; an active grant removed behind
 * the product's back is provisioned again by its own workflow; and the Temporal Schedule runs it.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { DeleteUserPolicyCommand, PutUserPolicyCommand, UntagUserCommand } from '@aws-sdk/client-iam';
import { Client, Connection, WorkflowNotFoundError } from '@temporalio/client';
import { MockActivityEnvironment } from '@temporalio/testing';
import { register } from 'prom-client';
import { createReconcileActivities, type DriftReport, type RequestWorkflows, type RunState } from '../activities/reconcile';
import type { RecordedGrant } from '../db/grantLeaseStore';
import type { GrantSpec, Provider } from '../providers/provider';
import { reconcileScheduleId } from '../service/reconcileService';
import type { RequestStatus, RequestView } from '../shared/request';
import { assertApiError } from './support/apiErrors';
import { BASE_TEST_CONFIG, Harness } from './support/harness';
import { addToGroup, ensureCatalogObjects, holdings, newRequester } from './support/iam';

const BOB = 'bob@example.com'; // approver (sre)
const READ_ONLY_ACCESS = 'arn:aws:iam::aws:policy/ReadOnlyAccess';
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

/** Until Temporal answers "not found" for the workflow (deletion runs in the background). */
async function waitForNotFound(temporal: Client, workflowId: string): Promise<void> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    try {
      await temporal.workflow.getHandle(workflowId).describe();
    } catch (error) {
      if (error instanceof WorkflowNotFoundError) return;
      throw error;
    }
    if (Date.now() > deadline) throw new Error(`${workflowId} was not deleted in 15 s`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

describe('orphan reconciler', function () {
  this.timeout(120_000);
  let h: Harness;
  let connection: Connection;
  let temporal: Client;

  before(async () => {
    h = await Harness.start();
    await ensureCatalogObjects(h.iam);
    connection = await Connection.connect({ address: h.temporalAddress });
    temporal = new Client({ connection });
  });
  after(async () => {
    await connection?.close();
    await h?.stop();
  });

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

  it('removes the grants of active requests whose workflows were terminated (their rows still say active), and records why', async () => {
    const { email, userName } = await newRequester(h.iam);
    const group = await activeGrant(h, email, { kind: 'group', target: 'Developers' });
    const role = await activeGrant(h, email, { kind: 'role', target: 'AdminRole' });
    const policy = await activeGrant(h, email, { kind: 'policy', target: 'ReadOnlyAccess' });
    const running = await newRequester(h.iam, 'running');
    const stillRunning = await activeGrant(h, running.email, { kind: 'group', target: 'Developers' });
    // As anyone who reaches the namespace could: no removal runs, the rows stay `active`.
    for (const id of [group.id, role.id]) await temporal.workflow.getHandle(id).terminate('skip the removal');
    // Deleted outright (or dropped by retention): Temporal no longer knows the workflow at all.
    await temporal.workflowService.deleteWorkflowExecution({ namespace: temporal.options.namespace, workflowExecution: { workflowId: policy.id } });
    await waitForNotFound(temporal, policy.id);
    assert.deepEqual(await holdings(h.iam, userName), { inlinePolicies: [`p0-${role.id}`], attachedPolicies: [READ_ONLY_ACCESS], groups: ['Developers'] });
    assert.equal((await h.requests.get(group.id))?.status, 'active');

    const abandoned = { [group.id]: 'terminated', [role.id]: 'terminated', [policy.id]: 'not found' };
    const dryRun = await h.reconcile({ dryRun: true });
    assert.deepEqual(
      dryRun.orphans.filter((orphan) => orphan.requestId in abandoned).map((orphan) => orphan.action),
      ['would revoke', 'would revoke', 'would revoke'],
      JSON.stringify(dryRun),
    );
    const run = await h.reconcile();
    for (const [id, closedAs] of Object.entries(abandoned)) {
      const orphan = run.orphans.find((candidate) => candidate.requestId === id);
      assert.equal(orphan?.action, 'revoked', JSON.stringify(run));
      assert.match(orphan.description, new RegExp(`its workflow is ${closedAs} while the request reads active`));
      const [event] = await h.reconcileEvents.list({ requestId: id });
      assert.deepEqual([event?.finding, event?.action], ['orphan', 'revoked']);
      assert.match(event!.description, new RegExp(`its workflow is ${closedAs} while the request reads active`));
    }
    assert.deepEqual(await holdings(h.iam, userName), { inlinePolicies: [], attachedPolicies: [], groups: [] });
    // A request whose workflow runs is never an orphan, and keeps its access.
    assert.ok(!run.orphans.some((orphan) => orphan.requestId === stillRunning.id), JSON.stringify(run));
    assert.deepEqual((await holdings(h.iam, running.userName)).groups, ['Developers']);

    // Settled: the next run finds nothing more to do for them.
    const again = await h.reconcile();
    assert.deepEqual(again.orphans.filter((orphan) => orphan.requestId in abandoned), [], JSON.stringify(again));
    assert.deepEqual(again.errors, []);
    assert.equal((await h.act(running.email, stillRunning.id, 'relinquish')).status, 200);
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
    assertApiError(refused, 'forbidden');
    const bad = await h.call<{ error: { code: string; message: string } }>('sec@example.com', 'POST', '/v1/reconcile', { dryRun: 'yes' });
    // sec@example.com is an admin in the config.
    assertApiError(bad, 'bad_request');
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

/**
 * The reconciler's question to Temporal alone, with every other party faked: a request not recorded
 * as ended is an orphan only when the run that made its grant is closed, and a Temporal that does not
 * answer is "cannot check", never an orphan.
 */
describe('orphan reconciler asking Temporal about a request not recorded as ended', () => {
  const REQUEST = 'req_01JFAKEREQUEST0000000000000';
  const RUN = 'run-that-granted';
  const spec: GrantSpec = { requestId: REQUEST, provider: 'aws', resource: 'default', scope: {}, kind: 'group', target: 'Developers', principal: 'alice@example.com', notAfter: '2030-01-01T00:00:00.000Z' };

  /** One held lease, its request's row reading `statuses` in turn, and Temporal answering `runState`. */
  function world(options: { statuses: RequestStatus[]; runState: RequestWorkflows['runState']; granted?: boolean }) {
    const calls = { runState: [] as Array<[string, string | undefined]>, released: [] as string[], revoked: 0, confirmed: 0 };
    let granted = options.granted ?? true;
    const statuses = [...options.statuses];
    const provider: Provider = {
      name: 'aws',
      propagation: { consecutiveReads: 1, pollIntervalMs: 1, settleDelayMs: 0 },
      inspect: () => Promise.reject(new Error('not used')),
      grant: () => Promise.resolve(),
      revoke: () => {
        calls.revoked += 1;
        granted = false;
        return Promise.resolve();
      },
      isGranted: () => Promise.resolve(granted),
      listMarked: () => Promise.resolve([]),
      removeMarked: () => Promise.resolve(),
    };
    const lease: RecordedGrant = { requestId: REQUEST, resourceKey: 'aws:user/alice:group/Developers', standing: false, released: false, removeAtProvider: false, removed: false, spec, runId: RUN };
    const activities = createReconcileActivities({
      providers: new Map([['aws', provider]]),
      requests: { get: () => Promise.resolve({ status: statuses.length > 1 ? statuses.shift()! : statuses[0]! } as RequestView) },
      leases: {
        recordedGrants: () => Promise.resolve([lease]),
        isHeld: () => Promise.resolve(false),
        recordedPrincipal: () => Promise.resolve(undefined),
        release: (id) => {
          calls.released.push(id);
          return Promise.resolve({ removeAtProvider: true, reason: 'no other request holds this access' });
        },
        confirmRemoved: () => {
          calls.confirmed += 1;
          return Promise.resolve({ heldBy: [] });
        },
      },
      events: { record: () => Promise.resolve() },
      settings: () => ({ orphans: 'revoke', lookbackMs: 60_000 }),
      workflows: {
        runState: (requestId, runId) => {
          calls.runState.push([requestId, runId]);
          return options.runState(requestId, runId);
        },
      },
    });
    const inActivity = <R>(call: () => Promise<R>) => new MockActivityEnvironment().run<[], R, () => Promise<R>>(call);
    return { activities, calls, inActivity, isGranted: () => granted };
  }

  const running = (): Promise<RunState> => Promise.resolve({ running: true });
  const terminated = (): Promise<RunState> => Promise.resolve({ running: false, closedAs: 'terminated' });

  it('never takes a grant whose run still runs for an orphan, and asks about the run that made it', async () => {
    const { activities, calls, inActivity } = world({ statuses: ['active'], runState: running });
    const drift: DriftReport = await inActivity(() => activities.findDrift());
    assert.deepEqual([drift.orphans, drift.missing, drift.errors], [[], [], []]);
    assert.deepEqual(calls.runState, [[REQUEST, RUN]]);
  });

  it('reports "cannot check" when Temporal does not answer, and takes nothing for an orphan', async () => {
    const { activities, inActivity } = world({ statuses: ['active'], runState: () => Promise.reject(new Error('14 UNAVAILABLE: connection refused')) });
    const drift = await inActivity(() => activities.findDrift());
    assert.deepEqual([drift.orphans, drift.missing], [[], []]);
    assert.equal(drift.errors.length, 1);
    assert.match(drift.errors[0]!.message, new RegExp(`request ${REQUEST}: cannot check whether its workflow still runs \\(Temporal did not answer: 14 UNAVAILABLE`));
  });

  it('reads the request again once its run is found closed: one that ended meanwhile is no orphan', async () => {
    const { activities, inActivity } = world({ statuses: ['active', 'expired'], runState: terminated, granted: false });
    const drift = await inActivity(() => activities.findDrift());
    assert.deepEqual([drift.orphans, drift.missing, drift.errors], [[], [], []]);
  });

  it('takes a grant whose run closed while its request reads active for an orphan; removing it releases the lease', async () => {
    const { activities, calls, inActivity, isGranted } = world({ statuses: ['active'], runState: terminated });
    const drift = await inActivity(() => activities.findDrift());
    assert.equal(drift.orphans.length, 1, JSON.stringify(drift));
    const [orphan] = drift.orphans;
    assert.equal(orphan!.abandoned, true);
    assert.match(orphan!.description, /group Developers for alice@example.com: its workflow is terminated while the request reads active/);

    assert.equal(await inActivity(() => activities.settleOrphan({ orphan: orphan!, runId: 'run-test', policy: 'report' })), 'reported');
    assert.deepEqual([calls.released, calls.revoked, isGranted()], [[], 0, true], 'reported: left in place, lease and all');
    assert.equal(await inActivity(() => activities.settleOrphan({ orphan: orphan!, runId: 'run-test', policy: 'revoke' })), 'revoked');
    assert.deepEqual([calls.released, calls.revoked, calls.confirmed, isGranted()], [[REQUEST], 1, 1, false]);
  });
});
