/**
 * The files the product keeps its state in hold tokens' hashes, requests and Temporal's workflow
 * histories: the data directory is created private to its owner (0700), the databases, their WAL
 * files and the Temporal dev server's log and pid files readable and writable by their owner only
 * (0600), whatever the process's umask allows.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openDatabase } from '../db/database';
import { TokenStore } from '../db/tokenStore';
import { startDevServer } from '../scripts/temporalDevServer';
import { freePort } from './support/net';

function modeOf(file: string): string {
  return (fs.statSync(file).mode & 0o777).toString(8);
}

describe('data files', function () {
  this.timeout(120_000);
  let dir: string;
  let previousUmask: number;

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'p0-data-files-'));
    // The usual umask: files 0644 and directories 0755 unless the product asks for less.
    previousUmask = process.umask(0o022);
  });
  afterEach(() => {
    process.umask(previousUmask);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('creates data/ 0700 and p0.sqlite (with its WAL files) 0600', async () => {
    const dataDir = path.join(dir, 'data');
    const sqlitePath = path.join(dataDir, 'p0.sqlite');
    const database = await openDatabase({ sqlitePath });
    try {
      await new TokenStore(database).issue('alice@example.com', { admin: false });
      assert.equal(modeOf(dataDir), '700');
      for (const file of [sqlitePath, `${sqlitePath}-wal`, `${sqlitePath}-shm`]) {
        assert.ok(fs.existsSync(file), `${file} exists`);
        assert.equal(modeOf(file), '600', path.basename(file));
      }
    } finally {
      await database.destroy();
    }
  });

  it('tightens a database file left readable to others by an earlier version', async () => {
    const sqlitePath = path.join(dir, 'p0.sqlite');
    fs.writeFileSync(sqlitePath, '');
    fs.chmodSync(sqlitePath, 0o644);
    const database = await openDatabase({ sqlitePath });
    try {
      assert.equal(modeOf(sqlitePath), '600');
      assert.equal(modeOf(dir), '700', 'the directory was made by mkdtemp, already private');
    } finally {
      await database.destroy();
    }
  });

  it('starts the Temporal dev server with data/ 0700 and temporal.db, its log and pid files 0600', async () => {
    const dataDir = path.join(dir, 'data');
    const dbFile = path.join(dataDir, 'temporal.db');
    const logFile = path.join(dataDir, 'temporal.log');
    const pidFile = path.join(dataDir, 'temporal.pid');
    const server = await startDevServer({ dbFile, logFile, pidFile, port: await freePort() });
    try {
      assert.equal(modeOf(dataDir), '700');
      for (const file of [dbFile, logFile, pidFile]) assert.equal(modeOf(file), '600', path.basename(file));
      // Whatever SQLite adds beside the database (journal, WAL) inherits the database file's mode.
      for (const file of fs.readdirSync(dataDir).filter((name) => name.startsWith('temporal.db'))) {
        assert.equal(modeOf(path.join(dataDir, file)), '600', file);
      }
    } finally {
      await server.stop();
    }
  });
});
