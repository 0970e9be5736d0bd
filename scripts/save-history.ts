/**
 * Saves a finished accessRequest workflow's history as a replay fixture:
 *   TEMPORAL_ADDRESS=127.0.0.1:7233 npx tsx scripts/save-history.ts <requestId> <name>
 * writes test/fixtures/histories/<name>.json (the Temporal CLI's JSON, the format Temporal's own
 * replay tooling reads), which test/replay.test.ts replays against the current workflow code.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { temporalTarget, type TemporalTarget } from '../service/temporal';
import { temporalCliPath } from './temporalDevServer';

/** Writes the history of workflow `requestId` to test/fixtures/histories/<name>.json; returns the file. */
export async function saveHistory(requestId: string, name: string, target: Pick<TemporalTarget, 'address' | 'namespace'> = temporalTarget()): Promise<string> {
  const json = execFileSync(
    await temporalCliPath(),
    ['workflow', 'show', '--workflow-id', requestId, '--address', target.address, '--namespace', target.namespace, '--output', 'json'],
    { maxBuffer: 64 << 20, encoding: 'utf8' },
  );
  const file = path.join(__dirname, '..', 'test', 'fixtures', 'histories', `${name}.json`);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, json);
  return file;
}

async function main(): Promise<void> {
  const [requestId, name] = process.argv.slice(2);
  if (!requestId || !name) throw new Error('usage: npx tsx scripts/save-history.ts <requestId> <name>');
  const file = await saveHistory(requestId, name);
  console.log(`wrote ${path.relative(process.cwd(), file)}`);
}

if (require.main === module) {
  main().catch((error: unknown) => {
    console.error(`save-history: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  });
}
