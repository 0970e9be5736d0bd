/**
 * The product's worker with one change: a request the test armed stops at a chosen step of its
 * lifecycle and waits there, so that the test can kill the process (kill -9) with every armed request
 * at its step at once. The test arms a request by writing `armed-<requestId>` in P0_HOLD_DIR, holding
 * the step's name; the worker writes `reached-<requestId>` when the request gets there, and holds it
 * (the activity or the audit write never returns) until the process dies. A request holds once: a
 * worker started after the kill lets it pass. P0_WORKFLOW_BUNDLE, when set, is a prebuilt workflow
 * bundle (test/support/temporal.ts sharedWorkflowBundleFile), so a restart takes seconds.
 *
 *   lease         provision recorded the grant lease; the grant call has not been made
 *   grant         the grant call took effect; provision has not returned
 *   verify        verifyPropagation read the grant back; it has not returned
 *   verified      verifyPropagation returned; `active` is not recorded yet (held in its audit write)
 *   revoke        the removal call took effect; it is not verified
 *   compensation  the grant call took effect, then failed (a non-retryable provider error, made up
 *                 here): held after the removal call of the workflow's compensation took effect
 *   extension     the grant call of an extension's re-provisioning took effect; provision has not
 *                 returned (arm it just before the extension is approved)
 */
import fs from 'node:fs';
import path from 'node:path';
import { ProviderInputError, type Provider } from '../../providers/provider';
import type { RequestStore } from '../../db/requestStore';
import { createLogger, openRuntime, runMain } from '../../service/runtime';
import { startWorker } from '../../worker/worker';
import type { HoldPoint } from './judge';


const holdDir = process.env.P0_HOLD_DIR!;
/** Requests whose removal started in this process: read-backs after that are not "verify" ones. */
const removing = new Set<string>();

function armedAt(requestId: string): HoldPoint | undefined {
  const file = path.join(holdDir, `armed-${requestId}`);
  return fs.existsSync(file) ? (fs.readFileSync(file, 'utf8').trim() as HoldPoint) : undefined;
}

function reached(requestId: string): boolean {
  return fs.existsSync(path.join(holdDir, `reached-${requestId}`));
}

/** Holds the request here for good when it is armed for `point` and has not held yet. */
async function holdIfArmed(point: HoldPoint, requestId: string): Promise<void> {
  if (armedAt(requestId) !== point || reached(requestId)) return;
  fs.writeFileSync(path.join(holdDir, `reached-${requestId}`), JSON.stringify({ point, at: Date.now(), pid: process.pid }));
  await new Promise<never>(() => undefined);
}

function holding(provider: Provider): Provider {
  return {
    name: provider.name,
    propagation: provider.propagation,
    inspect: (spec) => provider.inspect(spec),
    grant: async (spec) => {
      await holdIfArmed('lease', spec.requestId);
      await provider.grant(spec);
      await holdIfArmed('grant', spec.requestId);
      await holdIfArmed('extension', spec.requestId);
      if (armedAt(spec.requestId) === 'compensation' && !reached(spec.requestId)) {
        throw new ProviderInputError(`made-up failure after granting ${spec.requestId} (fault suite: the grant is compensated)`);
      }
    },
    isGranted: async (spec) => {
      const granted = await provider.isGranted(spec);
      if (granted && !removing.has(spec.requestId)) await holdIfArmed('verify', spec.requestId);
      return granted;
    },
    revoke: async (spec) => {
      removing.add(spec.requestId);
      await provider.revoke(spec);
      await holdIfArmed('revoke', spec.requestId);
      await holdIfArmed('compensation', spec.requestId);
    },
    listMarked: () => provider.listMarked(),
    removeMarked: (grant) => provider.removeMarked(grant),
  };
}

/** `active` is held in its audit write: the verification is done, the request not yet active. */
function holdingActive(requests: RequestStore): void {
  const recordEvent = requests.recordEvent.bind(requests);
  requests.recordEvent = async (event, view, options) => {
    if (event.type === 'active') await holdIfArmed('verified', event.requestId);
    return recordEvent(event, view, options);
  };
}

async function main(): Promise<void> {
  const logger = createLogger('p0-holding-worker');
  const runtime = await openRuntime({ logger });
  holdingActive(runtime.requests);
  const bundle = process.env.P0_WORKFLOW_BUNDLE;
  const worker = await startWorker(runtime, { wrapProvider: holding, reconcileSchedule: false, ...(bundle ? { workflowBundle: { code: fs.readFileSync(bundle, 'utf8') } } : {}) });
  logger.info({ holdDir }, 'worker running');
  await worker.run();
  await worker.close();
  await runtime.close();
}

runMain('holding worker', main);
