/**
 * Sign-in over HTTP (docs/authentication.md): the pages and redirects of the browser flows, the
 * session cookie, CSRF, and the endpoints `p0 login` uses. The rules (who may sign in, what a
 * session or a token is) live in service/signIn.ts; this file only speaks HTTP and HTML.
 *
 * Cookies: `p0_session` (the session id) and `p0_signin` (the state of an IdP sign-in in progress),
 * named apart from any IdP's, since cookies on 127.0.0.1 are shared across ports.
 */
import { randomBytes } from 'node:crypto';
import express, { type Request, type Response } from 'express';
import type { Logger } from 'pino';
import { normalizeEmail } from '../service/identity';
import { DEVICE_CODE_LIFETIME_MS, DEVICE_POLL_INTERVAL_S, SignInRefused, type SignInService } from '../service/signIn';

export const SESSION_COOKIE = 'p0_session';
const SIGN_IN_COOKIE = 'p0_signin';
/** The header a page sends its CSRF token in (forms send the field `csrf`). */
export const CSRF_HEADER = 'x-csrf-token';

const CLI_STATE = /^[A-Za-z0-9_-]{16,128}$/;

/** The cookies of a request, by name (the first of each name). */
export function cookiesOf(req: Request): Map<string, string> {
  const cookies = new Map<string, string>();
  for (const part of (req.get('cookie') ?? '').split(';')) {
    const separator = part.indexOf('=');
    if (separator < 0) continue;
    const name = part.slice(0, separator).trim();
    if (!cookies.has(name)) {
      try {
        cookies.set(name, decodeURIComponent(part.slice(separator + 1).trim()));
      } catch {
        // A malformed escape: not one of ours.
      }
    }
  }
  return cookies;
}

/** Whether a cookie-authenticated call that changes state may go ahead: same origin and the session's CSRF token. */
export function csrfRefusal(req: Request, signIn: SignInService, sessionId: string, presented: string | undefined): string | undefined {
  const origin = req.get('origin');
  if (origin !== undefined && origin !== new URL(signIn.publicUrl).origin) return `Refused: this call comes from another site (${origin.slice(0, 100)}).`;
  if (!signIn.csrfTokenMatches(sessionId, presented)) return 'Refused: the CSRF token is missing or wrong. Reload the page and try again (scripts: send it in the X-CSRF-Token header; GET /auth/session gives it).';
  return undefined;
}

/** A safe place to go after sign-in: a path on this site only (never `//host` or a scheme). */
export function safeReturnTo(raw: unknown): string {
  if (typeof raw !== 'string' || raw.length > 2000) return '/';
  if (!raw.startsWith('/') || raw.startsWith('//') || raw.startsWith('/\\') || /[\r\n\t\\]/.test(raw)) return '/';
  return raw;
}

