/**
 * The HTTP API: a thin JSON skin over the request service. Authenticates the bearer token, maps
 * routes to service calls and errors to `{error: {code, message}}`; no rules live here.
 */
import { createHash, randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import express, { type NextFunction, type Request, type Response } from 'express';
import { ipKeyGenerator, rateLimit } from 'express-rate-limit';
import type { Logger } from 'pino';
import { AppError } from '../service/errors';
import type { CatalogAnswer, MeAnswer, ReconcileAnswer, ReconcileEventsAnswer, RequestAnswer, RequestListAnswer, TokenListAnswer, TokenRevokedAnswer } from '../shared/api';
import type { ErrorAnswer } from '../shared/errors';
import { REQUEST_ACTIONS, type RequestAction } from '../shared/request';
import { InvalidEmailError, normalizeEmail } from '../service/identity';
import type { ReadinessReport } from '../service/health';
import { metricsText } from '../service/metrics';
import type { Caller } from '../service/policy';
import type { ReconcileService } from '../service/reconcileService';
import type { RequestService } from '../service/requestService';
import type { TokenCheck, TokenSummary } from '../db/tokenStore';
import type { RequestFeed } from '../service/requestFeed';
import type { SignInService } from '../service/signIn';
import { cookiesOf, createAuthRouter, CSRF_HEADER, csrfRefusal, SESSION_COOKIE } from './auth';
import { createAuditRouter } from './audit';
import { createEventsRouter } from './events';
import { openApiDocument } from './openapi';
import { booleanQuery, listFilterOf } from './query';
import { createWebRouter, type WebBuild } from './web';

/** The API tokens, as the API uses them (db/tokenStore.ts). */
export interface TokenAuthenticator {
  /** Live, expired (answered `token_expired`), or unknown/revoked (undefined). */
  check(token: string): Promise<TokenCheck>;
  list(filter: { email?: string }): Promise<TokenSummary[]>;
  revoke(id: number, options?: { owner?: string }): Promise<boolean>;
}

export interface ApiOptions {
  service: RequestService;
  tokens: TokenAuthenticator;
  logger: Logger;
  /**
   * Chat channels' own endpoints (Slack's /slack/events), mounted before the JSON body parser (they
   * read the raw body to check the platform's signature) and behind the per-IP rate limit.
   */
  channels?: readonly ChannelEndpoint[];
  /** The reconciler's on-demand run and audit trail (admins only); absent: those routes answer 404. */
  reconcile?: ReconcileService;
  /** What GET /readyz reports (Temporal and the database); without it /readyz says ready. */
  readiness?: () => Promise<ReadinessReport>;
  /** Requests a minute per token, and failed or unauthenticated calls a minute per client IP; default API_RATE_LIMIT_PER_MINUTE or 600. */
  rateLimitPerMinute?: number;
  /** Browser sign-in and `p0 login` (api/auth.ts); absent: bearer tokens only. */
  signIn?: SignInService;
  /** The web page's built files (api/web.ts); served only with `signIn`. */
  web?: WebBuild;
  /** The live feed behind GET /v1/events (api/events.ts); absent: that route answers 404. */
  feed?: RequestFeed;
}

/** A chat platform's endpoint: its path and the handler that checks the platform's signature. */
export interface ChannelEndpoint {
  path: string;
  handler: express.RequestHandler;
}

/** Generous: a person, a CLI polling with --wait, or the test suite never gets near it. */
export const DEFAULT_RATE_LIMIT_PER_MINUTE = 600;
/** JSON bodies larger than this are refused with 413 payload_too_large. */
export const MAX_BODY = '64kb';
/** Longer URLs (path and query) are refused with 414 uri_too_long; Node itself stops at 16 KB of headers. */
export const MAX_URL_LENGTH = 4096;

/** API_RATE_LIMIT_PER_MINUTE, or the default; a positive whole number. */
export function rateLimitFromEnv(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.API_RATE_LIMIT_PER_MINUTE?.trim();
  if (!raw) return DEFAULT_RATE_LIMIT_PER_MINUTE;
  const limit = Number(raw);
  if (!Number.isInteger(limit) || limit < 1) throw new Error(`API_RATE_LIMIT_PER_MINUTE must be a positive whole number (got "${raw}")`);
  return limit;
}

/** What an approve or deny names: the request, or an extension by its id. */
const SUBJECT_PATTERN = /^(request|extension|ext-[0-9]{1,9})$/;

export function createApiApp({ service, tokens, logger, channels = [], readiness, rateLimitPerMinute, reconcile, signIn, web, feed }: ApiOptions): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.use(requestLogging(logger));
  app.use((req, res, next) => {
    if (req.originalUrl.length <= MAX_URL_LENGTH) return next();
    sendError(res, new AppError('uri_too_long', `The URL is longer than ${MAX_URL_LENGTH} characters`));
  });
  // Chat platforms send no bearer token: their endpoints are limited per client IP, counted before
  // the body is read or its signature checked (a bearer header buys no fresh allowance here).
  if (channels.length > 0) {
    const channelLimit = ipRateLimit(rateLimitPerMinute ?? rateLimitFromEnv());
    for (const channel of channels) app.all(channel.path, channelLimit, channel.handler);
  }

  // Operators' routes: no token, no rate limit (probes and scrapers call them often).
  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  // Failed and unauthenticated calls are limited per client address, before the token is looked up:
  // a fresh random token on every call must not buy a fresh allowance.
  const failedCalls = failedCallRateLimit(rateLimitPerMinute ?? rateLimitFromEnv());
  /** The caller a bearer token names; undefined (and counted as a failed call) when it names none. */
  const authenticate = async (req: Request, res: Response): Promise<Caller | undefined> => {
    const token = BEARER.exec(req.get('authorization') ?? '')?.[1];
    const checked = token ? await tokens.check(token) : undefined;
    if (checked?.status !== 'valid') {
      res.locals.authFailed = true;
      if (checked?.status === 'expired') res.locals.tokenExpired = true;
      return undefined;
    }
    res.locals.tokenId = checked.id;
    return { email: checked.email, admin: checked.admin };
  };

  // Probes get ready or not; what is down and why (addresses, error texts) only with a valid token.
  // A token sent here is checked like any other, so it counts like any other failed call; past the
  // allowance it is not checked at all (a probe is never refused: it gets the plain answer).
  const limitTokenChecks: express.RequestHandler = (req, res, next) => (req.get('authorization') ? failedCalls(req, res, next) : next());
  app.get('/readyz', limitTokenChecks, async (req, res) => {
    const report = readiness ? await readiness() : { ready: true, checks: {} };
    if (!report.ready) logOf(res).warn({ checks: report.checks }, 'not ready');
    // The database being down is one reason not to be ready: then the token cannot be checked.
    const checkToken = req.get('authorization') && res.locals.overFailedCallLimit !== true;
    const caller = checkToken ? await authenticate(req, res).catch(() => undefined) : undefined;
    if (!caller) {
      if (report.ready) res.json({ status: 'ready' });
      else res.status(503).json({ status: 'not_ready', error: { code: 'unavailable', message: NOT_READY_MESSAGE } });
      return;
    }
    if (report.ready) {
      res.json({ status: 'ready', checks: report.checks });
      return;
    }
    const failed = Object.entries(report.checks).filter(([, result]) => result !== 'ok');
    res.status(503).json({
      status: 'not_ready',
      checks: report.checks,
      error: { code: 'unavailable', message: `Not ready: ${failed.map(([name, result]) => `${name} ${result}`).join('; ')}` },
    });
  });
  app.get('/metrics', async (_req, res) => {
    const { contentType, body } = await metricsText();
    res.type(contentType).send(body);
  });
  app.get('/v1/openapi.json', (_req, res) => {
    res.json(openApiDocument);
  });

  app.use(failedCalls);
  if (signIn) app.use(createAuthRouter({ signIn, bodyLimit: MAX_BODY }));
  if (signIn && web) app.use(createWebRouter({ build: web, signIn }));

  const authenticated = express.Router();
  authenticated.use(async (req, res, next) => {
    let identity: Caller | undefined;
    const sessionId = signIn ? cookiesOf(req).get(SESSION_COOKIE) : undefined;
    if (!BEARER.test(req.get('authorization') ?? '') && signIn && sessionId) {
      // A browser's session: what it changes must carry the page's CSRF token and come from this site.
      try {
        const user = await signIn.sessionUser(sessionId);
        if (!user) {
          res.locals.authFailed = true;
          return sendError(res, new AppError('unauthenticated', 'Your session has ended: sign in again at /auth/login'));
        }
        if (!SAFE_METHODS.has(req.method)) {
          const refusal = csrfRefusal(req, signIn, sessionId, req.get(CSRF_HEADER));
          if (refusal) return sendError(res, new AppError('csrf', refusal));
        }
        identity = { email: user.email, admin: false };
        res.locals.sessionId = sessionId;
      } catch (error) {
        return next(error);
      }
    } else if (!BEARER.test(req.get('authorization') ?? '')) {
      res.locals.authFailed = true;
      return sendError(res, new AppError('unauthenticated', 'Missing bearer token: send "Authorization: Bearer <token>" (run `p0 login`, or get one with `npm run token -- <email>`)'));
    } else {
      try {
        identity = await authenticate(req, res);
      } catch (error) {
        return next(error);
      }
    }
    if (!identity && res.locals.tokenExpired === true) return sendError(res, new AppError('token_expired', 'Your token has expired: run `p0 login` to sign in again'));
    if (!identity) return sendError(res, new AppError('unauthenticated', 'Invalid or revoked token: get a new one (`p0 login`; for automation `npm run token -- <email>`)'));
    let email: string;
    try {
      // The caller is known by the one normalised form of their email, whatever the authenticator holds.
      email = normalizeEmail(identity.email);
    } catch (error) {
      if (!(error instanceof InvalidEmailError)) return next(error);
      return sendError(res, new AppError('unauthenticated', `This token's holder ${error.message}: get a new one (\`npm run token -- <email>\`)`));
    }
    res.locals.caller = { email, admin: identity.admin } satisfies Caller;
    res.locals.log = logOf(res).child({ user: email });
    next();
  });
  // Authenticated calls: an allowance per token, counted once the token is known to be real.
  authenticated.use(tokenRateLimit(rateLimitPerMinute ?? rateLimitFromEnv()));
  // Bodies are read only once the caller is known, and only where a route takes one.
  const json = express.json({ limit: MAX_BODY });
  authenticated.use((req, res, next) => (req.method === 'POST' ? json(req, res, next) : next()));
  // Every line logged while serving /v1/requests/:id... names the request.
  authenticated.param('id', (_req, res, next, id: string) => {
    res.locals.log = logOf(res).child({ requestId: id.slice(0, 64) });
    next();
  });

  authenticated.get('/v1/me', (_req, res) => {
    const caller = callerOf(res);
    res.json({ user: { email: caller.email, admin: service.isAdmin(caller) } } satisfies MeAnswer);
  });

  authenticated.get('/v1/resources', (req, res) => {
    res.json({ resources: service.resources(callerOf(res)) } satisfies CatalogAnswer);
  });

  authenticated.post('/v1/requests', async (req, res) => {
    if (req.body === undefined) {
      throw new AppError('bad_request', 'Send the request body as JSON with "Content-Type: application/json"');
    }
    const request = await service.create(callerOf(res), req.body);
    res.locals.log = logOf(res).child({ requestId: request.id });
    res.status(201).json({ request } satisfies RequestAnswer);
  });

  authenticated.get('/v1/requests', async (req, res) => {
    res.json({ requests: await service.list(callerOf(res), listFilterOf(req)) } satisfies RequestListAnswer);
  });

  authenticated.get('/v1/requests/:id', async (req, res) => {
    res.json({ request: await service.get(callerOf(res), req.params.id) } satisfies RequestAnswer);
  });

  authenticated.post('/v1/requests/:id/extend', async (req, res) => {
    res.json({ request: await service.extend(callerOf(res), req.params.id, req.body) } satisfies RequestAnswer);
  });

  authenticated.post('/v1/requests/:id/:action', async (req, res) => {
    const action = req.params.action as RequestAction;
    if (!REQUEST_ACTIONS.includes(action)) throw new AppError('not_found', `No such action "${req.params.action}": use one of ${[...REQUEST_ACTIONS, 'extend'].join(', ')}`);
    const body = (req.body ?? {}) as Record<string, unknown>;
    const text = body.comment ?? body.reason;
    if (text !== undefined && typeof text !== 'string') throw new AppError('bad_request', 'comment: must be a string');
    const { subject } = body;
    if (subject !== undefined && (typeof subject !== 'string' || !SUBJECT_PATTERN.test(subject))) {
      throw new AppError('bad_request', 'subject: "request" or a pending extension\'s id such as "ext-7"');
    }
    if (subject !== undefined && action !== 'approve' && action !== 'deny') throw new AppError('bad_request', `subject: only approve and deny take one`);
    const request = action === 'approve' || action === 'deny' ? await service[action](callerOf(res), req.params.id, text, subject) : await service[action](callerOf(res), req.params.id, text);
    res.json({ request } satisfies RequestAnswer);
  });

  authenticated.get('/v1/tokens', async (req, res) => {
    const caller = callerOf(res);
    // Your own tokens; an admin may ask for someone's (?email=) or everyone's (?all=true).
    const all = booleanQuery(req.query.all, 'all') === true;
    const asked = typeof req.query.email === 'string' ? req.query.email : undefined;
    if ((all || asked !== undefined) && !service.isAdmin(caller)) throw new AppError('forbidden', 'Only an admin may list other people\'s tokens');
    let email: string | undefined = caller.email;
    if (all) email = undefined;
    else if (asked !== undefined) {
      try {
        email = normalizeEmail(asked);
      } catch (error) {
        if (!(error instanceof InvalidEmailError)) throw error;
        throw new AppError('bad_request', `email: ${error.message}`);
      }
    }
    const currentId = res.locals.tokenId as number | undefined;
    const list = await tokens.list({ email });
    res.json({ tokens: list.map((token) => ({ ...token, current: token.id === currentId })) } satisfies TokenListAnswer);
  });

  authenticated.delete('/v1/tokens/:tokenId', async (req, res) => {
    const caller = callerOf(res);
    const raw = req.params.tokenId;
    const id = raw === 'current' ? (res.locals.tokenId as number | undefined) : /^[1-9][0-9]{0,15}$/.test(raw) ? Number(raw) : undefined;
    if (id === undefined) {
      throw new AppError(raw === 'current' ? 'bad_request' : 'not_found', raw === 'current' ? 'This call is not authenticated by a token' : `No such token "${raw.slice(0, 40)}"`);
    }
    const revoked = await tokens.revoke(id, service.isAdmin(caller) ? {} : { owner: caller.email });
    if (!revoked) throw new AppError('not_found', `No live token ${id} of yours`);
    logOf(res).info({ tokenId: id }, 'token revoked');
    res.json({ revoked: { id } } satisfies TokenRevokedAnswer);
  });

  if (reconcile) {
    authenticated.post('/v1/reconcile', async (req, res) => {
      res.json({ report: await reconcile.run(callerOf(res), req.body) } satisfies ReconcileAnswer);
    });
    authenticated.get('/v1/reconcile/events', async (req, res) => {
      const limit = req.query.limit === undefined ? undefined : Number(req.query.limit);
      if (limit !== undefined && !(Number.isInteger(limit) && limit > 0)) throw new AppError('bad_request', 'limit: must be a positive whole number');
      const requestId = typeof req.query.requestId === 'string' ? req.query.requestId : undefined;
      res.json({ events: await reconcile.events(callerOf(res), { requestId, limit }) } satisfies ReconcileEventsAnswer);
    });
  }

  authenticated.use(createAuditRouter({ service }));
  if (feed) authenticated.use(createEventsRouter({ feed }));

  app.use(authenticated);

  app.use((_req: Request, res: Response) => {
    sendError(res, new AppError('not_found', 'No such route: see /v1/openapi.json'));
  });

  app.use((error: unknown, req: Request, res: Response, _next: NextFunction) => {
    if (error instanceof AppError) return sendError(res, error);
    const status = (error as { status?: number; type?: string }).status;
    if ((error as { type?: string }).type === 'entity.parse.failed') {
      return sendError(res, new AppError('bad_request', 'The request body is not valid JSON'));
    }
    if (status === 413) return sendError(res, new AppError('payload_too_large', `The request body is larger than ${MAX_BODY}`));
    // Malformed URL escapes, bad content encodings and the like: the client's mistake, not ours.
    if (typeof status === 'number' && status >= 400 && status < 500) {
      return sendError(res, new AppError('bad_request', 'The request is malformed: check its URL encoding and its body encoding'));
    }
    logOf(res).error({ err: error, method: req.method, path: req.path }, 'request failed');
    sendError(res, new AppError('internal', 'Something went wrong on the server; it has been logged'));
  });

  return app;
}

