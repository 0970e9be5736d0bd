/**
 * Who may sign in, and how (docs/authentication.md): OpenID Connect with the organisation's IdP
 * (authorization code flow with PKCE, state and nonce, through openid-client), or one-time login
 * links on the embedded default. Signing in gives a browser session; the CLI then gets a personal
 * API token that ends (`auth.tokenLifetime`). The HTTP side (pages, cookies, CSRF) is api/auth.ts.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Configuration } from 'openid-client';
import type { AuthConfig } from '../config/schema';
import type { DeviceCodeState, SignInStore } from '../db/signInStore';
import type { TokenStore } from '../db/tokenStore';
import { InvalidEmailError, normalizeEmail } from './identity';
import type { LivePolicy } from './livePolicy';

/** A login link works this long, once. */
export const LOGIN_LINK_LIFETIME_MS = 10 * 60_000;
/** A sign-in at the IdP must come back within this. */
const SIGN_IN_ATTEMPT_LIFETIME_MS = 10 * 60_000;
/** A device code waits this long for its person. */
export const DEVICE_CODE_LIFETIME_MS = 10 * 60_000;
export const DEVICE_POLL_INTERVAL_S = 2;

/** Sign-in refused, with the words the person sees on the page (never a stack trace). */
export class SignInRefused extends Error {
  override readonly name = 'SignInRefused';
}

/** openid-client is ESM-only: loaded once, when the first IdP sign-in starts. */
let openidClient: Promise<typeof import('openid-client')> | undefined;
const loadOpenidClient = () => (openidClient ??= import('openid-client'));

export class SignInService {
  private discovered?: { key: string; configuration: Promise<Configuration> };

  constructor(
    private readonly options: {
      policy: LivePolicy;
      store: SignInStore;
      tokens: TokenStore;
      /** The API's own base URL, used when the config sets no auth.publicUrl. */
      listeningUrl: () => string;
      env?: NodeJS.ProcessEnv;
    },
  ) {}

  get config(): AuthConfig {
    return this.options.policy.current().config.auth;
  }

  /** `auth.publicUrl`, or where the API listens. */
  get publicUrl(): string {
    return this.config.publicUrl ?? this.options.listeningUrl();
  }

  get oidcEnabled(): boolean {
    return this.config.oidc !== undefined;
  }

  /** On by default only without an IdP; `auth.loginLinks: true` keeps them beside one. */
  get loginLinksEnabled(): boolean {
    return this.config.loginLinks ?? !this.oidcEnabled;
  }

  // --- sessions -------------------------------------------------------------------------------

  createSession(email: string): Promise<string> {
    return this.options.store.createSession(email, this.config.sessionMaxLifetime);
  }

  sessionUser(sessionId: string): Promise<{ email: string } | undefined> {
    return this.options.store.useSession(sessionId, this.config.sessionIdleTimeout);
  }

  endSession(sessionId: string): Promise<void> {
    return this.options.store.deleteSession(sessionId);
  }

  /** The session's CSRF token: derived from its id, so nothing more is stored and it dies with it. */
  csrfTokenFor(sessionId: string): string {
    return createHmac('sha256', sessionId).update('p0 csrf').digest('base64url');
  }

  csrfTokenMatches(sessionId: string, presented: string | undefined): boolean {
    return presented !== undefined && constantTimeEqual(presented, this.csrfTokenFor(sessionId));
  }

  /** A personal token for the CLI, ending after `auth.tokenLifetime`. */
  issueCliToken(email: string, label: string): Promise<string> {
    return this.options.tokens.issue(email, { admin: false, lifetimeMs: this.config.tokenLifetime, label });
  }

  // --- login links ----------------------------------------------------------------------------

  /** A one-time sign-in link for `email` (what `npm run login-link` prints). */
  async createLoginLink(typedEmail: string): Promise<string> {
    if (!this.loginLinksEnabled) throw new SignInRefused('login links are off: auth.oidc is set (sign in through the IdP, or set auth.loginLinks: true)');
    const email = normalizeEmail(typedEmail);
    const token = await this.options.store.createLoginLink(email, LOGIN_LINK_LIFETIME_MS);
    return `${this.publicUrl}/auth/link#${token}`;
  }