export function createAuthRouter({ signIn, bodyLimit }: { signIn: SignInService; bodyLimit: string }): express.Router {
  const router = express.Router();
  // The API's own limit, so the error handler's 413 message is true here too.
  const form = express.urlencoded({ extended: false, limit: bodyLimit });
  const json = express.json({ limit: bodyLimit });
  const secure = () => signIn.publicUrl.startsWith('https:');

  const setSessionCookie = (res: Response, sessionId: string) => {
    res.cookie(SESSION_COOKIE, sessionId, { httpOnly: true, sameSite: 'lax', secure: secure(), path: '/', maxAge: signIn.config.sessionMaxLifetime });
  };
  /** The signed-in person and their session id, or undefined. */
  const sessionOf = async (req: Request): Promise<{ sessionId: string; email: string } | undefined> => {
    const sessionId = cookiesOf(req).get(SESSION_COOKIE);
    if (!sessionId) return undefined;
    const user = await signIn.sessionUser(sessionId);
    return user && { sessionId, email: user.email };
  };
  /** Sends the browser to sign in first, coming back here afterwards. */
  const signInFirst = (req: Request, res: Response) => res.redirect(303, `/auth/login?returnTo=${encodeURIComponent(req.originalUrl)}`);
  const refuse = (res: Response, status: number, message: string) => {
    res.locals.authFailed = true;
    sendPage(res, status, 'Not signed in', `<p>${escapeHtml(message)}</p><p><a href="/auth/login">Start again</a></p>`);
  };
  const finishSignIn = async (res: Response, email: string, returnTo: string) => {
    setSessionCookie(res, await signIn.createSession(email));
    (res.locals.log as Logger).info({ user: email }, 'signed in');
    res.redirect(303, safeReturnTo(returnTo));
  };

  router.get('/auth/login', async (req, res) => {
    const returnTo = safeReturnTo(req.query.returnTo);
    if (!signIn.oidcEnabled) {
      sendPage(
        res,
        200,
        'Sign in to p0',
        `<p>This p0 has no identity provider configured. Sign in with a one-time link: ask your p0 administrator, who runs</p>
<pre>npm run login-link -- you@example.com</pre><p>and sends you the link it prints (it works once, for 10 minutes).</p>`,
      );
      return;
    }
    try {
      const { authorizationUrl, state } = await signIn.startOidcSignIn(returnTo);
      res.cookie(SIGN_IN_COOKIE, state, { httpOnly: true, sameSite: 'lax', secure: secure(), path: '/auth', maxAge: 10 * 60_000 });
      res.redirect(303, authorizationUrl);
    } catch (error) {
      if (!(error instanceof SignInRefused)) throw error;
      (res.locals.log as Logger).warn({ reason: error.message }, 'sign-in could not start');
      sendPage(res, 503, 'Sign-in unavailable', `<p>${escapeHtml(error.message)}</p>`);
    }
  });

  router.get('/auth/callback', async (req, res) => {
    const cookieState = cookiesOf(req).get(SIGN_IN_COOKIE);
    res.clearCookie(SIGN_IN_COOKIE, { path: '/auth' });
    try {
      const { email, returnTo } = await signIn.finishOidcSignIn(new URL(req.originalUrl, signIn.publicUrl), cookieState);
      await finishSignIn(res, email, returnTo);
    } catch (error) {
      if (!(error instanceof SignInRefused)) throw error;
      (res.locals.log as Logger).warn({ reason: error.message }, 'sign-in refused');
      refuse(res, 403, error.message);
    }
  });

  // The link carries its token after `#`: browsers never send that part to a server (so no access
  // log or Referer keeps it), and a link preview that fetches the page uses nothing; the person's
  // click posts it.
  router.get('/auth/link', (_req, res) => {
    const nonce = randomBytes(16).toString('base64');
    sendPage(
      res,
      200,
      'Sign in to p0',
      `<form method="post" action="/auth/link" id="link"><input type="hidden" name="token" id="token"><button type="submit" id="sign-in">Sign in to p0</button></form>
<p id="missing" hidden>This link is incomplete: copy the whole link, including what follows "#".</p>
<script nonce="${nonce}">
const token = decodeURIComponent(location.hash.slice(1));
if (token) { document.getElementById('token').value = token; history.replaceState(null, '', location.pathname); }
else { document.getElementById('link').hidden = true; document.getElementById('missing').hidden = false; }
</script>`,
      nonce,
    );
  });

  router.post('/auth/link', form, async (req, res) => {
    const token = (req.body as Record<string, unknown> | undefined)?.token;
    // Another site must not sign this browser in to an account of its choosing.
    const origin = req.get('origin');
    if (origin !== undefined && origin !== new URL(signIn.publicUrl).origin) return sendCsrfRefusal(req, res, 'Refused: this sign-in was sent from another site.');
    try {
      if (typeof token !== 'string' || !token) throw new SignInRefused('This sign-in link is incomplete: copy the whole link.');
      await finishSignIn(res, await signIn.useLoginLink(token), '/');
    } catch (error) {
      if (!(error instanceof SignInRefused)) throw error;
      refuse(res, 403, error.message);
    }
  });

  router.post('/auth/logout', form, async (req, res) => {
    const sessionId = cookiesOf(req).get(SESSION_COOKIE);
    if (sessionId) {
      const presented = req.get(CSRF_HEADER) ?? (req.body as Record<string, unknown> | undefined)?.csrf;
      const refusal = csrfRefusal(req, signIn, sessionId, typeof presented === 'string' ? presented : undefined);
      if (refusal) return sendCsrfRefusal(req, res, refusal);
      await signIn.endSession(sessionId);
    }
    res.clearCookie(SESSION_COOKIE, { path: '/' });
    if (req.accepts(['html', 'json']) === 'json') res.json({ signedOut: true });
    else sendPage(res, 200, 'Signed out', '<p>You are signed out of p0.</p><p><a href="/auth/login">Sign in again</a></p>');
  });

  /** For the web page's scripts: who is signed in, and the CSRF token their calls send. */
  router.get('/auth/session', async (req, res) => {
    const session = await sessionOf(req);
    if (!session) {
      res.locals.authFailed = true;
      res.status(401).json({ error: { code: 'unauthenticated', message: 'Not signed in: open /auth/login' } });
      return;
    }
    res.setHeader('cache-control', 'no-store');
    res.json({ user: { email: session.email }, csrfToken: signIn.csrfTokenFor(session.sessionId) });
  });

  // --- p0 login: a token for the CLI on this machine, posted to its one-shot loopback listener ---

  const cliParams = (source: Record<string, unknown>) => {
    const port = Number(source.port);
    const state = source.state;
    if (!Number.isInteger(port) || port < 1024 || port > 65535 || typeof state !== 'string' || !CLI_STATE.test(state)) return undefined;
    return { port, state };
  };

  router.get('/auth/cli', async (req, res) => {
    const params = cliParams(req.query);
    if (!params) return sendPage(res, 400, 'Not a p0 login link', '<p>This link is incomplete or damaged: run <code>p0 login</code> again and open the link it prints.</p>');
    const session = await sessionOf(req);
    if (!session) return signInFirst(req, res);
    sendPage(
      res,
      200,
      'Sign in the p0 CLI',
      `<p>The p0 command line on this computer asks for a personal API token for <strong>${escapeHtml(session.email)}</strong> (it ends after ${Math.round(signIn.config.tokenLifetime / 86_400_000)} days, or when you run <code>p0 logout</code>).</p>
<form method="post" action="/auth/cli"><input type="hidden" name="csrf" value="${escapeHtml(signIn.csrfTokenFor(session.sessionId))}"><input type="hidden" name="port" value="${params.port}"><input type="hidden" name="state" value="${escapeHtml(params.state)}"><button type="submit" id="allow">Sign in the CLI</button></form>
<p>If you did not just run <code>p0 login</code>, close this page.</p>`,
    );
  });

  router.post('/auth/cli', form, async (req, res) => {
    const body = (req.body ?? {}) as Record<string, unknown>;
    const session = await sessionOf(req);
    if (!session) return refuse(res, 401, 'You are not signed in (or your session ended): run p0 login again.');
    const refusal = csrfRefusal(req, signIn, session.sessionId, typeof body.csrf === 'string' ? body.csrf : undefined);
    if (refusal) return sendCsrfRefusal(req, res, refusal);
    const params = cliParams(body);
    if (!params) return sendPage(res, 400, 'Not a p0 login link', '<p>Run <code>p0 login</code> again.</p>');
    const token = await signIn.issueCliToken(session.email, 'p0 login');
    (res.locals.log as Logger).info({ user: session.email }, 'token issued to the CLI');
    // The token travels in a POST body to the CLI on this machine, never in a URL.
    const nonce = randomBytes(16).toString('base64');
    sendPage(
      res,
      200,
      'Signing in the p0 CLI',
      `<form method="post" action="http://127.0.0.1:${params.port}/callback" id="to-cli"><input type="hidden" name="state" value="${escapeHtml(params.state)}"><input type="hidden" name="token" value="${escapeHtml(token)}"><input type="hidden" name="email" value="${escapeHtml(session.email)}"><button type="submit">Continue</button></form>
<script nonce="${nonce}">document.getElementById('to-cli').submit();</script>`,
      nonce,
      `http://127.0.0.1:${params.port}`,
    );
  });

  // --- p0 login --device: a short code the person confirms on /device -------------------------

  router.post('/auth/device', async (_req, res) => {
    // Each start stores a row: it counts against the per-address allowance for failed calls.
    res.locals.authFailed = true;
    const { deviceCode, userCode } = await signIn.startDeviceLogin();
    res.setHeader('cache-control', 'no-store');
    res.json({
      deviceCode,
      userCode: `${userCode.slice(0, 4)}-${userCode.slice(4)}`,
      verificationUrl: `${signIn.publicUrl}/device`,
      expiresIn: DEVICE_CODE_LIFETIME_MS / 1000,
      interval: DEVICE_POLL_INTERVAL_S,
    });
  });

  router.post('/auth/device/token', json, async (req, res) => {
    const deviceCode = (req.body as Record<string, unknown> | undefined)?.deviceCode;
    const answer = typeof deviceCode === 'string' && deviceCode.length <= 100 ? await signIn.pollDeviceLogin(deviceCode) : { status: 'unknown' as const };
    res.setHeader('cache-control', 'no-store');
    if (answer.status === 'pending') return res.status(202).json({ status: 'pending' });
    if (answer.status === 'unknown') {
      res.locals.authFailed = true;
      return res.status(400).json({ error: { code: 'bad_request', message: 'This device code is unknown, already used or expired: run p0 login --device again' } });
    }
    (res.locals.log as Logger).info({ user: answer.email }, 'token issued to a device');
    res.json({ token: answer.token, email: answer.email });
  });

  router.get('/device', async (req, res) => {
    const session = await sessionOf(req);
    if (!session) return signInFirst(req, res);
    const code = typeof req.query.code === 'string' ? req.query.code.slice(0, 20) : '';
    sendPage(
      res,
      200,
      'Sign in a device',
      `<p>Signed in as <strong>${escapeHtml(session.email)}</strong>. Type the code that <code>p0 login --device</code> shows:</p>
<form method="post" action="/device"><input type="hidden" name="csrf" value="${escapeHtml(signIn.csrfTokenFor(session.sessionId))}"><input name="code" id="code" autocomplete="off" value="${escapeHtml(code)}" placeholder="ABCD-EFGH"> <button type="submit" id="confirm">Sign in that device</button></form>`,
    );
  });

  router.post('/device', form, async (req, res) => {
    const body = (req.body ?? {}) as Record<string, unknown>;
    const session = await sessionOf(req);
    if (!session) return signInFirst(req, res);
    const refusal = csrfRefusal(req, signIn, session.sessionId, typeof body.csrf === 'string' ? body.csrf : undefined);
    if (refusal) return sendCsrfRefusal(req, res, refusal);
    const code = typeof body.code === 'string' ? body.code.slice(0, 20) : '';
    if (!(await signIn.approveDevice(code, normalizeEmail(session.email)))) {
      res.locals.authFailed = true;
      return sendPage(res, 400, 'Unknown code', '<p>No device is waiting with this code (codes work once, for 10 minutes). Check it, or run <code>p0 login --device</code> again.</p><p><a href="/device">Try again</a></p>');
    }
    (res.locals.log as Logger).info({ user: session.email }, 'device approved');
    sendPage(res, 200, 'Device signed in', '<p>Done: go back to your terminal.</p>');
  });

  return router;
}

