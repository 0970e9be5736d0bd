/**
 * Opens the product's database and brings its schema up to date. SQLite (one file, shared by the
 * worker and API processes) is the embedded default; PostgreSQL when a `postgres://` URL is given.
 * Both run the same migrations and the same stores.
 */
import path from 'node:path';
import knex, { type Knex } from 'knex';
import * as initialSchema from './migrations/0001_initial';
import * as chatMessagesSchema from './migrations/0002_chat_messages';
import * as reconcilerSchema from './migrations/0003_reconciler';
import * as grantPrincipalSchema from './migrations/0004_grant_principal';
import * as grantRunSchema from './migrations/0005_grant_run';
import * as signInSchema from './migrations/0006_sign_in';
import * as teamsSchema from './migrations/0007_teams';
import { makePrivateDir, makePrivateFile } from './privateFiles';
import { SqliteClient } from './sqliteClient';

export const DEFAULT_SQLITE_PATH = path.join('data', 'p0.sqlite');

/** How long a SQLite statement waits for another process's write to finish before failing. */
const SQLITE_BUSY_TIMEOUT_MS = 5_000;

/**
 * Migrations are imported, not globbed from a directory, so the same list is used under tsx and in
 * compiled JavaScript. Append new ones here; never rename or reorder the old ones.
 */
const MIGRATIONS: ReadonlyArray<readonly [name: string, migration: Knex.Migration]> = [
  ['0001_initial', initialSchema],
  ['0002_chat_messages', chatMessagesSchema],
  ['0003_reconciler', reconcilerSchema],
  ['0004_grant_principal', grantPrincipalSchema],
  ['0005_grant_run', grantRunSchema],
  ['0006_sign_in', signInSchema],
  ['0007_teams', teamsSchema],
];

const migrationSource: Knex.MigrationSource<string> = {
  getMigrations: () => Promise.resolve(MIGRATIONS.map(([name]) => name)),
  getMigrationName: (name) => name,
  getMigration: (name) => {
    const found = MIGRATIONS.find(([candidate]) => candidate === name);
    return found ? Promise.resolve(found[1]) : Promise.reject(new Error(`Unknown migration ${name}`));
  },
};

export interface OpenDatabaseOptions {
  /** `postgres://` or `postgresql://` for PostgreSQL; `sqlite:<path>` or empty for SQLite. */
  url?: string;
  /** The SQLite file when no URL names one. Default `data/p0.sqlite`. */
  sqlitePath?: string;
  /**
   * Where knex's own warnings go (e.g. "Acquire connection error" while PostgreSQL is down), one line
   * each; without it knex prints them, stack traces and all, to the console.
   */
  logger?: DatabaseLogger;
}

export interface DatabaseLogger {
  warn(message: string): void;
  error(message: string): void;
  debug(message: string): void;
}

/** DATABASE_URL, or undefined for the embedded SQLite default. */
export function databaseUrlFromEnv(): string | undefined {
  return process.env.DATABASE_URL?.trim() || undefined;
}

export function isPostgres(database: Knex): boolean {
  return (database.client as Knex.Client).config.client === 'pg';
}

export async function openDatabase(options: OpenDatabaseOptions = {}): Promise<Knex> {
  const database = knex({ ...connectionConfig(options), ...(options.logger ? { log: knexLog(options.logger) } : {}) });
  try {
    await migrate(database);
  } catch (error) {
    await database.destroy();
    throw error;
  }
  return database;
}

