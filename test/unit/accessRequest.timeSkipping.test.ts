/**
 * The accessRequest workflow's rules over time, on Temporal's time-skipping test server with stub
 * activities: approval windows of days, scheduled starts, the 30-day break-glass review window and
 * extensions run in seconds. Time skips while a test awaits `handle.result()`; before that the
 * server's clock runs as usual, so a test can act at a chosen step (a stub that waits for it holds
 * the workflow there). Every test ends its workflow, so no timer is left for the next one.
 */
import assert from 'node:assert/strict';
import { WorkflowUpdateStage, type Client, type WorkflowHandle } from '@temporalio/client';
import type { Duration } from '@temporalio/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker, type WorkflowBundle } from '@temporalio/worker';
import type { AccessActivities } from '../../activities';
import type { accessRequest } from '../../workflows/accessRequest';
import {
  approveUpdate,
  cancelUpdate,
  denyUpdate,
  extendUpdate,
  reviewUpdate,
  revokeUpdate,
  statusQuery,
  WORKFLOW_TYPE,
} from '../../workflows/messages';
import type { AuditEvent } from '../../shared/events';
import type { RequestStatus, RequestView } from '../../shared/request';
import { BREAK_GLASS_REVIEW_WINDOW_DAYS, type AccessRequestInput } from '../../workflows/types';
import { sharedWorkflowBundle } from '../support/temporal';
import { createTimeSkippingEnvironment } from '../support/timeSkipping';
import { ALICE, BOB, DANA, eventTypes, newRecorded, outcome, requestInput, signed, stubActivities, type Recorded } from '../support/workflowStubs';

const CAROL = 'carol@example.com';
const TASK_QUEUE = 'time-skipping';
const ADMIN = 'sec@example.com';
const HOUR_MS = 3600_000;
const DAY_MS = 24 * HOUR_MS;

type Handle = WorkflowHandle<typeof accessRequest>;

/** A promise the test settles: holds a stub activity until the test has done its part. */
function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((done) => (resolve = done));
  return { promise, resolve };
}

