/**
 * A worker process for the scale figure: the product's own worker, workflows and activities, with
 * the cloud provider swapped for one that grants nothing, so what is measured is the product and
 * Temporal carrying N active grants, not a cloud emulator. Reads the same env as `npm run worker`.
 */
import type { Provider } from '../providers/provider';
import { openRuntime, runMain } from '../service/runtime';
import { startWorker } from '../worker/worker';

const noopProvider = (name: string): Provider => ({
  name,
  propagation: { settleDelayMs: 0, consecutiveReads: 1, pollIntervalMs: 10 },
  inspect: (spec) => Promise.resolve({ resourceKey: `noop:${spec.requestId}`, present: false, principal: { email: spec.principal } }),
  grant: () => Promise.resolve(),
  revoke: () => Promise.resolve(),
  isGranted: () => Promise.resolve(true),
  listMarked: () => Promise.resolve([]),
  removeMarked: () => Promise.resolve(),
});

async function main(): Promise<void> {
  const runtime = await openRuntime();
  const worker = await startWorker(runtime, { wrapProvider: (provider) => noopProvider(provider.name), slack: null, reconcileSchedule: false });
  console.log('worker running');
  await worker.run();
  await worker.close();
  await runtime.close();
}

runMain('noop worker', main);
