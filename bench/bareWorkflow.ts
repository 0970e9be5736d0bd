/**
 * The baseline for the throughput figure: a bare Temporal workflow of the same shape as an access
 * request (wait for an approval signal, grant, one read-back, timer, revoke), against the same moto,
 * with none of the product around it (no API, no policy, no store, no leases, no audit trail).
 */
import { condition, defineSignal, proxyActivities, setHandler, sleep } from '@temporalio/workflow';
import type * as bareActivities from './bareActivities';

export const bareApprove = defineSignal('approve');

const { addToGroup, readBack, removeFromGroup, noopRemove, noopReadBack } = proxyActivities<typeof bareActivities>({
  startToCloseTimeout: '1 minute',
});

export async function bareGrant(userName: string, group: string, durationSeconds: number): Promise<void> {
  let approved = false;
  setHandler(bareApprove, () => {
    approved = true;
  });
  await condition(() => approved);
  await addToGroup(userName, group);
  await readBack(userName, group);
  await sleep(durationSeconds * 1000);
  await removeFromGroup(userName, group);
}

/**
 * The baseline for the bunched-expiry figure: a timer to `expiresAtMs`, then a removal and one
 * read-back (no-op activities, as the product's no-op provider there). Its lateness is its close
 * time minus `expiresAtMs`.
 */
export async function bareExpiry(expiresAtMs: number): Promise<void> {
  await sleep(Math.max(0, expiresAtMs - Date.now()));
  await noopRemove();
  await noopReadBack();
}
