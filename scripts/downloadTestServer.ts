/**
 * The first way scripts/ensure-temporal-test-server.sh tries: the TypeScript SDK's own download of
 * Temporal's time-skipping test server (the native build published for this SDK version), into the
 * directory given. On success the directory holds `server`, a symlink to the binary, and the exit
 * code is 0; offline it gives up within seconds (exit 2) so the caller can fall back to Maven.
 *   npx tsx scripts/downloadTestServer.ts <dir>
 */
import dns from 'node:dns/promises';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { TestWorkflowEnvironment } from '@temporalio/testing';

/** Where the SDK downloads from (its core's download host). */
const DOWNLOAD_HOST = 'temporal.download';
const REACH_TIMEOUT_MS = 3000;
const DOWNLOAD_TIMEOUT_MS = 240_000;

async function main(): Promise<number> {
  const [dir] = process.argv.slice(2);
  if (!dir) throw new Error('usage: npx tsx scripts/downloadTestServer.ts <dir>');
  if (!(await reachable(DOWNLOAD_HOST, 443))) {
    console.error(`downloadTestServer: ${DOWNLOAD_HOST} cannot be reached (offline?): not downloading`);
    return 2;
  }
  fs.mkdirSync(dir, { recursive: true });
  // Starting the environment is what downloads the server; it also proves the binary runs.
  const env = await withTimeout(
    TestWorkflowEnvironment.createTimeSkipping({ server: { executable: { type: 'cached-download', downloadDir: dir } } }),
    DOWNLOAD_TIMEOUT_MS,
    'the download',
  );
  await env.teardown();
  const binary = fs
    .readdirSync(dir)
    .filter((name) => name.startsWith('temporal-test-server') && !/\.(lock|tmp|part|zip|tar\.gz)$/.test(name))
    .map((name) => path.join(dir, name))
    .find((file) => fs.statSync(file).isFile() && (fs.statSync(file).mode & 0o111) !== 0);
  if (!binary) throw new Error(`the SDK started a test server, but no executable was left in ${dir}`);
  const link = path.join(dir, 'server');
  fs.rmSync(link, { force: true });
  fs.symlinkSync(path.basename(binary), link);
  console.error(`downloadTestServer: ${binary}`);
  return 0;
}

/** Whether a TCP connection to host:port opens within REACH_TIMEOUT_MS (name look-up included). */
async function reachable(host: string, port: number): Promise<boolean> {
  try {
    const { address } = await withTimeout(dns.lookup(host), REACH_TIMEOUT_MS, 'the name look-up');
    return await new Promise<boolean>((resolve) => {
      const socket = net.connect({ host: address, port, timeout: REACH_TIMEOUT_MS });
      const done = (ok: boolean) => {
        socket.destroy();
        resolve(ok);
      };
      socket.once('connect', () => done(true));
      socket.once('timeout', () => done(false));
      socket.once('error', () => done(false));
    });
  } catch {
    return false;
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took longer than ${ms / 1000} s`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`downloadTestServer: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  },
);
