/**
 * The activities' side of the recorded principal, with a real IAM provider on moto and a real grant
 * lease store on SQLite: the principal comes from the lease, never from the workflow's input, and a
 * removal that cannot be confirmed comes back as such instead of a success or an endless retry.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { CreateGroupCommand, RemoveUserFromGroupCommand, TagUserCommand, type IAMClient } from '@aws-sdk/client-iam';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import type { Knex } from 'knex';
import { register } from 'prom-client';
import { createActivities, type GrantLeases } from '../activities';
import type { GrantEvidence } from '../activities/grantAuthority';
import { createReconcileActivities } from '../activities/reconcile';
import { openDatabase } from '../db/database';
import { GrantLeaseStore } from '../db/grantLeaseStore';
import { AwsIamProvider } from '../providers/aws/iamProvider';
import type { GrantSpec } from '../providers/provider';
import { LivePolicy } from '../service/livePolicy';
import { MessageSigner, SIGNED_MESSAGE } from '../service/messageSigning';
import type { AccessRequestInput } from '../workflows/types';
import { addToGroup, holdings } from './support/iam';
import { createIamUser, iamClientFor, MOTO_AWS_SETTINGS, type RunningMoto, startMoto } from './support/moto';

const SETTINGS = MOTO_AWS_SETTINGS;

/** The policy and signing key of this test's worker: provision grants only what they back. */
const POLICY = LivePolicy.fromText(
  `
approvers:
  oncall: [approver@example.com]
catalog:
  aws:
    - resource: default
      levels:
        - { level: dev, kind: group, target: Developers, approvers: [oncall] }
`,
  'test.yaml',
).current();
const SIGNER = new MessageSigner(randomBytes(32));

/** What the request service would have signed for `spec`: an auto-approved request for it. */
function evidenceFor(spec: GrantSpec): GrantEvidence {
  const input: AccessRequestInput = {
    id: spec.requestId,
    requester: spec.principal,
    provider: 'aws',
    resource: 'default',
    level: 'dev',
    kind: 'group',
    target: 'Developers',
    scope: {},
    reason: 'test',
    duration: '1h',
    durationSeconds: 3600,
    approvers: ['approver@example.com'],
    approvalsRequired: 1,
    allowSelfApproval: false,
    breakGlass: false,
    autoApprovedBy: 'oncall',
    extension: { allowed: false, minSeconds: 60, maxSeconds: 3600 },
    policyVersion: POLICY.version,
    approvalTimeoutSeconds: 600,
    verifyTimeoutSeconds: 60,
    createdAt: new Date().toISOString(),
  };
  return { input: SIGNER.signMessage(SIGNED_MESSAGE.request, input.id, input), approvals: [] };
}

let sequence = 0;
function groupSpec(email: string): GrantSpec {
  sequence += 1;
  return { requestId: `req_ACT${sequence}`, provider: 'aws', resource: 'default', scope: {}, kind: 'group', target: 'Developers', principal: email, notAfter: '2030-01-01T00:00:00.000Z' };
}

async function principalAlerts(operation: string): Promise<number> {
  const metric = await register.getSingleMetric('p0_principal_alerts_total')?.get();
  return metric?.values.find((value) => value.labels.provider === 'aws' && value.labels.operation === operation)?.value ?? 0;
}