const BEARER = /^Bearer\s+(\S+)$/i;
/** Methods that change nothing: a session cookie alone may call them. */
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** What /readyz says about a failure to callers without a valid token. */
const NOT_READY_MESSAGE = 'Not ready (what failed and why: the log, or /readyz with a valid token)';

/** The logger for this HTTP request: `reqId` on every line, plus `user` and `requestId` once known. */
function logOf(res: Response): Logger {
  return res.locals.log as Logger;
}

/** An incoming X-Request-Id is kept when it looks like one (a proxy's); otherwise a new one. */
const REQUEST_ID_HEADER = /^[\w.:-]{1,128}$/;

/**
 * Gives each HTTP request a child logger carrying `reqId` (echoed in the X-Request-Id header) and
 * writes one line when the answer is sent. Probes and scrapes are logged at debug only.
 */
function requestLogging(logger: Logger): express.RequestHandler {
  return (req, res, next) => {
    const incoming = req.get('x-request-id');
    const reqId = incoming && REQUEST_ID_HEADER.test(incoming) ? incoming : randomUUID();
    res.setHeader('x-request-id', reqId);
    res.locals.log = logger.child({ reqId });
    const startedAt = process.hrtime.bigint();
    res.once('finish', () => {
      const durationMs = Number(process.hrtime.bigint() - startedAt) / 1e6;
      const quiet = OPERATOR_PATHS.has(req.path);
      const line = { method: req.method, path: req.path.slice(0, 200), status: res.statusCode, durationMs: Math.round(durationMs * 10) / 10 };
      logOf(res)[quiet ? 'debug' : 'info'](line, 'request completed');
    });
    next();
  };
}