/** The SQLite file these options open (the embedded default), or undefined for PostgreSQL. */
export function sqliteFileOf(options: Pick<OpenDatabaseOptions, 'url' | 'sqlitePath'>): string | undefined {
  const url = options.url?.trim();
  if (url && /^postgres(ql)?:\/\//i.test(url)) return undefined;
  if (!url) return options.sqlitePath ?? DEFAULT_SQLITE_PATH;
  const match = /^(?:sqlite|file):(?:\/\/)?(.+)$/i.exec(url);
  if (!match) {
    // Never echo the URL itself: it may carry a password.
    const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(url)?.[1] ?? 'none';
    throw new Error(`Unsupported database URL (scheme "${scheme}"): use postgres://... for PostgreSQL, or sqlite:<path> / no URL for SQLite`);
  }
  return match[1]!;
}

function connectionConfig(options: OpenDatabaseOptions): Knex.Config {
  const sqlitePath = sqliteFileOf(options);
  if (sqlitePath === undefined) return { client: 'pg', connection: options.url!.trim() };
  if (sqlitePath !== ':memory:') {
    // SQLite gives its -wal and -shm files the database file's mode: 0600 covers them too.
    makePrivateDir(path.dirname(path.resolve(sqlitePath)));
    makePrivateFile(sqlitePath);
  }
  return {
    client: SqliteClient as unknown as typeof Knex.Client,
    connection: { filename: sqlitePath },
    useNullAsDefault: true,
    pool: {
      // better-sqlite3 is synchronous: one connection per process; other processes share the file.
      min: 1,
      max: 1,
      afterCreate: (connection: SqliteConnection, done: (error: Error | null, connection: SqliteConnection) => void) => {
        try {
          // busy_timeout first: switching to WAL needs a lock another process may briefly hold.
          connection.pragma(`busy_timeout = ${SQLITE_BUSY_TIMEOUT_MS}`);
          // WAL lets the API read while the worker writes.
          connection.pragma('journal_mode = WAL');
          connection.pragma('foreign_keys = ON');
          done(null, connection);
        } catch (error) {
          done(error as Error, connection);
        }
      },
    },
  };
}

/** The part of better-sqlite3's Database used here (the package ships no types of its own). */
interface SqliteConnection {
  pragma(source: string): unknown;
}

/**
 * Runs the pending migrations while holding a database-wide lock, so processes starting together
 * (worker and API) take turns: knex's own lock table is created by read-then-insert, and two
 * processes racing on a fresh database can leave it permanently "locked".
 */
async function migrate(database: Knex): Promise<void> {
  if (!isPostgres(database)) {
    // An empty table whose only use is a no-op write: in SQLite the first write of a transaction
    // takes the database's write lock (waiting busy_timeout for it), as BEGIN IMMEDIATE would.
    await database.raw('CREATE TABLE IF NOT EXISTS p0_migration_guard (id INTEGER)');
  }
  await database.transaction(async (trx) => {
    if (isPostgres(database)) {
      await trx.raw('SELECT pg_advisory_xact_lock(?, 0)', [ADVISORY_LOCK_CLASS.migrations]);
    } else {
      await takeSqliteWriteLock(trx, 'p0_migration_guard');
    }
    await trx.migrate.latest({ migrationSource });
  });
}

/**
 * SQLite only: takes the database's write lock now, as `BEGIN IMMEDIATE` would (knex begins
 * transactions with a plain `BEGIN`). Call it first in a transaction that reads before it writes:
 * a transaction that has read cannot wait for the lock when another process wrote meanwhile, it
 * fails at once with SQLITE_BUSY; one that takes the lock first waits up to the busy timeout.
 */
export async function takeSqliteWriteLock(trx: Knex.Transaction, table: string): Promise<void> {
  // A write matching no rows still starts the write transaction.
  await trx.raw('UPDATE ?? SET rowid = rowid WHERE 0', [table]);
}

/**
 * First keys of PostgreSQL's two-key advisory locks, one per purpose, so the product's locks never
 * collide with each other (or with another application's single-key locks).
 */
export const ADVISORY_LOCK_CLASS = {
  migrations: 0x7030_0001,
  grantLeases: 0x7030_0002,
} as const;

/** knex's messages carry a stack trace after the first line: the log keeps the line. */
function knexLog(logger: DatabaseLogger): Knex.Config['log'] {
  const firstLine = (message: unknown) => String(message).split('\n')[0]!;
  return {
    warn: (message: unknown) => logger.warn(firstLine(message)),
    error: (message: unknown) => logger.error(firstLine(message)),
    deprecate: (method: string, alternative: string) => logger.warn(`knex: ${method} is deprecated, use ${alternative}`),
    debug: (message: unknown) => logger.debug(firstLine(message)),
  };
}
