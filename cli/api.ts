/**
 * The CLI's only way to the product: HTTP to the p0 API. Turns every failure into a CliError with
 * words a person can act on (the server's own message when it sent one).
 */
import type { CatalogAnswer, MeAnswer, ReconcileAnswer, ReconcileEventsAnswer, RequestAnswer, RequestListAnswer, TokenRevokedAnswer } from '../shared/api';
import type { CatalogEntry } from '../shared/catalog';
import type { ReconcileEvent, ReconcileInput, ReconcileReport } from '../shared/reconcile';
import type { RequestAction, RequestView } from '../shared/request';
import { insecureHttpRefusal, type Connection } from './config';
import { CliError } from './errors';

/**
 * One entry of `GET /v1/resources` (shared/catalog.ts) as any server sends it: servers from before
 * the catalog's later fields (resource, level, presets, ...) leave them out, so here they are optional.
 */
export type ResourceEntry = Pick<CatalogEntry, 'provider' | 'kind' | 'target' | 'minDuration' | 'maxDuration' | 'defaultDuration' | 'approvalsRequired'> &
  Partial<CatalogEntry> & { presets?: unknown };

export interface ListFilter {
  mine?: boolean;
  pendingApproval?: boolean;
  status?: string;
}

export const NOT_LOGGED_IN_MESSAGE = 'You are not logged in: run p0 login (or set P0_TOKEN)';
export const BAD_TOKEN_MESSAGE = 'Your token is missing, invalid or expired: run p0 login';
export const EXPIRED_TOKEN_MESSAGE = 'Your token has expired: run p0 login to sign in again';

/** The API answered with an error (`{error: {code, message}}`). */
export class ApiError extends CliError {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }

  /** Worth asking again (the server or something in front of it is briefly unwell). */
  get transient(): boolean {
    return this.status >= 500;
  }
}

/** No HTTP answer at all: refused, unknown host, reset, or no answer in time. */
export class UnreachableError extends CliError {}

const DEFAULT_TIMEOUT_MS = 30_000;
// Relinquish and revoke answer once removal is confirmed (up to 30 s on the server).
const ACTION_TIMEOUT_MS = 60_000;
// An on-demand reconcile pass answers when it is done; the server gives it up to 10 minutes.
const RECONCILE_TIMEOUT_MS = 11 * 60_000;

export class ApiClient {
  constructor(readonly connection: Connection) {}

  get apiUrl(): string {
    return this.connection.apiUrl;
  }

  /** Who the token belongs to. */
  async me(): Promise<{ email: string; admin: boolean }> {
    return (await this.call<MeAnswer>('GET', '/v1/me')).user;
  }

  /** Revokes the token this client calls with (`p0 logout`). */
  async revokeOwnToken(): Promise<void> {
    await this.call<TokenRevokedAnswer>('DELETE', '/v1/tokens/current');
  }

  async resources(): Promise<ResourceEntry[]> {
    return (await this.call<CatalogAnswer>('GET', '/v1/resources')).resources;
  }

  async createRequest(body: object): Promise<RequestView> {
    return (await this.call<RequestAnswer>('POST', '/v1/requests', body)).request;
  }

  async getRequest(id: string): Promise<RequestView> {
    return (await this.call<RequestAnswer>('GET', `/v1/requests/${encodeURIComponent(id)}`)).request;
  }

  async listRequests(filter: ListFilter): Promise<RequestView[]> {
    const query = new URLSearchParams();
    if (filter.mine) query.set('mine', 'true');
    if (filter.pendingApproval) query.set('pendingApproval', 'true');
    if (filter.status) query.set('status', filter.status);
    const suffix = query.size > 0 ? `?${query.toString()}` : '';
    return (await this.call<RequestListAnswer>('GET', `/v1/requests${suffix}`)).requests;
  }

  /** `subject` (approve, deny): the pending extension's id when deciding an extension. */
  async act(id: string, action: RequestAction, comment?: string, subject?: string): Promise<RequestView> {
    const body = { ...(comment === undefined ? {} : { comment }), ...(subject === undefined ? {} : { subject }) };
    const path = `/v1/requests/${encodeURIComponent(id)}/${action}`;
    return (await this.call<RequestAnswer>('POST', path, body, ACTION_TIMEOUT_MS)).request;
  }

