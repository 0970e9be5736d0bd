/**
 * A worker process for the scale figure: the product's own worker, workflows and activities, with
 * the cloud provider swapped for one that grants nothing, so what is measured is the product and
 * Temporal carrying N active grants, not a cloud emulator. Reads the same env as `npm run worker`.
 */
import { appendFileSync } from 'node:fs';
import type { Provider } from '../providers/provider';
import { openRuntime, runMain } from '../service/runtime';
import { startWorker } from '../worker/worker';

/**
 * Grants nothing anywhere, but remembers what it was asked (in this process), so a read-back after
 * grant says yes and one after revoke says no: the grants the scale figure lets expire are removed
 * and confirmed like real ones, with no cloud in the way.
 */
const noopProvider = (name: string): Provider => {
  const granted = new Set<string>();
  return {
    name,
    propagation: { settleDelayMs: 0, consecutiveReads: 1, pollIntervalMs: 10 },
    inspect: (spec) => Promise.resolve({ resourceKey: `noop:${spec.requestId}`, present: granted.has(spec.requestId), principal: { email: spec.principal } }),
    grant: (spec) => {
      granted.add(spec.requestId);
      return Promise.resolve();
    },
    revoke: (spec) => {
      granted.delete(spec.requestId);
      return Promise.resolve();
    },
    isGranted: (spec) => Promise.resolve(granted.has(spec.requestId)),
    listMarked: () => Promise.resolve([]),
    removeMarked: () => Promise.resolve(),
  };
};

/**
 * BENCH_MEMORY_LOG=<file>: append process.memoryUsage() (V8 heap, native, array buffers) as a JSON
 * line every 2 s, to see where the worker's RSS goes (the bench itself reads only RSS).
 */
function logMemory(file: string | undefined): void {
  if (!file) return;
  setInterval(() => appendFileSync(file, `${JSON.stringify({ at: new Date().toISOString(), ...process.memoryUsage() })}\n`), 2_000).unref();
}

async function main(): Promise<void> {
  logMemory(process.env.BENCH_MEMORY_LOG);
  const runtime = await openRuntime();
  const worker = await startWorker(runtime, { wrapProvider: (provider) => noopProvider(provider.name), slack: null, reconcileSchedule: false });
  console.log('worker running');
  await worker.run();
  await worker.close();
  await runtime.close();
}

runMain('noop worker', main);
