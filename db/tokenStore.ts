/**
 * API tokens. A token is shown once, when issued; only its sha256 is stored, so a copy of the
 * database does not let anyone call the API.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Knex } from 'knex';

interface ApiTokenRow {
  id: number;
  /** sha256 of the token, hex. */
  token_hash: string;
  email: string;
  /** SQLite returns 0/1. */
  admin: boolean | number;
  created_at: string;
  revoked_at: string | null;
  /** Null: never expires. */
  expires_at: string | null;
  label: string | null;
}

export interface TokenIdentity {
  email: string;
  admin: boolean;
}

/** What the API knows of a token it was shown: live (and whose), past its end, or nothing at all. */
export type TokenCheck = { status: 'valid'; id: number; email: string; admin: boolean } | { status: 'expired' } | undefined;

/** One token as its owner sees it in `GET /v1/tokens` (never the token itself). */
export interface TokenSummary {
  id: number;
  email: string;
  admin: boolean;
  label: string | null;
  createdAt: string;
  expiresAt: string | null;
}

export const TOKEN_PREFIX = 'p0_';

export class TokenStore {
  /** Migrations have already run: openDatabase applies them before any store is made. */
  constructor(private readonly database: Knex) {}

  /** Returns the new token: the only time its plaintext exists outside the caller. */
  async issue(email: string, options: { admin: boolean; lifetimeMs?: number; label?: string }): Promise<string> {
    const token = TOKEN_PREFIX + randomBytes(32).toString('base64url');
    const now = Date.now();
    const row: Omit<ApiTokenRow, 'id'> = {
      token_hash: hashToken(token),
      email,
      admin: options.admin,
      created_at: new Date(now).toISOString(),
      revoked_at: null,
      expires_at: options.lifetimeMs === undefined ? null : new Date(now + options.lifetimeMs).toISOString(),
      label: options.label?.slice(0, 200) ?? null,
    };
    await this.database<ApiTokenRow>('api_tokens').insert(row);
    return token;
  }

  /**
   * The token's holder, or undefined for an unknown or revoked token. The email is returned as
   * stored: the API normalises it (service/identity.ts), so tokens issued before identities were
   * normalised still name the same person.
   */
  async authenticate(token: string): Promise<TokenIdentity | undefined> {
    const checked = await this.check(token);
    return checked?.status === 'valid' ? { email: checked.email, admin: checked.admin } : undefined;
  }

  /**
   * Like authenticate, but tells an expired token from an unknown or revoked one, so the API can
   * answer `token_expired` (the holder signs in again) rather than `unauthenticated`. The lookup is
   * by the token's hash: equal hashes are the only comparison, so no timing reveals a prefix.
   */
  async check(token: string, now = new Date()): Promise<TokenCheck> {
    if (!token.startsWith(TOKEN_PREFIX)) return undefined;
    const row = await this.database<ApiTokenRow>('api_tokens')
      .where({ token_hash: hashToken(token) })
      .whereNull('revoked_at')
      .first('id', 'email', 'admin', 'expires_at');
    if (!row) return undefined;
    if (row.expires_at !== null && row.expires_at <= now.toISOString()) return { status: 'expired' };
    return { status: 'valid', id: Number(row.id), email: row.email, admin: Boolean(row.admin) };
  }

  /** Live (unrevoked, unexpired) tokens, newest first: one person's (matched as revokeAllFor does), or everyone's. */
  async list(filter: { email?: string }, now = new Date()): Promise<TokenSummary[]> {
    const query = this.database<ApiTokenRow>('api_tokens')
      .whereNull('revoked_at')
      .where((where) => void where.whereNull('expires_at').orWhere('expires_at', '>', now.toISOString()))
      .orderBy('id', 'desc');
    if (filter.email !== undefined) void query.whereRaw('lower(trim(email)) = lower(trim(?))', [filter.email]);
    const rows = await query.select('id', 'email', 'admin', 'label', 'created_at', 'expires_at');
    return rows.map((row) => ({
      id: Number(row.id),
      email: row.email,
      admin: Boolean(row.admin),
      label: row.label,
      createdAt: row.created_at,
      expiresAt: row.expires_at,
    }));
  }

  /** Revokes one token; `owner` set: only if it is theirs. False when no such live token (or not theirs). */
  async revoke(id: number, options: { owner?: string } = {}): Promise<boolean> {
    const query = this.database<ApiTokenRow>('api_tokens').where({ id }).whereNull('revoked_at');
    if (options.owner !== undefined) void query.whereRaw('lower(trim(email)) = lower(trim(?))', [options.owner]);
    return (await query.update({ revoked_at: new Date().toISOString() })) === 1;
  }

  /** Test and operator hook: moves a token's end (e.g. into the past). */
  async setExpiry(token: string, expiresAt: Date | null): Promise<void> {
    await this.database<ApiTokenRow>('api_tokens')
      .where({ token_hash: hashToken(token) })
      .update({ expires_at: expiresAt === null ? null : expiresAt.toISOString() });
  }

  /**
   * Revokes every live token of this person; returns how many. Matched without regard to case or
   * surrounding spaces: tokens issued before identities were normalised hold the email as typed.
   */
  async revokeAllFor(email: string): Promise<number> {
    return this.database<ApiTokenRow>('api_tokens')
      .whereRaw('lower(trim(email)) = lower(trim(?))', [email])
      .whereNull('revoked_at')
      .update({ revoked_at: new Date().toISOString() });
  }
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}
