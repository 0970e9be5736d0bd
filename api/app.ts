/**
 * The HTTP API: a thin JSON skin over the request service. Authenticates the bearer token, maps
 * routes to service calls and errors to `{error: {code, message}}`; no rules live here.
 */
import express, { type NextFunction, type Request, type Response } from 'express';
import type { Logger } from 'pino';
import { AppError } from '../service/errors';
import type { Caller } from '../service/policy';
import { listRequestsFilter, type RequestService } from '../service/requestService';
import { openApiDocument } from './openapi';

export interface TokenAuthenticator {
  authenticate(token: string): Promise<{ email: string; admin: boolean } | undefined>;
}

export interface ApiOptions {
  service: RequestService;
  tokens: TokenAuthenticator;
  logger: Logger;
  /**
   * Chat channels' own endpoints (Slack's /slack/events), mounted before the JSON body parser:
   * they read the raw body to check the platform's signature.
   */
  channels?: readonly express.RequestHandler[];
}

type Action = 'approve' | 'deny' | 'relinquish' | 'cancel' | 'revoke' | 'review';
const ACTIONS: readonly Action[] = ['approve', 'deny', 'relinquish', 'cancel', 'revoke', 'review'];

export function createApiApp({ service, tokens, logger, channels = [] }: ApiOptions): express.Express {
  const app = express();
  app.disable('x-powered-by');
  for (const channel of channels) app.use(channel);
  app.use(express.json({ limit: '64kb' }));

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/v1/openapi.json', (_req, res) => {
    res.json(openApiDocument);
  });

  const authenticated = express.Router();
  authenticated.use(async (req, res, next) => {
    const header = req.get('authorization') ?? '';
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    if (!match) {
      return sendError(res, new AppError('unauthenticated', 'Missing bearer token: send "Authorization: Bearer <token>" (get one with `npm run token -- <email>`)'));
    }
    let identity: Caller | undefined;
    try {
      identity = await tokens.authenticate(match[1]!);
    } catch (error) {
      return next(error);
    }
    if (!identity) return sendError(res, new AppError('unauthenticated', 'Invalid, expired or revoked token: get a new one (`p0 login` / `npm run token -- <email>`)'));
    res.locals.caller = identity satisfies Caller;
    next();
  });

  authenticated.get('/v1/me', (_req, res) => {
    const caller = callerOf(res);
    res.json({ user: { email: caller.email, admin: service.isAdmin(caller) } });
  });

  authenticated.get('/v1/resources', (req, res) => {
    res.json({ resources: service.resources(callerOf(res)) });
  });

  authenticated.post('/v1/requests', async (req, res) => {
    if (req.body === undefined) {
      throw new AppError('bad_request', 'Send the request body as JSON with "Content-Type: application/json"');
    }
    const request = await service.create(callerOf(res), req.body);
    res.status(201).json({ request });
  });

  authenticated.get('/v1/requests', async (req, res) => {
    const parsed = listRequestsFilter.safeParse({
      status: req.query.status,
      mine: booleanQuery(req.query.mine, 'mine'),
      pendingApproval: booleanQuery(req.query.pendingApproval, 'pendingApproval'),
    });
    if (!parsed.success) throw new AppError('bad_request', `status: must be one of ${listRequestsFilter.shape.status.unwrap().options.join(', ')}`);
    res.json({ requests: await service.list(callerOf(res), parsed.data) });
  });

  authenticated.get('/v1/requests/:id', async (req, res) => {
    res.json({ request: await service.get(callerOf(res), req.params.id) });
  });

  authenticated.post('/v1/requests/:id/extend', async (req, res) => {
    res.json({ request: await service.extend(callerOf(res), req.params.id, req.body) });
  });

  authenticated.post('/v1/requests/:id/:action', async (req, res) => {
    const action = req.params.action as Action;
    if (!ACTIONS.includes(action)) throw new AppError('not_found', `No such action "${req.params.action}": use one of ${[...ACTIONS, 'extend'].join(', ')}`);
    const body = (req.body ?? {}) as Record<string, unknown>;
    const text = body.comment ?? body.reason;
    if (text !== undefined && typeof text !== 'string') throw new AppError('bad_request', 'comment: must be a string');
    const request = await service[action](callerOf(res), req.params.id, text);
    res.json({ request });
  });

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
    if (status === 413) return sendError(res, new AppError('bad_request', 'The request body is too large'));
    // Malformed URL escapes, bad content encodings and the like: the client's mistake, not ours.
    if (typeof status === 'number' && status >= 400 && status < 500) {
      return sendError(res, new AppError('bad_request', 'The request is malformed: check its URL encoding and its body encoding'));
    }
    logger.error({ err: error, method: req.method, path: req.path }, 'request failed');
    sendError(res, new AppError('internal', 'Something went wrong on the server; it has been logged'));
  });

  return app;
}

function callerOf(res: Response): Caller {
  return res.locals.caller as Caller;
}

function booleanQuery(value: unknown, name: string): boolean | undefined {
  if (value === undefined) return undefined;
  if (value === 'true' || value === '1') return true;
  if (value === 'false' || value === '0') return false;
  throw new AppError('bad_request', `${name}: must be true or false`);
}

function sendError(res: Response, error: AppError): void {
  res.status(error.status).json({ error: { code: error.code, message: error.message } });
}