function sendCsrfRefusal(req: Request, res: Response, message: string): void {
  if (req.accepts(['html', 'json']) === 'json') res.status(403).json({ error: { code: 'csrf', message } });
  else sendPage(res, 403, 'Refused', `<p>${escapeHtml(message)}</p>`);
}

/** A small HTML page; inline script only with this response's nonce, forms only to here (or the CLI's listener). */
function sendPage(res: Response, status: number, title: string, body: string, scriptNonce?: string, extraFormAction?: string): void {
  const script = scriptNonce ? `'nonce-${scriptNonce}'` : `'none'`;
  res.setHeader(
    'content-security-policy',
    `default-src 'none'; connect-src 'self'; style-src 'unsafe-inline'; script-src ${script}; form-action 'self'${extraFormAction ? ` ${extraFormAction}` : ''}; frame-ancestors 'none'; base-uri 'none'`,
  );
  res.setHeader('cache-control', 'no-store');
  // same-origin: forms here still send their Origin (no-referrer would make it `null`), other sites get nothing.
  res.setHeader('referrer-policy', 'same-origin');
  res
    .status(status)
    .type('html')
    .send(
      `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width"><title>${escapeHtml(title)}</title>
<style>body{font-family:system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem;line-height:1.5}</style></head>
<body><h1>${escapeHtml(title)}</h1>
${body}
</body></html>`,
    );
}

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[char]!);
}
