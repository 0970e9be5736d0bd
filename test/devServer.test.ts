/**
 * `npm start`'s Temporal dev server has no authentication: whoever reaches its gRPC port or its Web
 * UI can start and message workflows. It must listen on loopback only. The server is started the way
 * `npm start` starts it (scripts/temporalDevServer.ts startEmbeddedTemporal), and this machine's own
 * addresses are the only ones connected to.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { startEmbeddedTemporal, type DevServer } from '../scripts/temporalDevServer';
import { freePort } from './support/net';

const LOOPBACK = ['127.0.0.1', '::1'];

describe("npm start's Temporal dev server", function () {
  this.timeout(120_000);
  let dataDir: string;
  let server: DevServer | undefined;
  let port: number;
  let uiPort: number;

  before(async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'p0-devserver-'));
    [port, uiPort] = [await freePort(), await freePort()];
    server = await startEmbeddedTemporal({ dataDir, port, uiPort });
  });
  after(async () => {
    await server?.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('listens on loopback only: every port it opened, the gRPC frontend and the Web UI included', () => {
    const listening = listeningAddresses(server!.pid);
    assert.ok(listening.some((entry) => entry.port === port), `gRPC port ${port} not among ${JSON.stringify(listening)}`);
    assert.ok(listening.some((entry) => entry.port === uiPort), `Web UI port ${uiPort} not among ${JSON.stringify(listening)}`);
    for (const entry of listening) assert.ok(LOOPBACK.includes(entry.address), `listening on ${entry.address}:${entry.port}`);
  });

  it("answers on loopback and refuses this machine's other addresses", async () => {
    for (const target of [port, uiPort]) assert.equal(await connects('127.0.0.1', target), true, `loopback :${target}`);
    const others = Object.values(os.networkInterfaces())
      .flat()
      .filter((entry) => entry !== undefined && !entry.internal && !entry.address.startsWith('fe80:'))
      .map((entry) => entry!.address);
    for (const address of others) {
      for (const target of [port, uiPort]) assert.equal(await connects(address, target), false, `${address}:${target} answered`);
    }
  });
});

/** Whether a TCP connection to address:port opens (refused, or nothing within 2 s: false). */
function connects(address: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: address, port, timeout: 2000 });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(false));
  });
}

/** The TCP sockets a process listens on, from /proc (Linux): its socket inodes matched to /proc/net/tcp{,6}. */
function listeningAddresses(pid: number): Array<{ address: string; port: number }> {
  const inodes = new Set(
    fs
      .readdirSync(`/proc/${pid}/fd`)
      .map((fd) => {
        try {
          return /^socket:\[(\d+)\]$/.exec(fs.readlinkSync(`/proc/${pid}/fd/${fd}`))?.[1];
        } catch {
          return undefined; // closed meanwhile
        }
      })
      .filter((inode): inode is string => inode !== undefined),
  );
  const found: Array<{ address: string; port: number }> = [];
  for (const [file, decode] of [
    ['/proc/net/tcp', decodeIpv4],
    ['/proc/net/tcp6', decodeIpv6],
  ] as const) {
    for (const line of fs.readFileSync(file, 'utf8').split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      if (fields.length < 10 || fields[3] !== '0A' || !inodes.has(fields[9]!)) continue; // 0A: LISTEN
      const [hexAddress, hexPort] = fields[1]!.split(':') as [string, string];
      found.push({ address: decode(hexAddress), port: parseInt(hexPort, 16) });
    }
  }
  return found;
}

/** /proc/net/tcp writes an IPv4 address as one little-endian 32-bit hex word. */
function decodeIpv4(hex: string): string {
  return [3, 2, 1, 0].map((index) => parseInt(hex.slice(index * 2, index * 2 + 2), 16)).join('.');
}

/** Four little-endian 32-bit words; IPv4-mapped addresses come back as IPv4. */
function decodeIpv6(hex: string): string {
  const bytes = Buffer.alloc(16);
  for (let word = 0; word < 4; word++) bytes.writeUInt32LE(parseInt(hex.slice(word * 8, word * 8 + 8), 16), word * 4);
  const groups = Array.from({ length: 8 }, (_, index) => bytes.readUInt16BE(index * 2).toString(16));
  const text = groups.join(':').replace(/(^|:)0(:0)+(:|$)/, '::');
  if (text.startsWith('::ffff:')) return [12, 13, 14, 15].map((index) => bytes[index]).join('.');
  return text === '::' ? '::' : text;
}
