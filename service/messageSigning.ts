/**
 * Signs what the request service sends through Temporal (a workflow's input, every update), so the
 * worker can tell the product's own messages from anything else that reaches the namespace: anyone
 * who can talk to Temporal can start a workflow or send an update, and the workflow alone cannot
 * tell who did. HMAC-SHA256 with a key every API and worker process shares; the key never enters
 * workflow code (whatever a workflow is given lands in its history, readable in the namespace), so
 * signatures are checked in activities, which run in the worker's own process.
 *
 * The key comes from P0_SIGNING_KEY (base64 or hex, at least 32 bytes). On the embedded default
 * (SQLite: everything on one machine) it may instead be generated once into `signing.key` beside
 * the database file (`data/signing.key`), so `npm start`, `npm run api` and `npm run worker` agree.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

export const SIGNING_KEY_ENV = 'P0_SIGNING_KEY';
export const SIGNING_KEY_FILE = 'signing.key';
export const MIN_SIGNING_KEY_BYTES = 32;

/** What a signature is for: the same payload signed for one purpose never verifies for another. */
export const SIGNED_MESSAGE = {
  /** The AccessRequestInput a workflow is started with. */
  request: 'accessRequest',
} as const;

/** An update's purpose is its name (`approve`, `deny`, ...), so an approval cannot pass for a denial. */
export function updatePurpose(updateName: string): string {
  return `update:${updateName}`;
}

/** A key that cannot be used; the message says what to do. */
export class SigningKeyError extends Error {
  override readonly name = 'SigningKeyError';
}

const SIGNATURE_VERSION = 'v1';

export class MessageSigner {
  private readonly key: Buffer;

  constructor(key: Buffer) {
    if (key.length < MIN_SIGNING_KEY_BYTES) {
      throw new SigningKeyError(`A signing key must be at least ${MIN_SIGNING_KEY_BYTES} bytes (this one has ${key.length})`);
    }
    this.key = Buffer.from(key);
  }

  /** `v1.<base64url HMAC-SHA256>` over the canonical JSON of `{purpose, requestId, payload}`. */
  sign(purpose: string, requestId: string, payload: unknown): string {
    return `${SIGNATURE_VERSION}.${this.mac(purpose, requestId, payload).toString('base64url')}`;
  }

  /** False for anything but this key's signature of exactly this purpose, request and payload. */
  verify(purpose: string, requestId: string, payload: unknown, signature: unknown): boolean {
    if (typeof signature !== 'string') return false;
    const [version, encoded, ...rest] = signature.split('.');
    if (version !== SIGNATURE_VERSION || encoded === undefined || rest.length > 0) return false;
    const given = Buffer.from(encoded, 'base64url');
    const expected = this.mac(purpose, requestId, payload);
    return given.length === expected.length && timingSafeEqual(given, expected);
  }

  /** The message with a `signature` covering every other field of it. */
  signMessage<T extends object>(purpose: string, requestId: string, message: T): T & { signature: string } {
    return { ...message, signature: this.sign(purpose, requestId, withoutSignature(message)) };
  }

  /** Whether the message's own `signature` covers every other field of it. */
  verifyMessage(purpose: string, requestId: string, message: object): boolean {
    return this.verify(purpose, requestId, withoutSignature(message), (message as { signature?: unknown }).signature);
  }

  private mac(purpose: string, requestId: string, payload: unknown): Buffer {
    return createHmac('sha256', this.key).update(canonicalJson({ purpose, requestId, payload })).digest();
  }
}

function withoutSignature(message: object): Record<string, unknown> {
  const { signature: _signature, ...rest } = message as Record<string, unknown>;
  return rest;
}

/**
 * JSON with object keys sorted at every level, and undefined fields left out as JSON.stringify
 * does: what the API signs and what arrives at the worker through Temporal's JSON payloads give the
 * same text.
 */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value)) ?? 'null';
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value === null || typeof value !== 'object') return value;
  const sorted: Record<string, unknown> = {};
  for (const key of Object.keys(value).sort()) {
    const field = (value as Record<string, unknown>)[key];
    if (field !== undefined) sorted[key] = sortKeys(field);
  }
  return sorted;
}

/**
 * The signing key: P0_SIGNING_KEY, else (embedded default) `<keyFileDir>/signing.key`, generated
 * on first use. Without either (PostgreSQL, processes on several machines) it refuses to guess:
 * separate processes with separate keys would refuse each other's requests.
 */
export function signingKeyFromEnvironment(options: { env?: NodeJS.ProcessEnv; keyFileDir: string | undefined }): { key: Buffer; source: string } {
  const text = (options.env ?? process.env)[SIGNING_KEY_ENV]?.trim();
  if (text) return { key: parseSigningKey(text, SIGNING_KEY_ENV), source: SIGNING_KEY_ENV };
  if (!options.keyFileDir) {
    throw new SigningKeyError(
      `${SIGNING_KEY_ENV} is not set: set the same key on every API and worker process (e.g. \`openssl rand -base64 32\`)`,
    );
  }
  const file = path.join(options.keyFileDir, SIGNING_KEY_FILE);
  return { key: readOrCreateKeyFile(file), source: file };
}

/** Base64 (standard or URL-safe) or hex text of at least 32 bytes. */
export function parseSigningKey(text: string, source: string): Buffer {
  const trimmed = text.trim();
  let key: Buffer;
  if (/^(?:[0-9a-f]{2})+$/i.test(trimmed)) key = Buffer.from(trimmed, 'hex');
  else if (/^[A-Za-z0-9+/_-]+={0,2}$/.test(trimmed)) key = Buffer.from(trimmed, 'base64');
  else throw new SigningKeyError(`${source}: the signing key must be base64 or hex text (e.g. \`openssl rand -base64 32\`)`);
  if (key.length < MIN_SIGNING_KEY_BYTES) {
    throw new SigningKeyError(
      `${source}: the signing key has ${key.length} bytes; use at least ${MIN_SIGNING_KEY_BYTES} (e.g. \`openssl rand -base64 32\`)`,
    );
  }
  return key;
}

function readOrCreateKeyFile(file: string): Buffer {
  if (!fs.existsSync(file)) createKeyFile(file);
  const mode = fs.statSync(file).mode & 0o777;
  if ((mode & 0o077) !== 0) {
    throw new SigningKeyError(`${file} is readable by others (mode ${mode.toString(8)}): chmod 600 it, or set ${SIGNING_KEY_ENV}`);
  }
  return parseSigningKey(fs.readFileSync(file, 'utf8'), file);
}

/**
 * Written whole under a temporary name, then linked into place: two processes starting together
 * never read a half-written key, and the one that loses the race reads the winner's.
 */
function createKeyFile(file: string): void {
  const dir = path.dirname(file);
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const temporary = `${file}.${process.pid}.${randomBytes(4).toString('hex')}`;
  fs.writeFileSync(temporary, `${randomBytes(MIN_SIGNING_KEY_BYTES).toString('base64')}\n`, { mode: 0o600, flag: 'wx' });
  try {
    fs.linkSync(temporary, file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  } finally {
    fs.rmSync(temporary, { force: true });
  }
}
