/** The Kubernetes provider's per-call retries: which failures are the cluster's passing trouble. */
import assert from 'node:assert/strict';
import { retryDelayMs, withTransientRetries, type TransientRetrySettings } from '../providers/k8s/transientRetries';

const FAST: TransientRetrySettings = { attempts: 4, baseDelayMs: 1, maxDelayMs: 5, callTimeoutMs: 50 };

/** What @kubernetes/client-node throws for an HTTP answer. */
function apiException(code: number, headers: Record<string, string> = {}): Error {
  return Object.assign(new Error(`HTTP-Code: ${code}`), { code, body: JSON.stringify({ kind: 'Status', code }), headers });
}

function connectionError(code: string): Error {
  return Object.assign(new Error(`request failed, reason: ${code}`), { code, type: 'system' });
}

function flakyApi(failures: Array<Error | 'hang'>) {
  let calls = 0;
  return {
    get calls() {
      return calls;
    },
    readThing(name: string): Promise<string> {
      calls += 1;
      const failure = failures.shift();
      return failure === 'hang' ? new Promise(() => undefined) : failure ? Promise.reject(failure) : Promise.resolve(`thing ${name}`);
    },
  };
}

describe('Kubernetes transient retries', () => {
  it('retries 429, 5xx, resets and unanswered calls, then answers', async () => {
    const api = flakyApi([apiException(429, { 'retry-after': '0' }), apiException(503), connectionError('ECONNRESET')]);
    assert.equal(await withTransientRetries(api, FAST).readThing('x'), 'thing x');
    assert.equal(api.calls, 4);
    const hanging = flakyApi(['hang']);
    assert.equal(await withTransientRetries(hanging, FAST).readThing('y'), 'thing y');
    assert.equal(hanging.calls, 2);
  });

  it('never retries what the caller got wrong, and gives up after the last attempt', async () => {
    const notFound = flakyApi([apiException(404)]);
    await assert.rejects(withTransientRetries(notFound, FAST).readThing('x'), /HTTP-Code: 404/);
    assert.equal(notFound.calls, 1);
    const down = flakyApi([apiException(503), apiException(503), apiException(503), apiException(503), apiException(503)]);
    await assert.rejects(withTransientRetries(down, FAST).readThing('x'), /HTTP-Code: 503/);
    assert.equal(down.calls, 4);
    assert.equal(retryDelayMs(new TypeError('bug'), 1, FAST), undefined);
  });

  it('waits what Retry-After asks, within the cap', () => {
    assert.equal(retryDelayMs(apiException(429, { 'retry-after': '1' }), 1, { ...FAST, maxDelayMs: 5_000 }), 1000);
    assert.equal(retryDelayMs(apiException(429, { 'retry-after': '60' }), 1, { ...FAST, maxDelayMs: 2_000 }), 2000);
    assert.equal(retryDelayMs(apiException(500), 3, { ...FAST, baseDelayMs: 100, maxDelayMs: 10_000 }), 400);
  });
});