  async peekLoginLink(token: string): Promise<{ email: string } | undefined> {
    if (!this.loginLinksEnabled) return undefined;
    return this.options.store.peekLoginLink(token);
  }

  /** The link's email, once; a second use, an expired link or links turned off: refused. */
  async useLoginLink(token: string): Promise<string> {
    if (!this.loginLinksEnabled) throw new SignInRefused('Login links are turned off on this server: sign in with your organisation\'s identity provider.');
    const used = await this.options.store.consumeLoginLink(token);
    if (!used) throw new SignInRefused('This sign-in link has already been used or has expired (links work once, for 10 minutes). Ask for a new one.');
    return used.email;
  }

  // --- OpenID Connect -------------------------------------------------------------------------

  /** Where to send the browser to sign in at the IdP; `state` goes into the browser's cookie. */
  async startOidcSignIn(returnTo: string): Promise<{ authorizationUrl: string; state: string }> {
    this.requireOidc();
    const client = await loadOpenidClient();
    const configuration = await this.configuration();
    const codeVerifier = client.randomPKCECodeVerifier();
    const state = client.randomState();
    const nonce = client.randomNonce();
    await this.options.store.saveSignInAttempt(state, { codeVerifier, nonce, returnTo }, SIGN_IN_ATTEMPT_LIFETIME_MS);
    const url = client.buildAuthorizationUrl(configuration, {
      redirect_uri: this.redirectUri,
      scope: 'openid email profile',
      code_challenge: await client.calculatePKCECodeChallenge(codeVerifier),
      code_challenge_method: 'S256',
      state,
      nonce,
    });
    return { authorizationUrl: url.href, state };
  }

  /**
   * Finishes the IdP's redirect: the state must be the one this browser's cookie holds and one we
   * started (used once); openid-client checks the code with PKCE, the ID token and its nonce. The
   * email comes from the configured claim (the ID token's, else userinfo's), lower-cased.
   */
  async finishOidcSignIn(callbackUrl: URL, cookieState: string | undefined): Promise<{ email: string; returnTo: string }> {
    const oidc = this.requireOidc();
    const state = callbackUrl.searchParams.get('state') ?? '';
    const idpError = callbackUrl.searchParams.get('error');
    if (idpError) throw new SignInRefused(`The identity provider did not sign you in (${idpError.slice(0, 100)}). Try again.`);
    if (!cookieState || !state || !constantTimeEqual(state, cookieState)) {
      throw new SignInRefused('This sign-in did not start in this browser, or was changed on the way (the state does not match). Start again.');
    }
    const attempt = await this.options.store.takeSignInAttempt(state);
    if (!attempt) throw new SignInRefused('This sign-in has already been used or has expired. Start again.');
    const client = await loadOpenidClient();
    const configuration = await this.configuration();
    // The redirect URI is the configured one, whatever Host the request came in on.
    const currentUrl = new URL(`${this.redirectUri}${callbackUrl.search}`);
    let tokens: Awaited<ReturnType<typeof client.authorizationCodeGrant>>;
    try {
      tokens = await client.authorizationCodeGrant(configuration, currentUrl, {
        pkceCodeVerifier: attempt.codeVerifier,
        expectedState: state,
        expectedNonce: attempt.nonce,
        idTokenExpected: true,
      });
    } catch (error) {
      throw new SignInRefused(`The identity provider refused to complete this sign-in (${describeOidcError(error)}). Start again.`);
    }
    const idClaims = tokens.claims();
    if (!idClaims) throw new SignInRefused('The identity provider sent no ID token. Check that the scope includes openid.');
    let claims: Record<string, unknown> = idClaims;
    if (claims[oidc.emailClaim] === undefined) {
      try {
        claims = await client.fetchUserInfo(configuration, tokens.access_token, idClaims.sub);
      } catch (error) {
        throw new SignInRefused(`Could not read your email from the identity provider (${describeOidcError(error)}).`);
      }
    }
    return { email: this.allowedEmail(claims, oidc), returnTo: attempt.returnTo };
  }

