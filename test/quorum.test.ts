/**
 * The quorum is a number of different people, however their approvals arrive. Updates delivered in
 * one workflow task used to pass their validators together before any of them was applied, so one
 * approver approving six times at once (a double-click is enough) met a quorum of two.
 *
 * The workflow runs on the real Temporal dev server with stub activities: the property under test is
 * the workflow's own. Updates are sent while no worker polls, so the server delivers them all in one
 * workflow task, the way concurrent clicks reach a busy worker.
 */
import assert from 'node:assert/strict';
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import { approveUpdate, denyUpdate, extendUpdate, statusQuery } from '../workflows/messages';
import type { AccessRequestInput } from '../workflows/types';
import type { RequestView } from '../shared/request';
import { sharedTemporal, sharedWorkflowBundle } from './support/temporal';
import { ALICE, BOB, DANA, eventTypes as trail, newRecorded, outcome, requestInput, signed, stubActivities, type Outcome, type Recorded } from './support/workflowStubs';

describe('quorum under concurrent updates', function () {
  this.timeout(120_000);
  let client: Client;
  let connection: Connection;
  let nativeConnection: NativeConnection;
  let taskQueue: string;
  let recorded: Recorded;
  let counter = 0;

  before(async () => {
    const { address } = await sharedTemporal();
    connection = await Connection.connect({ address });
    nativeConnection = await NativeConnection.connect({ address });
    client = new Client({ connection });
  });
  after(async () => {
    await nativeConnection?.close();
    await connection?.close();
  });
  beforeEach(() => {
    taskQueue = `quorum-${process.pid}-${++counter}`;
    recorded = newRecorded();
  });

  async function newWorker(): Promise<Worker> {
    return Worker.create({
      connection: nativeConnection,
      taskQueue,
      workflowBundle: await sharedWorkflowBundle(),
      activities: stubActivities(recorded),
    });
  }

  async function start(id: string, overrides: Partial<AccessRequestInput> = {}): Promise<WorkflowHandle> {
    return client.workflow.start('accessRequest', { taskQueue, workflowId: id, args: [requestInput(id, overrides)] });
  }

  /** Sends the updates while no worker polls, then lets one worker take them all in one workflow task. */
  async function deliverTogether(updates: Array<() => Promise<RequestView>>): Promise<Outcome[]> {
    const outcomes = Promise.all(updates.map((send) => outcome(send())));
    // Give the server time to admit every update before a worker asks for the workflow task.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const worker = await newWorker();
    return worker.runUntil(outcomes);
  }

  async function statusOf(handle: WorkflowHandle): Promise<RequestView> {
    const worker = await newWorker();
    return worker.runUntil(handle.query(statusQuery));
  }

  function eventTypes(id: string): string[] {
    return trail(recorded, id);
  }

  it('six approvals by one approver at once, delivered with the start, leave a quorum of two unmet', async () => {
    const id = `req_QUORUM${Date.now()}A`;
    const handle = await start(id);
    const outcomes = await deliverTogether(Array.from({ length: 6 }, () => () => handle.executeUpdate(approveUpdate, { args: [signed(approveUpdate, handle, { actor: BOB })] })));

    assert.equal(outcomes.filter((entry) => entry.accepted).length, 1, JSON.stringify(outcomes));
    for (const refused of outcomes.filter((entry) => !entry.accepted)) assert.deepEqual(refused, { accepted: false, type: 'AlreadyApproved' });
    const view = await statusOf(handle);
    assert.equal(view.status, 'pending');
    assert.deepEqual(view.approvals.map((approval) => approval.by), [BOB]);
    assert.equal(recorded.grants.length, 0, 'nothing may be granted');
    assert.deepEqual(eventTypes(id), ['requested', 'approval']);

    // A second, different approver meets the quorum, and the trail keeps its order.
    const worker = await newWorker();
    await worker.runUntil(async () => {
      await handle.executeUpdate(approveUpdate, { args: [signed(approveUpdate, handle, { actor: DANA })] });
      for (let i = 0; i < 100 && (await handle.query(statusQuery)).status !== 'active'; i++) await new Promise((resolve) => setTimeout(resolve, 100));
      assert.equal((await handle.query(statusQuery)).status, 'active');
    });
    assert.equal(recorded.grants.length, 1);
    assert.deepEqual(eventTypes(id), ['requested', 'approval', 'approved', 'provisioning', 'granted', 'active']);
    await handle.terminate('test done');
  });

  it('an approve and a deny delivered together decide the request once', async () => {
    const id = `req_QUORUM${Date.now()}B`;
    const handle = await start(id, { approvalsRequired: 1 });
    const outcomes = await deliverTogether([
      () => handle.executeUpdate(denyUpdate, { args: [signed(denyUpdate, handle, { actor: DANA, comment: 'no' })] }),
      () => handle.executeUpdate(approveUpdate, { args: [signed(approveUpdate, handle, { actor: BOB })] }),
    ]);
    // The server picks the order; whichever comes first decides, and the other is refused.
    assert.equal(outcomes.filter((entry) => entry.accepted).length, 1, JSON.stringify(outcomes));
    const denied = outcomes[0]!.accepted;
    const view = await statusOf(handle);
    if (denied) {
      assert.equal(view.status, 'denied');
      assert.equal(recorded.grants.length, 0);
      assert.deepEqual(eventTypes(id), ['requested', 'denied']);
    } else {
      assert.notEqual(view.status, 'denied');
      assert.deepEqual(eventTypes(id).slice(0, 2), ['requested', 'approved']);
      await handle.terminate('test done');
    }
  });

  it('six approvals of an extension by one approver at once leave it waiting for a second approver', async () => {
    // An extension needs the request's quorum, two approvers here.
    const id2 = `req_QUORUM${Date.now()}D`;
    const handle2 = await start(id2);
    await (await newWorker()).runUntil(async () => {
      await handle2.executeUpdate(approveUpdate, { args: [signed(approveUpdate, handle2, { actor: BOB })] });
      await handle2.executeUpdate(approveUpdate, { args: [signed(approveUpdate, handle2, { actor: DANA })] });
      for (let i = 0; i < 100 && (await handle2.query(statusQuery)).status !== 'active'; i++) await new Promise((resolve) => setTimeout(resolve, 100));
      await handle2.executeUpdate(extendUpdate, { args: [signed(extendUpdate, handle2, { actor: ALICE, duration: '30m', durationSeconds: 1800 })] });
    });
    const { expiresAt: expiresBefore, pendingExtension } = await statusOf(handle2);
    const subject = pendingExtension?.id;

    const outcomes = await deliverTogether(Array.from({ length: 6 }, () => () => handle2.executeUpdate(approveUpdate, { args: [signed(approveUpdate, handle2, { actor: BOB, subject })] })));
    assert.equal(outcomes.filter((entry) => entry.accepted).length, 1, JSON.stringify(outcomes));
    const view = await statusOf(handle2);
    assert.equal(view.expiresAt, expiresBefore, 'the extension must not apply on one approver');
    assert.deepEqual(view.pendingExtension?.approvals.map((approval) => approval.by), [BOB]);
    assert.equal(view.extensions.length, 0);

    await (await newWorker()).runUntil(handle2.executeUpdate(approveUpdate, { args: [signed(approveUpdate, handle2, { actor: DANA, subject })] }));
    const extended = await statusOf(handle2);
    assert.equal(extended.extensions.length, 1);
    assert.deepEqual(extended.extensions[0]!.approvedBy, [BOB, DANA]);
    assert.equal(Date.parse(extended.expiresAt!) - Date.parse(expiresBefore!), 1800_000);
    await handle2.terminate('test done');
  });

  it('a requester who is also an approver counts once toward the quorum', async () => {
    const id = `req_QUORUM${Date.now()}E`;
    const handle = await start(id, { requester: BOB, approvers: [BOB, DANA], allowSelfApproval: true });
    const outcomes = await deliverTogether(Array.from({ length: 3 }, () => () => handle.executeUpdate(approveUpdate, { args: [signed(approveUpdate, handle, { actor: BOB })] })));
    assert.equal(outcomes.filter((entry) => entry.accepted).length, 1);
    const view = await statusOf(handle);
    assert.equal(view.status, 'pending');
    assert.equal(recorded.grants.length, 0);
    await handle.terminate('test done');
  });
});
