/**
 * Records a fresh accessRequest history for the replay test, after a workflow change behind
 * `patched()`: runs one request on a Temporal dev server of its own with the stub activities the
 * workflow tests use (test/support/workflowStubs.ts), as for a provider that needs one read-back and
 * no settle delay (provision and revoke check their own work), then saves its history like
 * save-history.ts:
 *   npx tsx scripts/record-history.ts <scenario> <name>
 * Scenarios: `expired` (two approvals, two seconds of access, expiry) and `relinquished` (both
 * approvals sent with the start, then relinquished once active).
 */
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import type { AccessActivities } from '../activities';
import { accessRequest } from '../workflows/accessRequest';
import { approveUpdate, relinquishUpdate, statusQuery } from '../workflows/messages';
import { ALICE, BOB, DANA, newRecorded, requestInput, signed, stubActivities } from '../test/support/workflowStubs';
import { freePort } from '../test/support/net';
import { saveHistory } from './save-history';
import { startDevServer } from './temporalDevServer';

const TASK_QUEUE = 'record';
const SCENARIOS = ['expired', 'relinquished'] as const;
type Scenario = (typeof SCENARIOS)[number];

async function main(): Promise<void> {
  const [scenario, name] = process.argv.slice(2) as [Scenario | undefined, string | undefined];
  if (!scenario || !SCENARIOS.includes(scenario) || !name) throw new Error(`usage: npx tsx scripts/record-history.ts <${SCENARIOS.join('|')}> <name>`);
  const server = await startDevServer({ port: await freePort(), logFile: path.join(os.tmpdir(), `p0-record-history-${process.pid}.log`) });
  try {
    const workerConnection = await NativeConnection.connect({ address: server.address });
    const worker = await Worker.create({
      connection: workerConnection,
      taskQueue: TASK_QUEUE,
      workflowsPath: require.resolve('../workflows'),
      activities: checkingInStep(stubActivities(newRecorded())),
    });
    const client = new Client({ connection: await Connection.connect({ address: server.address }) });
    const id = `req_${Date.now().toString(36).toUpperCase()}`;
    await worker.runUntil(async () => {
      const handle = await client.workflow.start(accessRequest, {
        taskQueue: TASK_QUEUE,
        workflowId: id,
        args: [requestInput(id, { duration: '2s', durationSeconds: 2 })],
      });
      const approve = (actor: string) => handle.executeUpdate(approveUpdate, { args: [signed(approveUpdate, handle, { actor })] });
      if (scenario === 'expired') {
        await approve(BOB);
        await approve(DANA);
      } else {
        // Both approvals race the workflow's first task, as a quick approver's would.
        await Promise.all([approve(BOB), approve(DANA)]);
        while ((await handle.query(statusQuery)).status !== 'active') await new Promise((resolve) => setTimeout(resolve, 50));
        await handle.executeUpdate(relinquishUpdate, { args: [signed(relinquishUpdate, handle, { actor: ALICE })] });
      }
      await handle.result();
    });
    await workerConnection.close();
    const file = await saveHistory(id, name, { address: server.address, namespace: 'default' });
    console.log(`wrote ${path.relative(process.cwd(), file)}`);
  } finally {
    await server.stop();
  }
}

/** The stubs, with provision and revoke checking their own work when the workflow asks them to. */
function checkingInStep(stubs: AccessActivities): AccessActivities {
  return {
    ...stubs,
    provision: async (spec, evidence, options) => ({ ...(await stubs.provision(spec, evidence)), ...(options?.readBack ? { verified: true } : {}) }),
    revoke: async (spec, options) => ({ ...(await stubs.revoke(spec)), ...(options?.confirm ? { confirmed: { confirmed: true } } : {}) }),
  };
}

main().catch((error: unknown) => {
  console.error(`record-history: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
