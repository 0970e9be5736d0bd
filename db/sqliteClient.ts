/**
 * Which better-sqlite3 build this Node.js can load. better-sqlite3 12 (node::ObjectWrap) aborts on
 * Node 24.19+ when a statement is garbage-collected (`RemoveEnvironmentCleanupHook: (env) !=
 * nullptr`), and 13 (Node-API) needs Node 22+ and crashes on Node 20. Both are installed (13 under
 * the alias `better-sqlite3-napi`, with prebuilt binaries) and the one this runtime supports is used,
 * through knex's own better-sqlite3 dialect.
 */
import type { Knex } from 'knex';

// knex ships this dialect without type declarations.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const KnexBetterSqlite3 = require('knex/lib/dialects/better-sqlite3') as new (config: Knex.Config) => Knex.Client;

const NODE_MAJOR = Number(process.versions.node.split('.')[0]);

/** The npm package providing better-sqlite3 for this Node.js. */
export const SQLITE_DRIVER_PACKAGE = NODE_MAJOR >= 22 ? 'better-sqlite3-napi' : 'better-sqlite3';

export class SqliteClient extends KnexBetterSqlite3 {
  // Keeps `client: 'better-sqlite3'` semantics (dialect, query compiler) with the right driver.
  _driver(): unknown {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require(SQLITE_DRIVER_PACKAGE);
  }
}
