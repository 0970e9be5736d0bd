/**
 * Histories recorded from real runs must replay against the current workflow code: a change that
 * alters the command sequence without `patched()` breaks running requests in production, and
 * fails here first. Record a new one with `npx tsx scripts/save-history.ts` (see docs/development.md).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { Worker } from '@temporalio/worker';
import { sharedWorkflowBundle } from './support/temporal';

const HISTORY_DIR = path.join(__dirname, 'fixtures', 'histories');

describe('workflow replay', function () {
  this.timeout(120_000);

  it('replays every stored accessRequest history without nondeterminism', async () => {
    const files = fs.readdirSync(HISTORY_DIR).filter((file) => file.endsWith('.json'));
    assert.ok(files.length > 0, `no histories in ${HISTORY_DIR}`);
    const histories = files.map((file) => ({
      workflowId: path.basename(file, '.json'),
      history: JSON.parse(fs.readFileSync(path.join(HISTORY_DIR, file), 'utf8')) as unknown,
    }));
    const workflowBundle = await sharedWorkflowBundle();
    const results = Worker.runReplayHistories({ workflowBundle }, histories);
    for await (const result of results) {
      assert.equal(result.error, undefined, `${result.workflowId}: ${String(result.error)}`);
    }
  });
});