const OPERATOR_PATHS = new Set(['/healthz', '/readyz', '/metrics']);

/**
 * At most `limit` authenticated requests a minute per bearer token (keyed by its SHA-256, so the
 * token never sits in memory as a key). Mounted after authentication: only real tokens get an
 * allowance of their own. In memory, per API process.
 */
function tokenRateLimit(limit: number): express.RequestHandler {
  return rateLimit({
    windowMs: 60_000,
    limit,
    identifier: 'token',
    standardHeaders: 'draft-8',
    legacyHeaders: false,
    keyGenerator: (req) => `token:${createHash('sha256').update(BEARER.exec(req.get('authorization') ?? '')?.[1] ?? `session:${cookiesOf(req).get(SESSION_COOKIE) ?? ''}`).digest('hex')}`,
    handler: (_req, res) => sendRateLimited(res, limit, `at most ${limit} a minute per token`),
  });
}

/**
 * At most `limit` failed or unauthenticated calls (no token, or one that names nobody) a minute per
 * client address, checked before the token is looked up. Every call is counted on arrival and the
 * count given back when it authenticated (`res.locals.authFailed` unset), so only failures use the
 * allowance. Once it is used up the address is refused whatever it sends, valid tokens included:
 * otherwise a 200 among the 429s would still tell a right guess from a wrong one. Behind a reverse
 * proxy every client shares the proxy's address (Express's `trust proxy` is not set).
 */