describe('activities with recorded principals (moto, SQLite)', function () {
  this.timeout(60_000);
  let moto: RunningMoto;
  let iam: IAMClient;
  let dir: string;
  let database: Knex;
  let leases: GrantLeaseStore;

  /** The activities of one worker: its own provider, so nothing is cached from another one's calls. */
  function workerActivities(leaseStore: GrantLeases = leases) {
    const provider = new AwsIamProvider({ iam, settings: SETTINGS });
    return createActivities({
      providers: new Map([['aws', provider]]),
      requests: { recordEvent: () => Promise.resolve(), get: () => Promise.resolve(undefined) },
      leases: leaseStore,
      signing: SIGNER,
      policy: () => POLICY,
    });
  }

  /** Runs one activity of a fresh worker in an activity context (heartbeats, sleeps), as `spec`'s workflow would. */
  function inActivity<R>(
    spec: GrantSpec,
    call: (activities: ReturnType<typeof workerActivities>) => Promise<R>,
    options: { runId?: string; leases?: GrantLeases } = {},
  ): Promise<R> {
    const activities = workerActivities(options.leases);
    const environment = new MockActivityEnvironment({ workflowExecution: { workflowId: spec.requestId, runId: options.runId ?? 'run-1' } });
    return environment.run<[], R, () => Promise<R>>(() => call(activities));
  }

  before(async () => {
    moto = await startMoto();
    iam = iamClientFor(moto.endpoint);
    await iam.send(new CreateGroupCommand({ GroupName: 'Developers' }));
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'p0-principal-'));
    database = await openDatabase({ sqlitePath: path.join(dir, 'p0.sqlite') });
    leases = new GrantLeaseStore(database);
  });
  after(async () => {
    await database?.destroy();
    iam?.destroy();
    await moto?.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('records the principal with the lease, and ignores one the workflow\'s input claims', async () => {
    const alice = 'alice-act@example.com';
    const aliceUser = await createIamUser(iam, alice);
    const mallory = await createIamUser(iam, 'mallory-act@example.com', { tag: false });
    await addToGroup(iam, mallory, 'Developers');
    const malloryRef = (await new AwsIamProvider({ iam, settings: SETTINGS }).inspect(groupSpec('mallory-act@example.com'))).principal;
    // Anyone who reaches the namespace can start a workflow with a spec of their choosing.
    const forged = { ...groupSpec(alice), recordedPrincipal: malloryRef };
    await inActivity(forged, (activities) => activities.provision(forged, evidenceFor(forged)));
    assert.equal((await leases.recordedPrincipal(forged.requestId))?.userName, aliceUser);
    assert.deepEqual((await holdings(iam, aliceUser)).groups, ['Developers']);

    const result = await inActivity(forged, (activities) => activities.revoke(forged));
    assert.equal(result.removedAtProvider, true);
    assert.deepEqual((await holdings(iam, aliceUser)).groups, []);
    assert.deepEqual((await holdings(iam, mallory)).groups, ['Developers'], 'the user the input named is never touched');
  });

  it('provisions again only in the run that made the grant: another run of the same workflow is refused, even one overlapping it', async () => {
    const email = 'rerun-act@example.com';
    const userName = await createIamUser(iam, email);
    const spec = groupSpec(email);
    await inActivity(spec, (activities) => activities.provision(spec, evidenceFor(spec)), { runId: 'run-first' });
    assert.equal(await leases.grantedInRun(spec.requestId), 'run-first');
    // A retry, a re-provision, a backstop renewal: the same run.
    await inActivity(spec, (activities) => activities.provision(spec, evidenceFor(spec)), { runId: 'run-first' });
    await iam.send(new RemoveUserFromGroupCommand({ UserName: userName, GroupName: 'Developers' }));

    const refused = (error: unknown) =>
      error instanceof ApplicationFailure && error.type === 'UntrustedInput' && /first granted in another run of its workflow \(run-first\), not this one \(run-again\)/.test(error.message);
    await assert.rejects(inActivity(spec, (activities) => activities.provision(spec, evidenceFor(spec)), { runId: 'run-again' }), refused);
    // Started while the first run's lease was not yet recorded: refused at the lease, before the grant.
    const notYetRecorded: GrantLeases = Object.assign(Object.create(leases) as GrantLeases, { grantedInRun: () => Promise.resolve(undefined) });
    await assert.rejects(inActivity(spec, (activities) => activities.provision(spec, evidenceFor(spec)), { runId: 'run-again', leases: notYetRecorded }), refused);
    assert.deepEqual((await holdings(iam, userName)).groups, [], 'nothing granted to the other run');
  });

  it('the reconciler removes an orphan from the principal its lease recorded, whatever the workflow passes along', async () => {
    const email = 'orphan-act@example.com';
    const userName = await createIamUser(iam, email);
    const bystander = await createIamUser(iam, 'bystander-act@example.com', { tag: false });
    await addToGroup(iam, bystander, 'Developers');
    const spec = groupSpec(email);
    await inActivity(spec, (activities) => activities.provision(spec, evidenceFor(spec)));
    await leases.release(spec.requestId);
    // The orphan travels through the reconcile workflow's history: its principal is not to be trusted.
    const bystanderRef = (await new AwsIamProvider({ iam, settings: SETTINGS }).inspect(groupSpec('bystander-act@example.com'))).principal;
    const forged = { ...spec, recordedPrincipal: bystanderRef };
    const reconcile = createReconcileActivities({
      providers: new Map([['aws', new AwsIamProvider({ iam, settings: SETTINGS })]]),
      requests: { get: () => Promise.resolve(undefined) },
      leases,
      events: { record: () => Promise.resolve() },
      settings: () => ({ orphans: 'revoke', lookbackMs: 60_000 }),
    });
    const action = await new MockActivityEnvironment().run<[], string, () => Promise<string>>(() =>
      reconcile.settleOrphan({ orphan: { provider: 'aws', requestId: spec.requestId, requestStatus: 'unknown', description: 'test orphan', spec: forged }, runId: 'run-act', policy: 'revoke' }),
    );
    assert.equal(action, 'revoked');
    assert.deepEqual((await holdings(iam, userName)).groups, []);
    assert.deepEqual((await holdings(iam, bystander)).groups, ['Developers'], 'the user the payload named is never touched');
  });

  it('a grant recorded without a principal whose look-up turns ambiguous: revoke and verifyRevocation report it unconfirmed', async () => {
    const email = 'legacy-act@example.com';
    const userName = await createIamUser(iam, email);
    const spec = groupSpec(email);
    const provider = new AwsIamProvider({ iam, settings: SETTINGS });
    // As before principals were recorded: a lease without one.
    const { resourceKey } = await provider.inspect(spec);
    await leases.acquire({ requestId: spec.requestId, resourceKey, presentBefore: false, spec });
    await provider.grant(spec);
    // Removed while the look-up still names one user...
    assert.equal((await inActivity(spec, (activities) => activities.revoke(spec))).removedAtProvider, true);
    assert.deepEqual((await holdings(iam, userName)).groups, []);
    // ...then a second user is tagged with the email before the removal is verified.
    const other = await createIamUser(iam, `other-${email}`, { tag: false });
    await iam.send(new TagUserCommand({ UserName: other, Tags: [{ Key: 'email', Value: email }] }));
    const alertsBefore = await principalAlerts('verifyRevocation');
    const verified = await inActivity(spec, (activities) => activities.verifyRevocation(spec));
    assert.equal(verified.confirmed, false);
    assert.equal(verified.alert, 'removal_unconfirmed');
    assert.match(verified.reason!, /Several IAM users are tagged/);
    assert.equal(await principalAlerts('verifyRevocation'), alertsBefore + 1);

    // A second legacy grant of the same email: its revoke is an alert, not a retry forever.
    const second = groupSpec(email);
    await leases.acquire({ requestId: second.requestId, resourceKey: `${resourceKey}#2`, presentBefore: false, spec: second });
    const revoked = await inActivity(second, (activities) => activities.revoke(second));
    assert.deepEqual({ removedAtProvider: revoked.removedAtProvider, alert: revoked.alert }, { removedAtProvider: false, alert: 'removal_unconfirmed' });
    assert.match(revoked.reason, /^removal unconfirmed: Several IAM users are tagged/);
  });
});
