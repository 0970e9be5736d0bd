/**
 * A `provision` attempt that outlives its request must not grant. Temporal retries an attempt that
 * timed out (or whose worker stopped answering) while the old one may still be running, for instance
 * stuck in a slow account look-up; the workflow goes on with the retry's result, and may already have
 * removed the access and ended when the old attempt reaches the provider. The lease store says when
 * the request's hold on the access ended: provision reads it before granting and again after.
 * Real lease and request stores on SQLite, a recording provider, the activity in Temporal's mock
 * activity environment.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { MockActivityEnvironment } from '@temporalio/testing';
import type { Knex } from 'knex';
import { createActivities } from '../activities';
import { openDatabase } from '../db/database';
import { GrantLeaseStore } from '../db/grantLeaseStore';
import { RequestStore } from '../db/requestStore';
import type { GrantSpec, Provider } from '../providers/provider';
import { LivePolicy } from '../service/livePolicy';
import { MessageSigner, SIGNED_MESSAGE, updatePurpose } from '../service/messageSigning';
import type { DecisionInput } from '../workflows/messages';
import { requestInput } from './support/workflowStubs';

const RUN = 'run-late-grant';
const signer = new MessageSigner(randomBytes(32));
const policy = LivePolicy.fromText(
  `
approvers:
  sre: [bob@example.com]
catalog:
  aws:
    - resource: prod
      account: '123456789012'
      levels:
        - { level: admin, kind: role, target: AdminRole, approvers: [sre] }
`,
  'late-grant.yaml',
).current();

/** A provider that records every grant and removal, and can run a hook in the middle of a grant. */
class RecordingProvider implements Provider {
  readonly name = 'aws';
  readonly propagation = { consecutiveReads: 1, pollIntervalMs: 100, settleDelayMs: 0 };
  readonly calls: string[] = [];
  duringGrant: (() => Promise<void>) | undefined;
  duringInspect: (() => Promise<void>) | undefined;
  async inspect(spec: GrantSpec) {
    await this.duringInspect?.();
    return Promise.resolve({ resourceKey: `aws:${spec.principal}:${spec.target}:${spec.requestId}`, present: false, principal: { id: spec.principal } });
  }
  async grant(spec: GrantSpec) {
    await this.duringGrant?.();
    this.calls.push(`grant ${spec.requestId}`);
  }
  revoke(spec: GrantSpec) {
    this.calls.push(`revoke ${spec.requestId}`);
    return Promise.resolve();
  }
  isGranted() {
    return Promise.resolve(false);
  }
  listMarked() {
    return Promise.resolve([]);
  }
  removeMarked() {
    return Promise.resolve();
  }
}

describe('a provision attempt that outlives its request', () => {
  let directory: string;
  let database: Knex;
  let leases: GrantLeaseStore;
  let provider: RecordingProvider;
  let activities: ReturnType<typeof createActivities>;
  let counter = 0;

  before(async () => {
    directory = fs.mkdtempSync(path.join(os.tmpdir(), 'p0-late-grant-'));
    database = await openDatabase({ sqlitePath: path.join(directory, 'p0.db') });
    leases = new GrantLeaseStore(database);
  });
  after(async () => {
    await database.destroy();
    fs.rmSync(directory, { recursive: true, force: true });
  });
  beforeEach(() => {
    provider = new RecordingProvider();
    activities = createActivities({
      providers: new Map([['aws', provider]]),
      requests: new RequestStore(database),
      leases,
      signing: signer,
      policy: () => policy,
    });
  });

  /** A signed, approved request and the grant its workflow asks for. */
  function approvedRequest() {
    const id = `req_LATE${String(++counter).padStart(22, '0')}`;
    const input = signer.signMessage(
      SIGNED_MESSAGE.request,
      id,
      requestInput(id, { scope: { account: '123456789012' }, approvers: ['bob@example.com'], approvalsRequired: 1 }),
    );
    const approval: DecisionInput = signer.signMessage(updatePurpose('approve'), id, { actor: 'bob@example.com', sentAt: new Date().toISOString() });
    const spec: GrantSpec = {
      requestId: id,
      provider: 'aws',
      resource: 'prod',
      scope: { account: '123456789012' },
      kind: 'role',
      target: 'AdminRole',
      principal: input.requester,
      notAfter: new Date(Date.now() + 3_600_000).toISOString(),
    };
    return { id, spec, evidence: { input, approvals: [approval] } };
  }

  function provisionInRun(request: ReturnType<typeof approvedRequest>) {
    const environment = new MockActivityEnvironment({ workflowExecution: { workflowId: request.id, runId: RUN } });
    return environment.run(() => activities.provision(request.spec, request.evidence));
  }

  function revokeInRun(request: ReturnType<typeof approvedRequest>) {
    const environment = new MockActivityEnvironment({ workflowExecution: { workflowId: request.id, runId: RUN } });
    return environment.run(() => activities.revoke(request.spec));
  }

  it('grants an approved request (the fixture is sound)', async () => {
    const request = approvedRequest();
    await provisionInRun(request);
    assert.deepEqual(provider.calls, [`grant ${request.id}`]);
  });

  it('does not grant once the request has been revoked after an earlier attempt granted it', async () => {
    const request = approvedRequest();
    await provisionInRun(request); // the retry that succeeded
    await revokeInRun(request); // the request ended
    provider.calls.length = 0;
    await assert.rejects(provisionInRun(request), /ended|released/i); // the attempt that timed out, still running
    assert.deepEqual(provider.calls, [], 'the late attempt granted after the removal');
  });

  it('does not grant once a failed request was cleaned up before any attempt recorded a lease', async () => {
    const request = approvedRequest();
    await revokeInRun(request); // compensation: nothing recorded yet, remove whatever may have been granted
    provider.calls.length = 0;
    await assert.rejects(provisionInRun(request), /ended|released/i);
    assert.deepEqual(provider.calls, [], 'the late attempt granted after the clean-up');
  });

  it('does not grant once Temporal has cancelled the attempt (timed out, and told so by a heartbeat)', async () => {
    const request = approvedRequest();
    const environment = new MockActivityEnvironment({ workflowExecution: { workflowId: request.id, runId: RUN } });
    provider.duringInspect = () => {
      environment.cancel('TIMED_OUT'); // the slow look-up outlived the heartbeat timeout
      return Promise.resolve();
    };
    await assert.rejects(environment.run(() => activities.provision(request.spec, request.evidence)), /cancelled/i);
    assert.deepEqual(provider.calls, [], 'the cancelled attempt granted');
  });

  it('removes its own grant when the request ended while it was granting', async () => {
    const request = approvedRequest();
    provider.duringGrant = async () => {
      provider.duringGrant = undefined;
      await revokeInRun(request); // the revoke's removal lands before this grant does
    };
    await assert.rejects(provisionInRun(request), /ended|released/i);
    assert.deepEqual(provider.calls, [`revoke ${request.id}`, `grant ${request.id}`, `revoke ${request.id}`]);
  });
});
