/**
 * Opens what every server process shares: the validated config and the database with its stores.
 * `npm start` opens it once for its in-process worker and API; `npm run worker` / `npm run api`
 * each open their own.
 */
import type { Knex } from 'knex';
import pino, { type Logger } from 'pino';
import { loadConfig } from '../config/load';
import type { P0Config } from '../config/schema';
import { databaseUrlFromEnv, openDatabase } from '../db/database';
import { GrantLeaseStore } from '../db/grantLeaseStore';
import { RequestStore } from '../db/requestStore';
import { TokenStore } from '../db/tokenStore';

export interface Runtime {
  config: P0Config;
  configPath: string;
  database: Knex;
  requests: RequestStore;
  tokens: TokenStore;
  leases: GrantLeaseStore;
  close(): Promise<void>;
}

export async function openRuntime(options: { configPath?: string; databaseUrl?: string } = {}): Promise<Runtime> {
  const { config, path: configPath } = loadConfig(options.configPath);
  const database = await openDatabase({ url: options.databaseUrl ?? databaseUrlFromEnv() });
  return {
    config,
    configPath,
    database,
    requests: await RequestStore.create({ database }),
    tokens: await TokenStore.create({ database }),
    leases: await GrantLeaseStore.create({ database }),
    close: () => database.destroy(),
  };
}

export function createLogger(name: string): Logger {
  return pino({ name, level: process.env.LOG_LEVEL ?? 'info' });
}
