/**
 * The worker process dies hard (kill -9) while access is active; a new one starts. The expiry timer
 * lives in Temporal, so the grant is still revoked on time and IAM ends as it began.
 */
import assert from 'node:assert/strict';
import { Harness } from './support/harness';
import { ensureCatalogObjects, holdings, newRequester } from './support/iam';
import { startWorkerProcess, type WorkerProcess } from './support/workerProcess';

describe('worker killed and restarted', function () {
  this.timeout(240_000);
  let h: Harness;
  let worker: WorkerProcess | undefined;

  before(async () => {
    h = await Harness.start(undefined, { withWorker: false });
    await ensureCatalogObjects(h.iam);
  });
  after(async () => {
    await worker?.kill();
    await h?.stop();
  });

  it('still revokes the grant on time after a kill -9 while it is active', async () => {
    worker = await startWorkerProcess(h);
    const { email, userName } = await newRequester(h.iam);
    const before = await holdings(h.iam, userName);
    const created = await h.request(email, { provider: 'aws', kind: 'group', target: 'Developers', reason: 'restart test', duration: '30s' });
    await h.act('bob@example.com', created.id, 'approve');
    const active = await h.waitFor(email, created.id, ['active'], 60_000);
    assert.deepEqual((await holdings(h.iam, userName)).groups, ['Developers']);

    await worker.kill('SIGKILL');
    worker = await startWorkerProcess(h);
    assert.ok(Date.now() < Date.parse(active.expiresAt!), 'the new worker is up before the grant expires');

    const expired = await h.waitFor(email, created.id, ['expired'], 90_000);
    const latenessMs = Date.parse(expired.endedAt!) - Date.parse(active.expiresAt!);
    assert.ok(latenessMs >= 0 && latenessMs < 10_000, `revoked ${latenessMs} ms after expiry`);
    assert.deepEqual(await holdings(h.iam, userName), before);
  });

  it('carries on a request that was pending when the worker died', async () => {
    const { email, userName } = await newRequester(h.iam);
    const created = await h.request(email, { provider: 'aws', kind: 'group', target: 'Developers', reason: 'restart test', duration: '3s' });
    await h.waitFor(email, created.id, ['pending']);
    await worker!.kill('SIGKILL');
    // Approved while no worker runs: the update waits in Temporal until a worker is back.
    const approval = h.act('bob@example.com', created.id, 'approve');
    worker = await startWorkerProcess(h);
    assert.equal((await approval).status, 200);
    await h.waitFor(email, created.id, ['expired'], 60_000);
    assert.deepEqual((await holdings(h.iam, userName)).groups, []);
  });
});