  private allowedEmail(claims: Record<string, unknown>, oidc: NonNullable<AuthConfig['oidc']>): string {
    const raw = claims[oidc.emailClaim];
    if (typeof raw !== 'string') throw new SignInRefused(`The identity provider did not say who you are: its answer has no "${oidc.emailClaim}" claim. Ask your administrator to check auth.oidc.emailClaim and the scopes (openid email profile).`);
    let email: string;
    try {
      email = normalizeEmail(raw);
    } catch (error) {
      if (!(error instanceof InvalidEmailError)) throw error;
      throw new SignInRefused(`The identity provider's "${oidc.emailClaim}" claim is not an email address, so p0 cannot tell who you are.`);
    }
    // Only the standard email claim has a verification flag; other claims are the IdP's own names.
    if (claims.email_verified === false || claims.email_verified === 'false') {
      throw new SignInRefused(`Your identity provider says ${email} is not verified. Verify the address with your identity provider, then sign in again.`);
    }
    const domain = email.slice(email.lastIndexOf('@') + 1);
    if (!oidc.allowedDomains.includes(domain)) {
      throw new SignInRefused(`${email} is not in a domain this p0 accepts (${oidc.allowedDomains.join(', ')}). Sign in with your organisation's account.`);
    }
    return email;
  }

  get redirectUri(): string {
    return `${this.publicUrl}/auth/callback`;
  }

  private requireOidc(): NonNullable<AuthConfig['oidc']> {
    const oidc = this.config.oidc;
    if (!oidc) throw new SignInRefused('No identity provider is configured on this server (auth.oidc).');
    return oidc;
  }

  /** The IdP's metadata, discovered once per issuer and client (a config reload may change them). */
  private async configuration(): Promise<Configuration> {
    const oidc = this.requireOidc();
    const secret = (this.options.env ?? process.env).P0_OIDC_CLIENT_SECRET?.trim() || undefined;
    const key = JSON.stringify([oidc.issuer, oidc.clientId, secret !== undefined]);
    if (this.discovered?.key !== key) {
      const client = await loadOpenidClient();
      const issuer = new URL(oidc.issuer);
      // Plain http only for an issuer on this machine (the config refuses any other).
      const execute = issuer.protocol === 'http:' ? [client.allowInsecureRequests] : [];
      // Without a secret p0 is a public client: PKCE alone binds the code to this sign-in.
      const configuration = client.discovery(issuer, oidc.clientId, secret, secret === undefined ? client.None() : undefined, { execute });
      this.discovered = { key, configuration };
      // A failed discovery is tried again by the next sign-in.
      configuration.catch(() => {
        if (this.discovered?.configuration === configuration) this.discovered = undefined;
      });
    }
    try {
      return await this.discovered.configuration;
    } catch (error) {
      throw new SignInRefused(`The identity provider at ${oidc.issuer} cannot be reached or is misconfigured (${describeOidcError(error)}). Tell your p0 administrator.`);
    }
  }

  // --- device codes (p0 login --device) -------------------------------------------------------

  startDeviceLogin(): Promise<{ deviceCode: string; userCode: string }> {
    return this.options.store.createDeviceCode(DEVICE_CODE_LIFETIME_MS);
  }

  approveDevice(userCode: string, email: string): Promise<boolean> {
    return this.options.store.approveDeviceCode(userCode, email);
  }

  /** The CLI's poll: a token once the person approved, else what to tell it. */
  async pollDeviceLogin(deviceCode: string): Promise<{ status: 'pending' } | { status: 'unknown' } | { status: 'approved'; email: string; token: string }> {
    const state: DeviceCodeState = await this.options.store.pollDeviceCode(deviceCode);
    if (state.status !== 'approved') return state;
    return { status: 'approved', email: state.email, token: await this.issueCliToken(state.email, 'p0 login --device') };
  }
}

/** Equal strings, compared in time that does not depend on where they differ. */
export function constantTimeEqual(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

/** An OAuth/OIDC failure in a few words: its error code and description, never a token or code. */
function describeOidcError(error: unknown): string {
  const { error: code, error_description: description, code: libraryCode } = error as { error?: unknown; error_description?: unknown; code?: unknown };
  if (typeof code === 'string') return typeof description === 'string' ? `${code}: ${description.slice(0, 200)}` : code;
  if (typeof libraryCode === 'string') return libraryCode;
  return (error as Error).message?.slice(0, 200) ?? 'unknown error';
}
