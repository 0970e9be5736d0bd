/**
 * Opens what every server process shares: the validated config and the database with its stores.
 * `npm start` opens it once for its in-process worker and API; `npm run worker` / `npm run api`
 * each open their own.
 */
import path from 'node:path';
import type { Knex } from 'knex';
import pino, { type Logger } from 'pino';
import { loadConfig, resolveConfigPath } from '../config/load';
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
  const configPath = options.configPath ?? resolveConfigPath();
  const { config } = loadConfig(configPath);
  const database = await openDatabase({ url: options.databaseUrl ?? databaseUrlFromEnv() });
  return {
    config,
    configPath: path.resolve(configPath),
    database,
    requests: await RequestStore.create({ database }),
    tokens: await TokenStore.create({ database }),
    leases: await GrantLeaseStore.create({ database }),
    close: () => database.destroy(),
  };
}

/** JSON lines for log collectors; readable lines when a person watches a terminal. */
export function createLogger(name: string): Logger {
  const level = process.env.LOG_LEVEL ?? 'info';
  if (process.stdout.isTTY && !process.env.LOG_JSON) {
    return pino({ name, level, transport: { target: 'pino-pretty', options: { translateTime: 'SYS:HH:MM:ss', ignore: 'pid,hostname' } } });
  }
  return pino({ name, level });
}
