/**
 * Sign-in with real peers: an OpenID provider (oidc-provider on loopback), the real API and worker,
 * and a real browser (Chromium through playwright-core). Browser sessions, what is refused and why,
 * CSRF, login links, token expiry and listing.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import type { BrowserContext, Page } from 'playwright-core';
import { assertApiError } from './support/apiErrors';
import { CliHome } from './support/cliProcess';
import { cookieHeader, newContext, signInAtIdp } from './support/browser';
import { BASE_TEST_CONFIG, Harness } from './support/harness';
import { freePort } from './support/net';
import { startOidcProvider, type TestIdp } from './support/oidcProvider';

describe('sign-in (OpenID Connect, sessions, login links)', function () {
  this.timeout(120_000);
  let h: Harness;
  let idp: TestIdp;
  let appUrl: string;
  const contexts: BrowserContext[] = [];

  before(async () => {
    const port = await freePort();
    appUrl = `http://127.0.0.1:${port}`;
    idp = await startOidcProvider({
      redirectUris: [`${appUrl}/auth/callback`],
      accounts: { 'unverified@example.com': { email: 'unverified@example.com', email_verified: false }, 'Mixed.Case@Example.COM': { email: 'Mixed.Case@Example.COM', email_verified: true } },
    });
    process.env.P0_OIDC_CLIENT_SECRET = idp.clientSecret;
    const auth = `
auth:
  publicUrl: ${appUrl}
  loginLinks: true
  oidc:
    issuer: ${idp.issuer}
    clientId: ${idp.clientId}
    allowedDomains: [example.com]
`;
    h = await Harness.start(BASE_TEST_CONFIG + auth, { port });
  });
  after(async () => {
    for (const context of contexts) await context.close();
    await h?.stop();
    await idp?.stop();
    delete process.env.P0_OIDC_CLIENT_SECRET;
  });

  async function browserPage(): Promise<Page> {
    const context = await newContext();
    contexts.push(context);
    return context.newPage();
  }

  /** Signs in through the IdP as `login`; the page ends wherever p0 sends it. */
  async function signIn(login: string, path = '/auth/login'): Promise<Page> {
    const page = await browserPage();
    await page.goto(`${appUrl}${path}`);
    await signInAtIdp(page, login);
    await page.waitForURL((url) => url.origin === appUrl);
    return page;
  }

  async function apiWithCookies(page: Page, method: string, route: string, headers: Record<string, string> = {}, body?: unknown) {
    const response = await fetch(`${appUrl}${route}`, {
      method,
      headers: { cookie: await cookieHeader(page.context(), appUrl), accept: 'application/json', ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
      redirect: 'manual',
    });
    const text = await response.text();
    return { status: response.status, body: (text.startsWith('{') ? JSON.parse(text) : { text }) as { error?: { code: string }; csrfToken?: string; text?: string } };
  }

  it('signs a person in through the IdP; the session then calls the API, and sign-out ends it', async () => {
    const page = await signIn('Mixed.Case@Example.COM');
    // The web page (web/) says who is signed in.
    await page.getByText('Signed in as mixed.case@example.com').waitFor();
    const cookies = await page.context().cookies(appUrl);
    const session = cookies.find((cookie) => cookie.name === 'p0_session');
    assert.ok(session, 'session cookie set');
    assert.equal(session.httpOnly, true);
    assert.equal(session.sameSite, 'Lax');

    // The page's own scripts: same origin, cookie only.
    const me = await page.evaluate(async () => (await fetch('/v1/me')).json());
    assert.deepEqual(me, { user: { email: 'mixed.case@example.com', admin: false } });

    await Promise.all([page.waitForURL(`${appUrl}/auth/logout`), page.click('button:has-text("Sign out")')]);
    assert.match(await page.textContent('body') ?? '', /signed out/i);
    assertApiError(await apiWithCookies(page, 'GET', '/v1/me', { cookie: `p0_session=${session.value}` }), 'unauthenticated');
  });

  it('refuses a cookie call that changes state without the CSRF token, or from another origin', async () => {
    const page = await signIn('alice@example.com');
    const route = '/v1/requests/req_01ARZ3NDEKTSV4RRFFQ69G5FAV/cancel';
    const bare = await apiWithCookies(page, 'POST', route, {}, {});
    assert.equal(bare.status, 403);
    assert.equal(bare.body.error?.code, 'csrf');
    const { csrfToken } = (await apiWithCookies(page, 'GET', '/auth/session')).body as { csrfToken: string };
    const foreign = await apiWithCookies(page, 'POST', route, { 'x-csrf-token': csrfToken, origin: 'http://evil.example' }, {});
    assert.equal(foreign.status, 403);
    assert.equal(foreign.body.error?.code, 'csrf');
    const wrong = await apiWithCookies(page, 'POST', route, { 'x-csrf-token': `${csrfToken}x` }, {});
    assert.equal(wrong.body.error?.code, 'csrf');
    // With the token, from the page itself: past CSRF, to the service's own answer.
    const answer = await page.evaluate(
      async ([path, token]) => {
        const response = await fetch(path!, { method: 'POST', headers: { 'content-type': 'application/json', 'x-csrf-token': token! }, body: '{}' });
        return { status: response.status, body: await response.json() };
      },
      [route, csrfToken],
    );
    assertApiError(answer, 'not_found');
  });

  it('refuses an address in a foreign domain, and one the IdP says is not verified, saying why', async () => {
    const foreign = await signIn('mallory@evil.example');
    assert.match(await foreign.textContent('body') ?? '', /mallory@evil\.example is not in a domain this p0 accepts \(example\.com\)/);
    assert.equal((await foreign.context().cookies(appUrl)).some((cookie) => cookie.name === 'p0_session'), false);

    const unverified = await signIn('unverified@example.com');
    assert.match(await unverified.textContent('body') ?? '', /unverified@example\.com is not verified/);
    assert.doesNotMatch(await unverified.content(), /\bat .*\.ts:\d+/, 'no stack trace');
  });

  it('refuses a tampered state', async () => {
    const page = await browserPage();
    // The state is changed on its way to the IdP (p0's answer to /auth/login is rewritten), so the
    // IdP hands back a state this browser's cookie does not hold.
    await page.route(`${appUrl}/auth/login`, async (route) => {
      const response = await route.fetch({ maxRedirects: 0 });
      const location = new URL(response.headers().location!);
      location.searchParams.set('state', `${location.searchParams.get('state')}x`);
      await route.fulfill({ response, headers: { ...response.headers(), location: location.href } });
    });
    await page.goto(`${appUrl}/auth/login`);
    await signInAtIdp(page, 'alice@example.com');
    await page.waitForURL((url) => url.origin === appUrl);
    assert.match(await page.textContent('body') ?? '', /state does not match/);
    assert.equal((await page.context().cookies(appUrl)).some((cookie) => cookie.name === 'p0_session'), false);
  });

  it('refuses a replayed authorization code', async () => {
    const page = await browserPage();
    let callback: string | undefined;
    page.on('request', (request) => {
      if (request.url().startsWith(`${appUrl}/auth/callback?`)) callback = request.url();
    });
    await page.goto(`${appUrl}/auth/login`);
    await signInAtIdp(page, 'alice@example.com');
    await page.waitForURL(`${appUrl}/`);
    assert.ok(callback, 'the IdP redirected back with a code');

    // The used code once more, inside a fresh sign-in of its own (valid state and cookie): refused.
    const start = await fetch(`${appUrl}/auth/login`, { redirect: 'manual' });
    const freshState = new URL(start.headers.get('location')!).searchParams.get('state')!;
    const signInCookie = start.headers.get('set-cookie')!.split(';')[0]!;
    const replay = new URL(callback);
    replay.searchParams.set('state', freshState);
    const replayed = await fetch(replay, { headers: { cookie: signInCookie }, redirect: 'manual' });
    assert.equal(replayed.status, 403);
    assert.match(await replayed.text(), /refused to complete this sign-in/);
    // And the original callback, state and all: that sign-in is over.
    const again = await fetch(callback, { headers: { cookie: `p0_signin=${new URL(callback).searchParams.get('state')}` }, redirect: 'manual' });
    assert.equal(again.status, 403);
    assert.match(await again.text(), /already been used or has expired/);
  });

  it('a login link signs in once; the second use is refused', async () => {
    const link = await h.loginLink('carol@example.com');
    assert.match(link, new RegExp(`^${appUrl}/auth/link#`));
    const first = await browserPage();
    await first.goto(link);
    await Promise.all([first.waitForURL(`${appUrl}/`), first.click('#sign-in')]);
    await first.getByText('Signed in as carol@example.com').waitFor();

    const second = await browserPage();
    await second.goto(link);
    await Promise.all([second.waitForLoadState('load'), second.click('#sign-in')]);
    assert.match(await second.textContent('body') ?? '', /already been used or has expired/);
    assert.equal((await second.context().cookies(appUrl)).some((cookie) => cookie.name === 'p0_session'), false);
  });

  it('p0 login: prints a link; signing in in the browser hands the CLI a token, which then lists requests', async () => {
    const home = new CliHome();
    try {
      const login = home.start(['login', '--url', appUrl, '--no-browser']);
      const [link] = await login.waitForOutput(/http:\/\/127\.0\.0\.1:\d+\/auth\/cli\?\S+/);
      assert.doesNotMatch(link, /p0_/, 'no token in the link');
      const page = await browserPage();
      await page.goto(link);
      await signInAtIdp(page, 'grace@example.com');
      await page.waitForURL((url) => url.origin === appUrl && url.pathname === '/auth/cli');
      await Promise.all([page.waitForURL(/^http:\/\/127\.0\.0\.1:\d+\/callback$/), page.click('#allow')]);
      assert.match(await page.textContent('body') ?? '', /The p0 CLI is signed in/);
      const result = await login.exited;
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stdout, /Logged in to .* as grace@example\.com/);
      const stored = JSON.parse((await import('node:fs')).readFileSync(home.configFile, 'utf8')) as { token: string };
      assert.match(stored.token, /^p0_/);

      const requests = await home.run(['requests']);
      assert.equal(requests.code, 0, requests.stderr);
      const tokens = await fetch(`${appUrl}/v1/tokens`, { headers: { authorization: `Bearer ${stored.token}` } });
      const listed = (await tokens.json()) as { tokens: { label: string; expiresAt: string }[] };
      assert.equal(listed.tokens[0]!.label, 'p0 login');
      const days = (Date.parse(listed.tokens[0]!.expiresAt) - Date.now()) / 86_400_000;
      assert.ok(days > 29.9 && days <= 30, `the token ends in 30 days (${days})`);
    } finally {
      home.remove();
    }
  });

  it('p0 login --device: the person types the code on /device and the CLI gets its token', async () => {
    const home = new CliHome();
    try {
      const login = home.start(['login', '--url', appUrl, '--device']);
      const [, code] = await login.waitForOutput(/\n {2}([A-Z2-9]{4}-[A-Z2-9]{4})\n/);
      assert.match(login.stderr, new RegExp(`${appUrl}/device`));
      const page = await browserPage();
      await page.goto(`${appUrl}/device`);
      await signInAtIdp(page, 'heidi@example.com');
      await page.waitForURL(`${appUrl}/device`);
      await page.fill('#code', code!.toLowerCase());
      await Promise.all([page.waitForLoadState('load'), page.click('#confirm')]);
      assert.match(await page.textContent('body') ?? '', /go back to your terminal/);
      const result = await login.exited;
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stdout, /Logged in to .* as heidi@example\.com/);
      const ls = await home.run(['ls']);
      assert.equal(ls.code, 0, ls.stderr);
    } finally {
      home.remove();
    }
  });

  it('answers an expired token with 401 token_expired, and the CLI says to run p0 login', async () => {
    const token = await h.token('dave@example.com');
    assert.equal((await h.call('dave@example.com', 'GET', '/v1/me')).status, 200);
    await h.expireToken(token);
    const answer = await h.call<{ error: { code: string } }>('dave@example.com', 'GET', '/v1/me');
    assert.equal(answer.status, 401);
    assert.equal(answer.body.error.code, 'token_expired');

    const home = new CliHome();
    try {
      const ls = await home.run(['ls'], { env: { P0_API_URL: h.apiUrl, P0_TOKEN: token } });
      assert.equal(ls.code, 1, ls.stderr);
      assert.match(ls.stderr, /^p0: Your token has expired: run p0 login/m);
    } finally {
      home.remove();
    }
  });

  it('lists a person\'s tokens and lets them (or an admin) revoke one', async () => {
    const token = await h.token('erin@example.com');
    const list = await h.call<{ tokens: { id: number; current: boolean; email: string }[] }>('erin@example.com', 'GET', '/v1/tokens');
    assert.equal(list.status, 200);
    assert.equal(list.body.tokens.length, 1);
    assert.equal(list.body.tokens[0]!.current, true);
    const id = list.body.tokens[0]!.id;
    assertApiError(await h.call('frank@example.com', 'DELETE', `/v1/tokens/${id}`), 'not_found'); // not someone else's
    assertApiError(await h.call('frank@example.com', 'GET', '/v1/tokens?all=true'), 'forbidden');
    assert.equal((await h.call('erin@example.com', 'DELETE', `/v1/tokens/${id}`)).status, 200);
    const after = await fetch(`${h.apiUrl}/v1/me`, { headers: { authorization: `Bearer ${token}` } });
    assertApiError({ status: after.status, body: await after.json() }, 'unauthenticated');
  });

  // Last: it changes the config the other tests use.
  it('signs in as a public client (PKCE only) when no client secret is set', async () => {
    const fs = await import('node:fs');
    delete process.env.P0_OIDC_CLIENT_SECRET;
    fs.writeFileSync(h.configPath, fs.readFileSync(h.configPath, 'utf8').replace(`clientId: ${idp.clientId}`, `clientId: ${idp.publicClientId}`));
    for (let i = 0; h.signIn.config.oidc?.clientId !== idp.publicClientId; i++) {
      assert.ok(i < 100, 'the config was not reloaded');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const page = await signIn('judy@example.com');
    await page.getByText('Signed in as judy@example.com').waitFor();
  });
});

