/** The worker's cache limit from the environment: a clear refusal for a value the workflow cannot run with. */
import assert from 'node:assert/strict';
import { DEFAULT_MAX_CACHED_WORKFLOWS, maxCachedWorkflowsFromEnv } from '../../worker/worker';

describe('P0_WORKER_MAX_CACHED_WORKFLOWS', () => {
  it('defaults to an explicit limit, and takes a whole number', () => {
    assert.equal(maxCachedWorkflowsFromEnv({}), DEFAULT_MAX_CACHED_WORKFLOWS);
    assert.equal(maxCachedWorkflowsFromEnv({ P0_WORKER_MAX_CACHED_WORKFLOWS: ' 250 ' }), 250);
  });

  it('refuses 0 (local activities would be dropped) and anything not a whole number, naming the variable', () => {
    for (const raw of ['0', '-5', '1.5', 'lots']) {
      assert.throws(() => maxCachedWorkflowsFromEnv({ P0_WORKER_MAX_CACHED_WORKFLOWS: raw }), (error: Error) => {
        assert.match(error.message, /P0_WORKER_MAX_CACHED_WORKFLOWS must be a whole number of at least 1/);
        assert.ok(error.message.includes(`"${raw}"`));
        return true;
      });
    }
  });
});