describe('accessRequest over time (time-skipping test server)', function () {
  this.timeout(60_000);
  let env: TestWorkflowEnvironment;
  let client: Client;
  let worker: Worker;
  let workerRun: Promise<void>;
  let recorded: Recorded;
  /** The activities the worker runs now: the stubs, with this test's overrides. */
  let activities: AccessActivities;
  /** The workflows this test started: any still running at its end is terminated. */
  let started: Handle[];
  let counter = 0;

  before(async function () {
    // The first run may install the test server (about 30 s); later runs start it in about a second.
    this.timeout(300_000);
    let workflowBundle: WorkflowBundle;
    [env, workflowBundle] = await Promise.all([createTimeSkippingEnvironment(), sharedWorkflowBundle()]);
    client = env.client;
    // One worker for the suite: creating one costs about a second (it loads the workflow bundle into
    // fresh V8 contexts), more than most tests here. Each test swaps in its own stubs instead.
    const delegates = Object.fromEntries(
      Object.keys(stubActivities(newRecorded())).map((name) => [name, (...args: unknown[]) => (activities[name as keyof AccessActivities] as (...a: unknown[]) => unknown)(...args)]),
    );
    worker = await Worker.create({ connection: env.nativeConnection, taskQueue: TASK_QUEUE, workflowBundle, activities: delegates });
    workerRun = worker.run();
  });
  after(async () => {
    if (worker?.getState() === 'RUNNING') worker.shutdown();
    await workerRun;
    await env?.teardown();
  });
  beforeEach(() => {
    recorded = newRecorded();
    activities = stubActivities(recorded);
    started = [];
  });
  afterEach(async () => {
    for (const handle of started) {
      if ((await handle.describe()).status.name === 'RUNNING') await handle.terminate('test over');
    }
  });

  /** Replaces single stub activities for this test (a provision that waits for the test, say). */
  function override(overrides: Partial<AccessActivities>): AccessActivities {
    const stubs = stubActivities(recorded);
    activities = { ...stubs, ...overrides };
    return stubs;
  }

  async function start(overrides: Partial<AccessRequestInput> = {}, options: { workflowTaskTimeout?: Duration } = {}): Promise<Handle> {
    const id = `req_TIME${++counter}`;
    const handle = await client.workflow.start<typeof accessRequest>(WORKFLOW_TYPE, { taskQueue: TASK_QUEUE, workflowId: id, args: [requestInput(id, overrides)], ...options });
    started.push(handle);
    return handle;
  }

  /** The server's clock, which runs ahead of the wall clock once a test has skipped time. */
  async function serverNow(): Promise<number> {
    return env.currentTimeMs();
  }

  /** Polls the status query (in real time: no skipping) until `done` holds. */
  async function waitFor(handle: Handle, done: (view: RequestView) => boolean, what: string): Promise<RequestView> {
    let view = await handle.query(statusQuery);
    for (let i = 0; i < 200 && !done(view); i++) {
      await new Promise((resolve) => setTimeout(resolve, 25));
      view = await handle.query(statusQuery);
    }
    assert.ok(done(view), `timed out waiting for ${what}; the request is ${view.status} (${eventTypes(recorded, handle.workflowId).join(', ')})`);
    return view;
  }
  const waitForStatus = (handle: Handle, status: RequestStatus) => waitFor(handle, (view) => view.status === status, `status ${status}`);

  function events(handle: Handle): string[] {
    return eventTypes(recorded, handle.workflowId);
  }

  function event(handle: Handle, type: string): AuditEvent {
    const found = recorded.events.find((entry) => entry.requestId === handle.workflowId && entry.type === type);
    assert.ok(found, `no ${type} event in ${events(handle).join(', ')}`);
    return found;
  }

  function msBetween(from: AuditEvent, to: AuditEvent): number {
    return Date.parse(to.at) - Date.parse(from.at);
  }

  const approve = (handle: Handle, actor: string, subject?: string) => handle.executeUpdate(approveUpdate, { args: [signed(approveUpdate, handle, { actor, subject })] });
  const deny = (handle: Handle, actor: string, subject?: string) => handle.executeUpdate(denyUpdate, { args: [signed(denyUpdate, handle, { actor, subject, comment: 'no' })] });
  const extend = (handle: Handle, durationSeconds: number) =>
    handle.executeUpdate(extendUpdate, { args: [signed(extendUpdate, handle, { actor: ALICE, duration: `${durationSeconds / 60}m`, durationSeconds })] });
  const revoke = (handle: Handle) => handle.executeUpdate(revokeUpdate, { args: [signed(revokeUpdate, handle, { actor: ADMIN, comment: 'incident' })] });
  /** Sends a revoke and returns once the workflow has accepted it (its handler may still be waiting). */
  const revokeAccepted = (handle: Handle) =>
    handle.startUpdate(revokeUpdate, { args: [signed(revokeUpdate, handle, { actor: ADMIN, comment: 'incident' })], waitForStage: WorkflowUpdateStage.ACCEPTED });

  describe('approval window', () => {
    it('a request nobody decides is timed_out when its window closes, days later; nothing is granted', async () => {
      const approvalTimeoutSeconds = 3 * 24 * 3600;
      const handle = await start({ approvalTimeoutSeconds });
      const view = await handle.result();
      assert.equal(view.status, 'timed_out');
      assert.deepEqual(events(handle), ['requested', 'timed_out']);
      const waitedMs = msBetween(event(handle, 'requested'), event(handle, 'timed_out'));
      assert.ok(waitedMs >= approvalTimeoutSeconds * 1000 && waitedMs < approvalTimeoutSeconds * 1000 + 60_000, `timed out after ${waitedMs} ms`);
      assert.equal(recorded.grants.length, 0);
    });
  });

  describe('scheduled start', () => {
    /** Alice's request for two days from now, approved by Bob (one approval needed), waiting to start. */
    async function scheduledRequest(): Promise<{ handle: Handle; startAt: string }> {
      const startAt = new Date((await serverNow()) + 2 * DAY_MS).toISOString();
      const handle = await start({ startAt, approvalsRequired: 1 });
      await approve(handle, BOB);
      await waitFor(handle, () => events(handle).includes('scheduled'), 'the scheduled event');
      assert.equal(recorded.grants.length, 0, 'nothing is granted before startAt');
      return { handle, startAt };
    }

    it('an approved request waits, durably, for its startAt: provisioned then, not before', async () => {
      const { handle, startAt } = await scheduledRequest();
      const view = await handle.result();
      assert.equal(view.status, 'expired');
      assert.deepEqual(events(handle), ['requested', 'approved', 'scheduled', 'provisioning', 'granted', 'active', 'expired']);
      assert.ok(Date.parse(event(handle, 'provisioning').at) >= Date.parse(startAt), 'provisioned before startAt');
      assert.equal(Date.parse(view.expiresAt!) - Date.parse(view.activeAt!), HOUR_MS);
      assert.equal(recorded.grants.length, 1);
      assert.deepEqual(recorded.removals, recorded.grants);
    });

    it('cancelled by the requester while it waits: cancelled, nothing granted', async () => {
      const { handle } = await scheduledRequest();
      await handle.executeUpdate(cancelUpdate, { args: [signed(cancelUpdate, handle, { actor: ALICE, comment: 'not needed' })] });
      const view = await handle.result();
      assert.equal(view.status, 'cancelled');
      assert.equal(view.decision?.by, ALICE);
      assert.deepEqual(events(handle), ['requested', 'approved', 'scheduled', 'cancelled']);
      assert.equal(recorded.grants.length, 0);
      assert.equal(recorded.removals.length, 0);
    });

    it('revoked while it waits: revoked, nothing granted', async () => {
      const { handle } = await scheduledRequest();
      await revoke(handle);
      const view = await handle.result();
      assert.equal(view.status, 'revoked');
      assert.equal(view.decision?.by, ADMIN);
      assert.deepEqual(events(handle), ['requested', 'approved', 'scheduled', 'revoked']);
      assert.equal(recorded.grants.length, 0);
      assert.equal(recorded.removals.length, 0);
    });
  });

  describe('break-glass review window', () => {
    it(`stays open ${BREAK_GLASS_REVIEW_WINDOW_DAYS} days after access ends, then records review_overdue`, async () => {
      const handle = await start({ breakGlass: true });
      const view = await handle.result();
      assert.equal(view.status, 'expired');
      assert.equal(view.review, undefined);
      assert.deepEqual(events(handle), ['requested', 'break_glass', 'provisioning', 'granted', 'active', 'expired', 'review_overdue']);
      const openMs = msBetween(event(handle, 'expired'), event(handle, 'review_overdue'));
      const windowMs = BREAK_GLASS_REVIEW_WINDOW_DAYS * DAY_MS;
      assert.ok(openMs >= windowMs && openMs < windowMs + 60_000, `review_overdue came ${openMs} ms after access ended`);
      assert.equal(recorded.removals.length, 1, 'access itself ends on time, review or not');
    });

    it('an approver reviewing it closes the request when access ends, with no review_overdue', async () => {
      const handle = await start({ breakGlass: true });
      await waitForStatus(handle, 'active');
      await handle.executeUpdate(reviewUpdate, { args: [signed(reviewUpdate, handle, { actor: BOB, comment: 'justified' })] });
      const view = await handle.result();
      assert.equal(view.status, 'expired');
      assert.equal(view.review?.by, BOB);
      assert.deepEqual(events(handle), ['requested', 'break_glass', 'provisioning', 'granted', 'active', 'reviewed', 'expired']);
    });
  });

  describe('extensions', () => {
    /** Alice's request, approved by Bob and Dana (two needed), active. */
    async function activeRequest(): Promise<Handle> {
      const handle = await start();
      await approve(handle, BOB);
      await approve(handle, DANA);
      await waitForStatus(handle, 'active');
      return handle;
    }

    it('approved by the quorum: access ends at the new expiry', async () => {
      const handle = await activeRequest();
      const { pendingExtension } = await extend(handle, 1800);
      assert.ok(pendingExtension?.id);
      const afterOne = await approve(handle, BOB, pendingExtension.id);
      assert.equal(afterOne.extensions.length, 0, 'one approver of two does not extend');
      const extended = await approve(handle, DANA, pendingExtension.id);
      assert.deepEqual(extended.extensions.map((entry) => entry.approvedBy), [[BOB, DANA]]);
      const view = await handle.result();
      assert.equal(view.status, 'expired');
      assert.equal(Date.parse(view.expiresAt!) - Date.parse(view.activeAt!), 1.5 * HOUR_MS);
      const lastedMs = msBetween(event(handle, 'active'), event(handle, 'expired'));
      assert.ok(lastedMs >= 1.5 * HOUR_MS && lastedMs < 1.5 * HOUR_MS + 60_000, `access lasted ${lastedMs} ms`);
      assert.deepEqual(events(handle).slice(-4), ['extension_requested', 'extension_approval', 'extended', 'expired']);
      assert.equal(recorded.removals.length, 1);
    });

    it('denied: access ends at the original expiry', async () => {
      const handle = await activeRequest();
      const { pendingExtension } = await extend(handle, 1800);
      const denied = await deny(handle, DANA, pendingExtension!.id);
      assert.equal(denied.pendingExtension, undefined);
      const view = await handle.result();
      assert.equal(view.status, 'expired');
      assert.equal(view.extensions.length, 0);
      const lastedMs = msBetween(event(handle, 'active'), event(handle, 'expired'));
      assert.ok(lastedMs >= HOUR_MS && lastedMs < HOUR_MS + 60_000, `access lasted ${lastedMs} ms`);
      assert.deepEqual(events(handle).slice(-3), ['extension_requested', 'extension_denied', 'expired']);
    });

    it('one at a time: a second extend while one waits is refused; once it is decided, another may be asked', async () => {
      const handle = await activeRequest();
      const { pendingExtension } = await extend(handle, 1800);
      assert.deepEqual(await outcome(extend(handle, 600)), { accepted: false, type: 'WrongState' });
      await deny(handle, BOB, pendingExtension!.id);
      const second = await extend(handle, 600);
      assert.equal(second.pendingExtension?.durationSeconds, 600);
      assert.notEqual(second.pendingExtension?.id, pendingExtension!.id);
      // An approval of the first extension's id decides nothing now.
      assert.deepEqual(await outcome(approve(handle, DANA, pendingExtension!.id)), { accepted: false, type: 'StaleDecision' });
      const view = await handle.result();
      assert.equal(view.status, 'expired');
      assert.equal(view.extensions.length, 0, 'an extension nobody approved never applies');
    });
  });

  describe('quorum', () => {
    it('without allowSelfApproval: a requester who is an approver cannot approve; two others are needed', async () => {
      const handle = await start({ requester: BOB, approvers: [BOB, DANA, CAROL], allowSelfApproval: false });
      assert.deepEqual(await outcome(approve(handle, BOB)), { accepted: false, type: 'SelfApproval' });
      assert.equal((await approve(handle, DANA)).status, 'pending');
      // The update answers with the live view, which may already have moved on to provisioning.
      assert.notEqual((await approve(handle, CAROL)).status, 'pending', 'two approvers other than the requester meet the quorum');
      const view = await handle.result();
      assert.equal(view.status, 'expired');
      assert.deepEqual(view.approvals.map((approval) => approval.by), [DANA, CAROL]);
      assert.equal(recorded.grants.length, 1);
    });

    it('with allowSelfApproval: the requester who is also an approver counts once', async () => {
      const handle = await start({ requester: BOB, approvers: [BOB, DANA], allowSelfApproval: true });
      assert.equal((await approve(handle, BOB)).status, 'pending');
      assert.deepEqual(await outcome(approve(handle, BOB)), { accepted: false, type: 'AlreadyApproved' });
      assert.equal((await handle.query(statusQuery)).status, 'pending', 'one person is one approval');
      assert.equal(recorded.grants.length, 0);
      assert.notEqual((await approve(handle, DANA)).status, 'pending', 'a second person meets the quorum');
      const view = await handle.result();
      assert.equal(view.status, 'expired');
      assert.deepEqual(view.approvals.map((approval) => approval.by), [BOB, DANA]);
      assert.equal(recorded.grants.length, 1);
    });

    it('a deny after one of two approvals ends the request: nothing granted', async () => {
      const handle = await start();
      assert.equal((await approve(handle, BOB)).status, 'pending');
      const denied = await deny(handle, DANA);
      assert.equal(denied.status, 'denied');
      assert.equal(denied.decision?.by, DANA);
      const view = await handle.result();
      assert.equal(view.status, 'denied');
      assert.deepEqual(events(handle), ['requested', 'approval', 'denied']);
      assert.equal(recorded.grants.length, 0);
    });
  });

  describe('checks inside the grant and removal steps', () => {
    it('runs no verifyPropagation or verifyRevocation when provision and revoke checked their own work', async () => {
      const separateChecks: string[] = [];
      const stubs = override({
        async provision(spec, evidence, options) {
          return { ...(await stubs.provision(spec, evidence)), verified: options?.readBack };
        },
        async revoke(spec, options) {
          return { ...(await stubs.revoke(spec)), ...(options?.confirm ? { confirmed: { confirmed: true } } : {}) };
        },
        verifyPropagation() {
          separateChecks.push('verifyPropagation');
          return Promise.resolve();
        },
        verifyRevocation() {
          separateChecks.push('verifyRevocation');
          return Promise.resolve({ confirmed: true });
        },
      });
      const view = await (await start({ autoApprovedBy: 'on-call' })).result();
      assert.equal(view.status, 'expired');
      assert.deepEqual(separateChecks, []);
      assert.equal(recorded.grants.length, 1);
      assert.deepEqual(recorded.removals, recorded.grants);
    });

    it('still verifies separately when the steps could not check (more reads, a settle delay)', async () => {
      const separateChecks: string[] = [];
      override({
        verifyPropagation() {
          separateChecks.push('verifyPropagation');
          return Promise.resolve();
        },
        verifyRevocation() {
          separateChecks.push('verifyRevocation');
          return Promise.resolve({ confirmed: true });
        },
      });
      const view = await (await start({ autoApprovedBy: 'on-call' })).result();
      assert.equal(view.status, 'expired');
      assert.deepEqual(separateChecks, ['verifyPropagation', 'verifyRevocation']);
    });

    it('reports an unconfirmed removal that revoke found itself, as verifyRevocation would', async () => {
      const stubs = override({
        async revoke(spec) {
          await stubs.revoke(spec);
          return { removedAtProvider: true, reason: 'released', confirmed: { confirmed: false, reason: 'removal unconfirmed: gone', alert: 'removal_unconfirmed' } };
        },
      });
      const handle = await start({ autoApprovedBy: 'on-call' });
      await handle.result();
      assert.deepEqual(event(handle, 'expired').details, { removedAtProvider: false, removal: 'removal unconfirmed: gone', alert: 'removal_unconfirmed' });
    });
  });

  describe('workflow cancellation', () => {
    it('ends active access like an admin revoke: the grant removed and recorded, in order', async () => {
      const handle = await start({ autoApprovedBy: 'on-call' });
      await waitForStatus(handle, 'active');
      await handle.cancel();
      // The run itself closes as cancelled, once the removal and its record are done.
      await assert.rejects(handle.result(), /cancelled/);
      assert.deepEqual(events(handle), ['requested', 'approved', 'provisioning', 'granted', 'active', 'revoked']);
      assert.equal(event(handle, 'revoked').details?.comment, 'workflow cancelled');
      assert.equal(recorded.grants.length, 1);
      assert.deepEqual(recorded.removals, recorded.grants);
    });
  });

  describe('revoke', () => {
    it('while active: the grant is removed and the request is revoked at once', async () => {
      const handle = await start({ autoApprovedBy: 'on-call' });
      await waitForStatus(handle, 'active');
      const answered = await revoke(handle);
      assert.equal(answered.status, 'revoked', 'the revoke answers once the grant is gone');
      assert.equal(answered.decision?.by, ADMIN);
      await handle.result();
      assert.deepEqual(events(handle), ['requested', 'approved', 'provisioning', 'granted', 'active', 'revoked']);
      assert.equal(recorded.grants.length, 1);
      assert.deepEqual(recorded.removals, recorded.grants);
    });

    it('while approved, before provisioning starts: revoked, nothing granted', async () => {
      // The auto-approved request's `approved` record is held until the revoke is in. The record is a
      // local activity: while it runs the revoke waits for the workflow task's heartbeat (at 80% of
      // the task timeout), so the timeout is short here.
      const approvedRecording = deferred();
      const holdApproved = deferred();
      const stubs = override({
        async recordEvent(event, view) {
          if (event.type === 'approved') {
            approvedRecording.resolve();
            await holdApproved.promise;
          }
          return stubs.recordEvent(event, view);
        },
      });
      const handle = await start({ autoApprovedBy: 'on-call' }, { workflowTaskTimeout: '2 seconds' });
      try {
        await approvedRecording.promise;
        assert.equal((await handle.query(statusQuery)).status, 'approved');
        await revokeAccepted(handle);
      } finally {
        holdApproved.resolve();
      }
      const view = await handle.result();
      assert.equal(view.status, 'revoked');
      assert.deepEqual(events(handle), ['requested', 'approved', 'revoked']);
      assert.equal(recorded.grants.length, 0, 'a request revoked before provisioning must grant nothing');
    });

    it('while provisioning: the grant is removed without the request ever being active', async () => {
      const provisioning = deferred();
      const holdProvision = deferred();
      const stubs = override({
        async provision(spec, evidence) {
          provisioning.resolve();
          await holdProvision.promise;
          return stubs.provision(spec, evidence);
        },
      });
      const handle = await start({ autoApprovedBy: 'on-call' });
      try {
        await provisioning.promise;
        assert.equal((await handle.query(statusQuery)).status, 'provisioning');
        await revokeAccepted(handle);
      } finally {
        holdProvision.resolve();
      }
      const view = await handle.result();
      assert.equal(view.status, 'revoked');
      assert.equal(view.activeAt, undefined, 'a revoked request was announced active');
      assert.deepEqual(events(handle), ['requested', 'approved', 'provisioning', 'granted', 'revoked']);
      assert.equal(recorded.grants.length, 1);
      assert.deepEqual(recorded.removals, recorded.grants);
    });

    it('while provisioning, when provision checked the grant itself: removed, never active', async () => {
      const provisioning = deferred();
      const holdProvision = deferred();
      const stubs = override({
        async provision(spec, evidence, options) {
          provisioning.resolve();
          await holdProvision.promise;
          return { ...(await stubs.provision(spec, evidence)), verified: options?.readBack };
        },
      });
      const handle = await start({ autoApprovedBy: 'on-call' });
      try {
        await provisioning.promise;
        await revokeAccepted(handle);
      } finally {
        holdProvision.resolve();
      }
      const view = await handle.result();
      assert.equal(view.status, 'revoked');
      assert.equal(view.activeAt, undefined, 'a revoked request was announced active');
      assert.deepEqual(events(handle), ['requested', 'approved', 'provisioning', 'granted', 'revoked']);
      assert.deepEqual(recorded.removals, recorded.grants);
    });

    it('while the grant is being verified: verification is cancelled, the grant removed, never active', async () => {
      const verifying = deferred();
      let released = false;
      override({
        async verifyPropagation() {
          verifying.resolve();
          // Never verified by itself: only the revoke can end the request.
          while (!released) await new Promise((resolve) => setTimeout(resolve, 50));
        },
      });
      const handle = await start({ autoApprovedBy: 'on-call' });
      let view: RequestView | undefined;
      try {
        await verifying.promise;
        await revokeAccepted(handle);
        view = await Promise.race([handle.result(), new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), 5000))]);
      } finally {
        released = true;
      }
      assert.ok(view, `a revoke during verification was not acted on within 5 s: ${events(handle).join(', ')}`);
      assert.equal(view.status, 'revoked');
      assert.equal(view.activeAt, undefined);
      assert.deepEqual(events(handle), ['requested', 'approved', 'provisioning', 'granted', 'revoked']);
      assert.deepEqual(recorded.removals, recorded.grants);
      // The activity hears of it at its next heartbeat; the workflow asked at once.
      const { events: history } = await handle.fetchHistory();
      assert.ok(history?.some((entry) => entry.activityTaskCancelRequestedEventAttributes), 'the verification activity was not cancelled');
    });
  });
});