  async extend(id: string, duration: string, reason?: string): Promise<RequestView> {
    const body = reason === undefined ? { duration } : { duration, reason };
    try {
      const path = `/v1/requests/${encodeURIComponent(id)}/extend`;
      return (await this.call<RequestAnswer>('POST', path, body, ACTION_TIMEOUT_MS)).request;
    } catch (error) {
      // An API from before extension existed names the action it does not know.
      if (error instanceof ApiError && error.status === 404 && /No such (action|route)/i.test(error.message)) {
        throw new CliError(`the p0 API at ${this.apiUrl} cannot extend requests yet (it has no extend action): upgrade the server`);
      }
      throw error;
    }
  }

  /** Runs one reconcile pass now (admins); answers once it is done. */
  async reconcile(options: ReconcileInput): Promise<ReconcileReport> {
    try {
      return (await this.call<ReconcileAnswer>('POST', '/v1/reconcile', options, RECONCILE_TIMEOUT_MS)).report;
    } catch (error) {
      if (error instanceof ApiError && error.status === 404 && /No such route/i.test(error.message)) {
        throw new CliError(`the p0 API at ${this.apiUrl} has no reconciler (POST /v1/reconcile): upgrade the server`);
      }
      if (error instanceof UnreachableError && /did not answer within/.test(error.message)) {
        throw new CliError(`${error.message}: the pass may still be running; p0 reconcile events shows what it did`);
      }
      throw error;
    }
  }

  /** The reconciler's audit trail, newest first (admins). */
  async reconcileEvents(filter: { requestId?: string; limit?: number }): Promise<ReconcileEvent[]> {
    const query = new URLSearchParams();
    if (filter.requestId) query.set('requestId', filter.requestId);
    if (filter.limit !== undefined) query.set('limit', String(filter.limit));
    const suffix = query.size > 0 ? `?${query.toString()}` : '';
    return (await this.call<ReconcileEventsAnswer>('GET', `/v1/reconcile/events${suffix}`)).events;
  }

  async call<T>(method: string, path: string, body?: unknown, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<T> {
    const { token, apiUrl } = this.connection;
    if (!token) throw new CliError(NOT_LOGGED_IN_MESSAGE);
    const refusal = insecureHttpRefusal(this.connection);
    if (refusal) throw new CliError(refusal);
    const headers: Record<string, string> = { authorization: `Bearer ${token}`, accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';

    let response: Response;
    try {
      response = await fetch(`${apiUrl}${path}`, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (error) {
      throw unreachable(apiUrl, error, timeoutMs);
    }

    let text: string;
    try {
      text = await response.text();
    } catch (error) {
      throw unreachable(apiUrl, error, timeoutMs);
    }
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = undefined;
    }

    const apiError = (parsed as { error?: { code?: unknown; message?: unknown } } | undefined)?.error;
    if (response.status === 401) {
      // `p0 login` cannot help while P0_TOKEN overrides the stored token: say so.
      const hint = this.connection.tokenFrom === 'P0_TOKEN' ? ' (or fix P0_TOKEN, which overrides the stored token)' : '';
      if (apiError?.code === 'token_expired') throw new ApiError(401, 'token_expired', `${EXPIRED_TOKEN_MESSAGE}${hint}`);
      throw new ApiError(401, 'unauthenticated', `${BAD_TOKEN_MESSAGE}${hint}`);
    }
    if (!response.ok) {
      if (apiError && typeof apiError.message === 'string') {
        throw new ApiError(response.status, typeof apiError.code === 'string' ? apiError.code : 'unknown', apiError.message);
      }
      throw new ApiError(response.status, 'unknown', `unexpected answer from ${apiUrl} (HTTP ${response.status}${parsed === undefined ? ', not JSON' : ''}): is that a p0 API?`);
    }
    if (parsed === undefined || typeof parsed !== 'object') {
      throw new ApiError(response.status, 'unknown', `unexpected answer from ${apiUrl} (HTTP ${response.status}, not JSON): is that a p0 API?`);
    }
    return parsed as T;
  }
}

function unreachable(apiUrl: string, error: unknown, timeoutMs: number): UnreachableError {
  const name = (error as { name?: string }).name;
  if (name === 'TimeoutError' || name === 'AbortError') {
    return new UnreachableError(`the p0 API at ${apiUrl} did not answer within ${Math.round(timeoutMs / 1000)}s`);
  }
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  const detail = cause?.code ?? cause?.message ?? (error as Error).message;
  return new UnreachableError(`cannot reach the p0 API at ${apiUrl} (${detail}): is it running? (p0 login --url URL, or P0_API_URL, points p0 at it)`);
}
