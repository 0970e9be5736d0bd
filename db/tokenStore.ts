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
}

export interface TokenIdentity {
  email: string;
  admin: boolean;
}

export const TOKEN_PREFIX = 'p0_';

export class TokenStore {
  /** Migrations have already run: openDatabase applies them before any store is made. */
  constructor(private readonly database: Knex) {}

  /** Returns the new token: the only time its plaintext exists outside the caller. */
  async issue(email: string, options: { admin: boolean }): Promise<string> {
    const token = TOKEN_PREFIX + randomBytes(32).toString('base64url');
    const row: Omit<ApiTokenRow, 'id'> = {
      token_hash: hashToken(token),
      email,
      admin: options.admin,
      created_at: new Date().toISOString(),
      revoked_at: null,
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
    if (!token.startsWith(TOKEN_PREFIX)) return undefined;
    const row = await this.database<ApiTokenRow>('api_tokens')
      .where({ token_hash: hashToken(token) })
      .whereNull('revoked_at')
      .first('email', 'admin');
    return row ? { email: row.email, admin: Boolean(row.admin) } : undefined;
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

function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}
