/**
 * A real OpenID provider for the sign-in tests: oidc-provider (a certified implementation) on a
 * free loopback port, with its development login form (any login, any password). The login typed is
 * the account id; its claims come from `accounts`, else `{email: <login>, email_verified: true}`.
 * Its ID tokens carry only `sub` (claims go to userinfo), as many real IdPs do by default.
 */
import type { Server } from 'node:http';
import { freePort } from './net';

export interface TestIdp {
  issuer: string;
  clientId: string;
  clientSecret: string;
  /** A public client (no secret: PKCE alone), with the same redirect URIs. */
  publicClientId: string;
  stop(): Promise<void>;
}

export async function startOidcProvider(options: {
  redirectUris: string[];
  accounts?: Record<string, Record<string, unknown>>;
}): Promise<TestIdp> {
  // ESM-only: a dynamic import works under tsx.
  const { default: Provider } = await import('oidc-provider');
  const port = await freePort();
  const issuer = `http://127.0.0.1:${port}`;
  const clientId = 'p0-test';
  const clientSecret = 'p0-test-secret-'.padEnd(48, 'x');
  const provider = new Provider(issuer, {
    clients: [
      { client_id: clientId, client_secret: clientSecret, redirect_uris: options.redirectUris, grant_types: ['authorization_code'], response_types: ['code'] },
      { client_id: 'p0-test-public', token_endpoint_auth_method: 'none', redirect_uris: options.redirectUris, grant_types: ['authorization_code'], response_types: ['code'] },
    ],
    claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
    findAccount: (_ctx: unknown, id: string) => ({
      accountId: id,
      claims: () => ({ sub: id, ...(options.accounts?.[id] ?? { email: id, email_verified: true }) }),
    }),
    cookies: { keys: ['p0-test-cookie-key-not-secret'] },
    features: { devInteractions: { enabled: true } },
  });
  const server: Server = await new Promise((resolve, reject) => {
    const listening = provider.listen(port, '127.0.0.1', () => resolve(listening));
    listening.once('error', reject);
  });
  return {
    issuer,
    clientId,
    clientSecret,
    publicClientId: 'p0-test-public',
    stop: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}
