/**
 * Opens what every server process shares: the live policy (config), the message signer, and the
 * database with its stores. `npm start` opens it once for its in-process worker and API; `npm run
 * worker` / `npm run api` each open their own. The worker's own parts (providers, notifiers, its
 * Temporal connection) are opened over it by `startWorker` (worker/worker.ts): the API process never
 * loads a provider's SDK or Temporal's native runtime.
 */
import path from 'node:path';
import type { Knex } from 'knex';
import pino, { type Logger } from 'pino';
import { resolveConfigPath } from '../config/load';
import { configWarnings } from '../config/warnings';
import { ChatMessageStore } from '../db/chatMessageStore';
import { databaseUrlFromEnv, openDatabase, sqliteFileOf, type DatabaseLogger } from '../db/database';
import { GrantLeaseStore } from '../db/grantLeaseStore';
import { ReconcileEventStore } from '../db/reconcileEventStore';
import { RequestStore } from '../db/requestStore';
import { SignInStore } from '../db/signInStore';
import { TeamsStore } from '../db/teamsStore';
import { TokenStore } from '../db/tokenStore';
import { describePolicyChange, LivePolicy } from './livePolicy';
import { MessageSigner, signingKeyFromEnvironment } from './messageSigning';
import type { Policy } from './policy';

export interface Runtime {
  policy: LivePolicy;
  configPath: string;
  database: Knex;
  requests: RequestStore;
  tokens: TokenStore;
  /** Sessions, login links, sign-ins in progress and device codes. */
  signIn: SignInStore;
  leases: GrantLeaseStore;
  reconcileEvents: ReconcileEventStore;
  /** The chat messages the notifiers posted, to update them in place. */
  chatMessages: ChatMessageStore;
  /** The Teams bot's conversation references and who is who in Teams. */
  teams: TeamsStore;
  /** Signs what the API sends through Temporal; the worker's activities verify it. */
  signing: MessageSigner;
  /** The process's logger (silent when none was given). */
  logger: Logger;
  close(): Promise<void>;
}

export interface RuntimeOptions {
  /** Default P0_CONFIG, else config/p0.yaml, else the example. */
  configPath?: string;
  /** Default DATABASE_URL, else the embedded SQLite file data/p0.sqlite. */
  databaseUrl?: string;
  /** Logs the database's warnings and, with `watch`, the policy's reloads. */
  logger?: Logger;
  /** Where the database's warnings go instead of `logger` (a test that listens to them). */
  databaseLogger?: DatabaseLogger;
  /** Reload the policy when its file changes (see watchPolicy): what every server process does. */
  watch?: boolean;
}

export async function openRuntime(options: RuntimeOptions = {}): Promise<Runtime> {
  const logger = options.logger ?? pino({ level: 'silent' });
  const configPath = path.resolve(options.configPath ?? resolveConfigPath());
  const policy = LivePolicy.load(configPath);
  const databaseUrl = options.databaseUrl ?? databaseUrlFromEnv();
  // Before the database opens: a missing or bad key fails fast, naming what to set.
  const signing = new MessageSigner(signingKeyFromEnvironment({ keyFileDir: embeddedDataDir(databaseUrl) }).key);
  const databaseLog = options.logger?.child({ component: 'database' });
  const database = await openDatabase({
    url: databaseUrl,
    logger:
      options.databaseLogger ??
      (databaseLog && { warn: (message) => databaseLog.warn(message), error: (message) => databaseLog.error(message), debug: (message) => databaseLog.debug(message) }),
  });
  if (options.watch) watchPolicy(policy, logger);
  return {
    policy,
    configPath,
    database,
    requests: new RequestStore(database),
    tokens: new TokenStore(database),
    signIn: new SignInStore(database),
    leases: new GrantLeaseStore(database),
    reconcileEvents: new ReconcileEventStore(database),
    chatMessages: new ChatMessageStore(database),
    teams: new TeamsStore(database),
    signing,
    logger,
    close: async () => {
      policy.close();
      await database.destroy();
    },
  };
}

/**
 * Where the embedded default keeps its generated signing key: beside the SQLite file (`data/`).
 * PostgreSQL means processes on several machines: they must be given one key (P0_SIGNING_KEY).
 */
function embeddedDataDir(databaseUrl: string | undefined): string | undefined {
  const sqliteFile = sqliteFileOf({ url: databaseUrl });
  return sqliteFile === undefined || sqliteFile === ':memory:' ? undefined : path.dirname(path.resolve(sqliteFile));
}

/** Reloads the policy when its file changes, logging what happened and what looks wrong in it. */
export function watchPolicy(policy: LivePolicy, logger: Logger): void {
  const warnAbout = (current: Policy) => {
    for (const warning of configWarnings(current.config)) logger.warn({ policyVersion: current.version }, warning);
  };
  warnAbout(policy.current());
  let previousVersion = policy.current().version;
  policy.onChange((next, change) => {
    logger.info({ policyVersion: next.version, previousVersion, change }, `config reloaded: ${describePolicyChange(change)}`);
    previousVersion = next.version;
    warnAbout(next);
  });
  policy.watch((error) => logger.error(`config change refused, keeping the previous one:\n${error.message}`));
}

/** JSON lines for log collectors; readable lines when a person watches a terminal. */
export function createLogger(name: string): Logger {
  const level = process.env.LOG_LEVEL ?? 'info';
  if (process.stdout.isTTY && !process.env.LOG_JSON) {
    return pino({ name, level, transport: { target: 'pino-pretty', options: { translateTime: 'SYS:HH:MM:ss', ignore: 'pid,hostname' } } });
  }
  return pino({ name, level });
}

/**
 * Runs a process's `main`. A failure ends the process with one line, `name: message`, and exit
 * status 1: a person starting it sees what to fix, never a stack trace.
 */
export function runMain(name: string, main: () => Promise<void>): void {
  main().catch((error: unknown) => {
    console.error(`${name}: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  });
}
