/**
 * Local activities and Update handlers under constant cache eviction (issue 17): the audit records
 * are local activities written one at a time (workflows/accessRequest.ts, RECORD_LOCALLY), because
 * concurrent ones beside Update handlers reorder on replay. Thirty requests at once on a worker that
 * caches three workflows, so nearly every workflow task replays the history so far; the approvals
 * race the workflow's start and the relinquishes race its turn to active. No workflow task may
 * fail, every audit trail keeps its order, and every history replays afterwards.
 */
import assert from 'node:assert/strict';
import { Client, Connection, WorkflowUpdateFailedError, type WorkflowHandle } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import type { accessRequest } from '../workflows/accessRequest';
import { approveUpdate, relinquishUpdate, REJECTION, WORKFLOW_TYPE } from '../workflows/messages';
import type { RequestView } from '../shared/request';
import { sharedTemporal, sharedWorkflowBundle } from './support/temporal';
import { ALICE, BOB, DANA, newRecorded, requestInput, signed, stubActivities } from './support/workflowStubs';

const REQUESTS = 30;
const TASK_QUEUE = `eviction-${process.pid}`;

type Handle = WorkflowHandle<typeof accessRequest>;

describe('workflow cache eviction with local activities and racing updates', function () {
  this.timeout(300_000);

  it('fails no workflow task, keeps every audit trail in order, and replays every history', async () => {
    const [{ address }, workflowBundle] = await Promise.all([sharedTemporal(), sharedWorkflowBundle()]);
    const recorded = newRecorded();
    const stubs = stubActivities(recorded);
    const connection = await NativeConnection.connect({ address });
    const worker = await Worker.create({
      connection,
      taskQueue: TASK_QUEUE,
      workflowBundle,
      activities: {
        ...stubs,
        // Even-numbered records take longer: records asked for together would finish out of order.
        recordEvent: async (...args: Parameters<typeof stubs.recordEvent>) => (await delay(args[0].seq % 2 === 0 ? 15 : 0), stubs.recordEvent(...args)),
        // A few milliseconds of provisioning, so updates and records interleave with it.
        provision: async (...args: Parameters<typeof stubs.provision>) => (await delay(5), stubs.provision(...args)),
      },
      // Never 0 with local activities: the SDK drops them there.
      maxCachedWorkflows: 3,
      maxConcurrentWorkflowTaskExecutions: 2,
    });
    const client = new Client({ connection: await Connection.connect({ address }) });
    const runId = Date.now().toString(36).toUpperCase();

    const handles = await worker.runUntil(() =>
      Promise.all(
        Array.from({ length: REQUESTS }, async (_, index) => {
          const id = `req_EVICT${runId}${index}`;
          const relinquishes = index % 2 === 1;
          const handle: Handle = await client.workflow.start<typeof accessRequest>(WORKFLOW_TYPE, {
            taskQueue: TASK_QUEUE,
            workflowId: id,
            args: [requestInput(id, relinquishes ? {} : { duration: '1s', durationSeconds: 1 })],
          });
          // Sent at once, before the workflow's first task has run.
          const approvals = Promise.all([BOB, DANA].map((actor) => handle.executeUpdate(approveUpdate, { args: [signed(approveUpdate, handle, { actor })] })));
          if (relinquishes) await relinquishOnceActive(handle);
          await approvals;
          await handle.result();
          return handle;
        }),
      ),
    );
    await connection.close();

    const histories = [];
    for (const handle of handles) {
      const history = await handle.fetchHistory();
      const failedTasks = (history.events ?? []).filter((event) => event.workflowTaskFailedEventAttributes);
      assert.equal(failedTasks.length, 0, `${handle.workflowId}: ${failedTasks.length} workflow task(s) failed`);
      histories.push({ workflowId: handle.workflowId, history });
    }

    let replayed = 0;
    for await (const result of Worker.runReplayHistories({ workflowBundle }, histories)) {
      assert.equal(result.error, undefined, `${result.workflowId}: ${String(result.error)}`);
      replayed += 1;
    }
    assert.equal(replayed, REQUESTS);

    for (const handle of handles) {
      const trail = recorded.events.filter((event) => event.requestId === handle.workflowId);
      assert.deepEqual(trail.map((event) => event.seq), trail.map((_, index) => index + 1), `${handle.workflowId}: recorded out of order`);
      const ending = Number(handle.workflowId.slice(-1)) % 2 === 1 ? 'relinquished' : 'expired';
      assert.deepEqual(
        trail.map((event) => event.type),
        ['requested', 'approval', 'approved', 'provisioning', 'granted', 'active', ending],
        handle.workflowId,
      );
    }
  });
});

/** Sends relinquish from the start on, until the request is active and takes it. */
async function relinquishOnceActive(handle: Handle): Promise<RequestView> {
  for (;;) {
    try {
      return await handle.executeUpdate(relinquishUpdate, { args: [signed(relinquishUpdate, handle, { actor: ALICE })] });
    } catch (error) {
      const refusal = error instanceof WorkflowUpdateFailedError ? (error.cause as { type?: string } | undefined)?.type : undefined;
      if (refusal !== REJECTION.wrongState) throw error;
      await delay(10);
    }
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
