/**
 * What sign-in keeps (migration 0006): browser sessions, one-time login links, OpenID Connect
 * sign-ins in progress, and device codes. Every secret handed to a browser or the CLI (session id,
 * link token, OAuth state, device code) is stored as its sha256 only: a copy of the database signs
 * nobody in. Single-use rows are consumed by a guarded update (zero rows = already used).
 */
import { randomBytes } from 'node:crypto';
import type { Knex } from 'knex';
import { hashToken } from './tokenStore';

interface SessionRow {
  id_hash: string;
  email: string;
  created_at: string;
  last_seen_at: string;
  expires_at: string;
}

interface LoginLinkRow {
  token_hash: string;
  email: string;
  created_at: string;
  expires_at: string;
  used_at: string | null;
}

interface SignInAttemptRow {
  state_hash: string;
  code_verifier: string;
  nonce: string;
  return_to: string;
  created_at: string;
  expires_at: string;
}

interface DeviceCodeRow {
  device_code_hash: string;
  user_code: string;
  created_at: string;
  expires_at: string;
  approved_by: string | null;
  consumed_at: string | null;
}

export interface SignInAttempt {
  codeVerifier: string;
  nonce: string;
  returnTo: string;
}

/** What polling a device code finds: nothing, still waiting, or approved (once) by this person. */
export type DeviceCodeState = { status: 'unknown' } | { status: 'pending' } | { status: 'approved'; email: string };

/** A random secret for a browser or the CLI: 32 bytes, URL-safe. */
export function newSecret(): string {
  return randomBytes(32).toString('base64url');
}

/** Letters a person reads and types without confusing them (no 0/O, 1/I/L). */
const USER_CODE_ALPHABET = 'ABCDEFGHJKMNPQRSTUVWXYZ23456789';
export const USER_CODE_LENGTH = 8;

/** A device's short code, e.g. `KPZD7QMA` (shown as KPZD-7QMA); about 40 bits, living 10 minutes. */
function newUserCode(): string {
  const bytes = randomBytes(USER_CODE_LENGTH * 2);
  let code = '';
  for (let index = 0; code.length < USER_CODE_LENGTH && index < bytes.length; index++) {
    const byte = bytes[index]!;
    // Rejection sampling keeps every letter equally likely.
    if (byte < 256 - (256 % USER_CODE_ALPHABET.length)) code += USER_CODE_ALPHABET[byte % USER_CODE_ALPHABET.length];
  }
  return code.length === USER_CODE_LENGTH ? code : newUserCode();
}

/** What a person typed, in the stored form: upper case, without spaces or dashes. */
export function normalizeUserCode(typed: string): string {
  return typed.toUpperCase().replace(/[\s-]/g, '');
}

export class SignInStore {
  /** Migrations have already run: openDatabase applies them before any store is made. */
  constructor(private readonly database: Knex) {}

  /** A new session for this (normalised) email; returns the cookie's value, the only copy. */
  async createSession(email: string, maxLifetimeMs: number, now = new Date()): Promise<string> {
    // Sessions past their absolute end go when new ones come (idle ones when next shown).
    await this.database<SessionRow>('sessions').where('expires_at', '<=', now.toISOString()).delete();
    const id = newSecret();
    await this.database<SessionRow>('sessions').insert({
      id_hash: hashToken(id),
      email,
      created_at: now.toISOString(),
      last_seen_at: now.toISOString(),
      expires_at: new Date(now.getTime() + maxLifetimeMs).toISOString(),
    });
    return id;
  }

  /**
   * The session's email while it lives (used within `idleTimeoutMs` and before its absolute end),
   * marking it used now; a dead session is deleted.
   */
  async useSession(id: string, idleTimeoutMs: number, now = new Date()): Promise<{ email: string } | undefined> {
    const idHash = hashToken(id);
    const row = await this.database<SessionRow>('sessions').where({ id_hash: idHash }).first();
    if (!row) return undefined;
    const idleEnd = new Date(Date.parse(row.last_seen_at) + idleTimeoutMs).toISOString();
    if (row.expires_at <= now.toISOString() || idleEnd <= now.toISOString()) {
      await this.database<SessionRow>('sessions').where({ id_hash: idHash }).delete();
      return undefined;
    }
    // At most one write a minute per session: reading the API must not mean writing on every call.
    if (now.getTime() - Date.parse(row.last_seen_at) > 60_000) {
      await this.database<SessionRow>('sessions').where({ id_hash: idHash }).update({ last_seen_at: now.toISOString() });
    }
    return { email: row.email };
  }

  async deleteSession(id: string): Promise<void> {
    await this.database<SessionRow>('sessions').where({ id_hash: hashToken(id) }).delete();
  }