function failedCallRateLimit(limit: number): express.RequestHandler {
  return rateLimit({
    windowMs: 60_000,
    limit,
    identifier: 'failed-calls',
    standardHeaders: false,
    legacyHeaders: false,
    skipSuccessfulRequests: true,
    requestWasSuccessful: (_req, res) => res.locals.authFailed !== true,
    keyGenerator: (req) => `ip:${ipKeyGenerator(req.ip ?? req.socket.remoteAddress ?? 'unknown')}`,
    handler: (req, res, next) => {
      if (OPERATOR_PATHS.has(req.path)) {
        res.locals.overFailedCallLimit = true;
        return next();
      }
      const resetTime = (req as Request & { rateLimit?: { resetTime?: Date } }).rateLimit?.resetTime;
      res.setHeader('retry-after', String(resetTime ? Math.max(1, Math.ceil((resetTime.getTime() - Date.now()) / 1000)) : 60));
      sendRateLimited(res, limit, `at most ${limit} failed or unauthenticated calls a minute from your address`);
    },
  });
}

function sendRateLimited(res: Response, limit: number, rule: string): void {
  const retryAfter = res.getHeader('retry-after');
  const wait = retryAfter === undefined ? 'in a minute' : `in ${String(retryAfter)} s`;
  logOf(res).warn({ limit, rule }, 'rate limited');
  sendError(res, new AppError('rate_limited', `Too many requests: ${rule}. Try again ${wait}`));
}