describe('sign-in on the embedded default (no identity provider)', function () {
  this.timeout(120_000);
  let h: Harness;
  let context: BrowserContext | undefined;

  before(async () => {
    h = await Harness.start();
  });
  after(async () => {
    await context?.close();
    await h?.stop();
  });

  it('a new user gets a login link, signs in, and runs p0 login without handling a token', async () => {
    const explained = await (await fetch(`${h.apiUrl}/auth/login`)).text();
    assert.match(explained, /npm run login-link -- you@example\.com/);

    // What an operator runs: `npm run login-link -- <email>` against the same config and database.
    const { stdout: printed } = await promisify(execFile)(process.execPath, ['--import', 'tsx', 'scripts/loginLink.ts', 'Ivan@Example.com'], {
      cwd: path.resolve(__dirname, '..'),
      env: { ...process.env, P0_CONFIG: h.configPath, DATABASE_URL: `sqlite:${h.sqlitePath}`, PORT: new URL(h.apiUrl).port },
    });
    const link = printed.trim();
    assert.match(link, new RegExp(`^${h.apiUrl}/auth/link#[A-Za-z0-9_-]{43}$`));
    context = await newContext();
    const page = await context.newPage();
    await page.goto(link);
    await Promise.all([page.waitForURL(`${h.apiUrl}/`), page.click('#sign-in')]);

    const home = new CliHome();
    try {
      const login = home.start(['login', '--url', h.apiUrl, '--no-browser']);
      const [cliLink] = await login.waitForOutput(/http:\/\/127\.0\.0\.1:\d+\/auth\/cli\?\S+/);
      await page.goto(cliLink);
      await Promise.all([page.waitForURL(/\/callback$/), page.click('#allow')]);
      const result = await login.exited;
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stdout, /as ivan@example\.com/);
      const ls = await home.run(['ls']);
      assert.equal(ls.code, 0, ls.stderr);
      assert.match(ls.stdout, /Developers/);
    } finally {
      home.remove();
    }
  });
});
