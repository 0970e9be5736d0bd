/**
 * The product's worker with one change: it kills itself (SIGKILL, no clean-up) at a chosen step of
 * the lifecycle, once per provider, right after the provider call of that step took effect and
 * before the activity could report it. The fault suite starts it again until each provider has
 * crashed there once, then checks every request still ended right.
 *
 *   P0_CRASH_AT=grant   after a grant was applied, before provision completes
 *   P0_CRASH_AT=verify  during verifyPropagation, after a read-back saw the grant
 *   P0_CRASH_AT=revoke  after the removal was applied, before verifyRevocation
 *   P0_CRASH_DIR        where the once-per-provider markers live
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Provider } from '../../providers/provider';
import { createLogger, openRuntime, runMain } from '../../service/runtime';
import { startWorker } from '../../worker/worker';

export type CrashPoint = 'grant' | 'verify' | 'revoke';

const crashAt = process.env.P0_CRASH_AT as CrashPoint;
const crashDir = process.env.P0_CRASH_DIR!;
/** Requests whose removal started in this process: read-backs after that are not "verify" ones. */
const removing = new Set<string>();

function crashOnce(provider: string, requestId: string): void {
  const marker = path.join(crashDir, `${crashAt}-${provider}`);
  if (fs.existsSync(marker)) return;
  fs.writeFileSync(marker, requestId);
  process.kill(process.pid, 'SIGKILL');
}

function crashing(provider: Provider): Provider {
  return {
    name: provider.name,
    propagation: provider.propagation,
    inspect: (spec) => provider.inspect(spec),
    grant: async (spec) => {
      await provider.grant(spec);
      if (crashAt === 'grant') crashOnce(provider.name, spec.requestId);
    },
    isGranted: async (spec) => {
      const granted = await provider.isGranted(spec);
      if (crashAt === 'verify' && granted && !removing.has(spec.requestId)) crashOnce(provider.name, spec.requestId);
      return granted;
    },
    revoke: async (spec) => {
      removing.add(spec.requestId);
      await provider.revoke(spec);
      if (crashAt === 'revoke') crashOnce(provider.name, spec.requestId);
    },
    listMarked: () => provider.listMarked(),
    removeMarked: (grant) => provider.removeMarked(grant),
  };
}

async function main(): Promise<void> {
  const logger = createLogger('p0-crashing-worker');
  const runtime = await openRuntime({ logger });
  const worker = await startWorker(runtime, { wrapProvider: crashing, reconcileSchedule: false });
  logger.info({ crashAt }, 'worker running');
  await worker.run();
  await worker.close();
  await runtime.close();
}

runMain('crashing worker', main);
