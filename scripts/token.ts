/**
 * `npm run token -- <email> [--admin] [--lifetime 90d]`: prints a new API token for automation or a
 * service account (only its hash is stored). Without --lifetime it never expires; people use `p0 login`.
 */
import { parseArgs } from 'node:util';
import { databaseUrlFromEnv, openDatabase } from '../db/database';
import { TokenStore } from '../db/tokenStore';
import { normalizeEmail } from '../service/identity';
import { parseDurationMs } from '../shared/duration';

const USAGE = 'usage: npm run token -- <email> [--admin] [--lifetime 90d]';

async function main(): Promise<void> {
  const { positionals, values } = parseArgs({ allowPositionals: true, options: { admin: { type: 'boolean', default: false }, lifetime: { type: 'string' } } });
  const lifetimeMs = values.lifetime === undefined ? undefined : parseDurationMs(values.lifetime);
  const typed = positionals[0];
  if (positionals.length !== 1 || typed === undefined) throw new Error(`give one email address\n${USAGE}`);
  // The token belongs to the normalised address: Alice@Example.com and alice@example.com are one person.
  let email: string;
  try {
    email = normalizeEmail(typed);
  } catch (error) {
    throw new Error(`${(error as Error).message}\n${USAGE}`, { cause: error });
  }
  const database = await openDatabase({ url: databaseUrlFromEnv() });
  try {
    const tokens = new TokenStore(database);
    console.log(await tokens.issue(email, { admin: values.admin, lifetimeMs, label: 'npm run token' }));
  } finally {
    await database.destroy();
  }
}

main().catch((error: unknown) => {
  console.error(`p0 token: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