/** At most `limit` calls a minute from one client address: for the chat apps' unauthenticated webhooks. */
function ipRateLimit(limit: number): express.RequestHandler {
  return rateLimit({
    windowMs: 60_000,
    limit,
    identifier: 'channel-ip',
    standardHeaders: 'draft-8',
    legacyHeaders: false,
    keyGenerator: (req) => `ip:${ipKeyGenerator(req.ip ?? req.socket.remoteAddress ?? 'unknown')}`,
    handler: (_req, res) => sendRateLimited(res, limit, `at most ${limit} a minute from one address`),
  });
}

/**
 * Answers what Node's HTTP parser refuses before Express sees it (headers over 16 KB, malformed
 * request lines) in the API's own error format instead of Node's bare status line.
 */
export function answerClientErrors(server: Server, logger: Logger): void {
  server.on('clientError', (error: NodeJS.ErrnoException, socket: Duplex) => {
    if (error.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    if (error.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
      socket.end('HTTP/1.1 408 Request Timeout\r\nConnection: close\r\n\r\n');
      return;
    }
    const tooLarge = error.code === 'HPE_HEADER_OVERFLOW';
    const answer = new AppError(
      tooLarge ? 'headers_too_large' : 'bad_request',
      tooLarge ? 'The URL and headers are larger than the server accepts (16 KB)' : 'The request is not valid HTTP',
    );
    logger.debug({ code: error.code }, 'malformed HTTP request refused');
    const body = JSON.stringify({ error: { code: answer.code, message: answer.message } });
    socket.end(
      `HTTP/1.1 ${answer.status} ${STATUS_CODES[answer.status]}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  });
}

function callerOf(res: Response): Caller {
  return res.locals.caller as Caller;
}

function sendError(res: Response, error: AppError): void {
  res.status(error.status).json({ error: { code: error.code, message: error.message } } satisfies ErrorAnswer);
}
