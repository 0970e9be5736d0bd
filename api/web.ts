/**
 * The web page (docs/web.md): the single-page app built from web/ (scripts/webBuild.ts), served by
 * the API's own HTTP server under a strict Content-Security-Policy. Its pages are the paths in
 * PAGE_PATHS, each answered with the app's index.html (the app routes in the browser); its scripts
 * and styles are under /assets. Everything else (/v1, /auth, /healthz, /metrics, the chat
 * platforms' endpoints) is left to the routes that own it. A visitor who is not signed in is sent
 * to /auth/login, and comes back to the page afterwards.
 */
import path from 'node:path';
import express, { type Response } from 'express';
import type { SignInService } from '../service/signIn';
import { cookiesOf, escapeHtml, SESSION_COOKIE } from './auth';

/** The built app (a directory holding index.html and assets/), or why there is none. */
export type WebBuild = { root: string } | { unavailable: string };

/** The app's pages: the browser routes among them (web/src/App.tsx has the same list). */
export const PAGE_PATHS = ['/', '/approvals', '/audit', '/requests/:id'] as const;

/**
 * Only this origin's own files run or load; no inline script or style element, no framing, no
 * plugins, forms post only here. React sets styles through the DOM (allowed); nothing is fetched
 * from a CDN or font service.
 */
export const WEB_CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self' 'report-sample'",
  "style-src 'self' 'report-sample'",
  "img-src 'self'",
  "font-src 'self'",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

export function createWebRouter({ build, signIn }: { build: WebBuild; signIn: SignInService }): express.Router {
  const router = express.Router();
  const securityHeaders: express.RequestHandler = (_req, res, next) => {
    res.setHeader('content-security-policy', WEB_CONTENT_SECURITY_POLICY);
    res.setHeader('x-content-type-options', 'nosniff');
    // same-origin: the page's own calls keep their Referer and Origin; other sites get nothing.
    res.setHeader('referrer-policy', 'same-origin');
    res.setHeader('cross-origin-opener-policy', 'same-origin');
    next();
  };

  if ('root' in build) {
    // File names carry a hash of their content: cached for good, a new build has new names.
    router.use('/assets', securityHeaders, express.static(path.join(build.root, 'assets'), { index: false, immutable: true, maxAge: '365d', redirect: false }));
    router.get('/favicon.svg', securityHeaders, (_req, res) => res.sendFile(path.join(build.root, 'favicon.svg'), { maxAge: '1d' }));
  }

  const page: express.RequestHandler = async (req, res) => {
    const sessionId = cookiesOf(req).get(SESSION_COOKIE);
    const user = sessionId ? await signIn.sessionUser(sessionId) : undefined;
    if (!user) {
      // A cookie that names no live session counts against the address's failed-call allowance.
      if (sessionId) res.locals.authFailed = true;
      res.setHeader('cache-control', 'no-store');
      res.redirect(303, `/auth/login?returnTo=${encodeURIComponent(req.originalUrl)}`);
      return;
    }
    res.setHeader('cache-control', 'no-cache');
    if ('root' in build) {
      res.sendFile(path.join(build.root, 'index.html'));
      return;
    }
    sendUnavailable(res, build.unavailable);
  };
  for (const pagePath of PAGE_PATHS) router.get(pagePath, securityHeaders, page);
  return router;
}

/** The page could not be built: say so (the API and the CLI still work). */
function sendUnavailable(res: Response, why: string): void {
  res
    .status(503)
    .type('html')
    .send(
      `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>p0: web page unavailable</title></head><body><h1>The web page is not available</h1><p>${escapeHtml(why)}</p><p>The API and the p0 CLI still work.</p></body></html>`,
    );
}