  /** A one-time login link's token (its only copy), valid for `lifetimeMs`. */
  async createLoginLink(email: string, lifetimeMs: number, now = new Date()): Promise<string> {
    // Links a day past their end are of no use, not even to explain a refusal.
    await this.database<LoginLinkRow>('login_links').where('expires_at', '<=', new Date(now.getTime() - 86_400_000).toISOString()).delete();
    const token = newSecret();
    await this.database<LoginLinkRow>('login_links').insert({
      token_hash: hashToken(token),
      email,
      created_at: now.toISOString(),
      expires_at: new Date(now.getTime() + lifetimeMs).toISOString(),
      used_at: null,
    });
    return token;
  }

  /** Whether the link is still usable (for the confirmation page); does not use it. */
  async peekLoginLink(token: string, now = new Date()): Promise<{ email: string } | undefined> {
    const row = await this.database<LoginLinkRow>('login_links')
      .where({ token_hash: hashToken(token) })
      .whereNull('used_at')
      .where('expires_at', '>', now.toISOString())
      .first('email');
    return row ? { email: row.email } : undefined;
  }

  /** Uses the link: its email the first time, undefined ever after (or once expired). */
  async consumeLoginLink(token: string, now = new Date()): Promise<{ email: string } | undefined> {
    const tokenHash = hashToken(token);
    const used = await this.database<LoginLinkRow>('login_links')
      .where({ token_hash: tokenHash })
      .whereNull('used_at')
      .where('expires_at', '>', now.toISOString())
      .update({ used_at: now.toISOString() });
    if (used !== 1) return undefined;
    const row = await this.database<LoginLinkRow>('login_links').where({ token_hash: tokenHash }).first('email');
    return row ? { email: row.email } : undefined;
  }

  async saveSignInAttempt(state: string, attempt: SignInAttempt, lifetimeMs: number, now = new Date()): Promise<void> {
    await this.database<SignInAttemptRow>('sign_in_attempts').insert({
      state_hash: hashToken(state),
      code_verifier: attempt.codeVerifier,
      nonce: attempt.nonce,
      return_to: attempt.returnTo,
      created_at: now.toISOString(),
      expires_at: new Date(now.getTime() + lifetimeMs).toISOString(),
    });
    // Abandoned attempts go when new ones come.
    await this.database<SignInAttemptRow>('sign_in_attempts').where('expires_at', '<=', now.toISOString()).delete();
  }

  /** The attempt this state started, removed so that it finishes at most once. */
  async takeSignInAttempt(state: string, now = new Date()): Promise<SignInAttempt | undefined> {
    const stateHash = hashToken(state);
    const row = await this.database<SignInAttemptRow>('sign_in_attempts').where({ state_hash: stateHash }).first();
    if (!row) return undefined;
    const deleted = await this.database<SignInAttemptRow>('sign_in_attempts').where({ state_hash: stateHash }).delete();
    if (deleted !== 1 || row.expires_at <= now.toISOString()) return undefined;
    return { codeVerifier: row.code_verifier, nonce: row.nonce, returnTo: row.return_to };
  }

  /** A device code pair: the CLI polls with `deviceCode`, the person types `userCode`. */
  async createDeviceCode(lifetimeMs: number, now = new Date()): Promise<{ deviceCode: string; userCode: string }> {
    await this.database<DeviceCodeRow>('device_codes').where('expires_at', '<=', now.toISOString()).delete();
    for (let attempt = 0; ; attempt++) {
      const deviceCode = newSecret();
      const userCode = newUserCode();
      try {
        await this.database<DeviceCodeRow>('device_codes').insert({
          device_code_hash: hashToken(deviceCode),
          user_code: userCode,
          created_at: now.toISOString(),
          expires_at: new Date(now.getTime() + lifetimeMs).toISOString(),
          approved_by: null,
          consumed_at: null,
        });
        return { deviceCode, userCode };
      } catch (error) {
        // A user code still in use: draw another (a unique violation, a few times at most).
        if (attempt >= 3) throw error;
      }
    }
  }

  /** The signed-in person approves the device showing `userCode`; false when no live, unapproved code has it. */
  async approveDeviceCode(userCode: string, email: string, now = new Date()): Promise<boolean> {
    const approved = await this.database<DeviceCodeRow>('device_codes')
      .where({ user_code: normalizeUserCode(userCode) })
      .whereNull('approved_by')
      .where('expires_at', '>', now.toISOString())
      .update({ approved_by: email });
    return approved === 1;
  }

  /** What the CLI's poll finds; an approved code is consumed by the first poll that sees it. */
  async pollDeviceCode(deviceCode: string, now = new Date()): Promise<DeviceCodeState> {
    const deviceCodeHash = hashToken(deviceCode);
    const row = await this.database<DeviceCodeRow>('device_codes').where({ device_code_hash: deviceCodeHash }).first();
    if (!row || row.consumed_at !== null || row.expires_at <= now.toISOString()) return { status: 'unknown' };
    if (row.approved_by === null) return { status: 'pending' };
    const consumed = await this.database<DeviceCodeRow>('device_codes')
      .where({ device_code_hash: deviceCodeHash })
      .whereNull('consumed_at')
      .update({ consumed_at: now.toISOString() });
    return consumed === 1 ? { status: 'approved', email: row.approved_by } : { status: 'unknown' };
  }
}
