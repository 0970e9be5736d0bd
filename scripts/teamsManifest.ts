/**
 * `npm run teams-manifest -- --url https://p0.example.com [--out p0-teams.zip]`: the Teams app
 * package to upload in the Teams admin center (docs/teams.md): bots/teams/manifest/manifest.json with
 * the bot's id (TEAMS_APP_ID) and p0's public URL filled in, and its two icons, zipped. No
 * dependency: the icons are drawn and the zip written here (stored, not compressed).
 */
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { runMain } from '../service/runtime';

const TEMPLATE = path.join(__dirname, '..', 'bots', 'teams', 'manifest', 'manifest.json');
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function usage(problem: string): never {
  throw new Error(`${problem}\nusage: TEAMS_APP_ID=<bot app id> npm run teams-manifest -- --url https://p0.example.com [--out p0-teams.zip]`);
}

function main(): Promise<void> {
  const args = process.argv.slice(2);
  const option = (name: string) => {
    const index = args.indexOf(name);
    return index >= 0 ? args[index + 1] : undefined;
  };
  const appId = process.env.TEAMS_APP_ID?.trim() ?? '';
  if (!GUID.test(appId)) usage(`TEAMS_APP_ID must be the bot's Microsoft App ID (a GUID), got "${appId}"`);
  const url = option('--url');
  if (!url || !/^https:\/\/[^\s"]+$/.test(url)) usage('--url must be p0\'s public https URL');
  const out = path.resolve(option('--out') ?? 'p0-teams.zip');
  const manifest = fs.readFileSync(TEMPLATE, 'utf8').replaceAll('{{TEAMS_APP_ID}}', appId).replaceAll('{{P0_URL}}', url.replace(/\/+$/, ''));
  JSON.parse(manifest); // the filled template is still JSON
  fs.writeFileSync(
    out,
    zip([
      { name: 'manifest.json', data: Buffer.from(manifest) },
      { name: 'color.png', data: png(192, [0x2e, 0x5b, 0xff, 0xff]) },
      { name: 'outline.png', data: png(32, [0xff, 0xff, 0xff, 0xff]) },
    ]),
  );
  console.log(`${out}: upload it in Teams (Apps -> Manage your apps -> Upload an app) or the Teams admin center`);
  return Promise.resolve();
}

/** A square PNG of one colour (RGBA). */
function png(size: number, rgba: number[]): Buffer {
  const row = Buffer.concat([Buffer.from([0]), Buffer.from(Array.from({ length: size }, () => rgba).flat())]);
  const chunk = (type: string, data: Buffer) => {
    const length = Buffer.alloc(4);
    length.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(zlib.crc32(body));
    return Buffer.concat([length, body, crc]);
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(size, 0);
  header.writeUInt32BE(size, 4);
  header.set([8, 6, 0, 0, 0], 8); // 8 bits, RGBA, deflate, no filter, no interlace
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('IDAT', zlib.deflateSync(Buffer.concat(Array.from({ length: size }, () => row)))),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

/** A zip archive of the files, stored uncompressed. */
function zip(files: Array<{ name: string; data: Buffer }>): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const file of files) {
    const name = Buffer.from(file.name);
    const crc = zlib.crc32(file.data);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(file.data.length, 18);
    local.writeUInt32LE(file.data.length, 22);
    local.writeUInt16LE(name.length, 26);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(file.data.length, 20);
    central.writeUInt32LE(file.data.length, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt32LE(offset, 42);
    locals.push(local, name, file.data);
    centrals.push(central, name);
    offset += local.length + name.length + file.data.length;
  }
  const directory = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(files.length, 8);
  end.writeUInt16LE(files.length, 10);
  end.writeUInt32LE(directory.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, directory, end]);
}

runMain('teams-manifest', main);
