/**
 * The CLI's only way to the product: HTTP to the p0 API. Turns every failure into a CliError with
 * words a person can act on (the server's own message when it sent one).
 */
import type { RequestView } from '../workflows/types';
import { insecureHttpRefusal, type Connection } from './config';
import { CliError } from './errors';

/** One entry of `GET /v1/resources`. Later fields (resource, level, presets, ...) are optional. */
export interface ResourceEntry {
  provider: string;
  kind: string;
  target: string;
  description?: string;
  minDuration: string;
  maxDuration: string;
  defaultDuration: string;
  approvalsRequired: number;
  /** Catalog position (an AWS account, a project, a cluster) and access level, when the server sends them. */
  resource?: string;
  level?: string;
  durationPresets?: string[];
  presets?: unknown[];
  requireReason?: boolean;
  [field: string]: unknown;
}

export interface ListFilter {
  mine?: boolean;
  pendingApproval?: boolean;
  status?: string;
}

export type RequestAction = 'approve' | 'deny' | 'relinquish' | 'cancel' | 'revoke' | 'review';

/** One finding of a reconcile pass, and what was done about it (`POST /v1/reconcile`). */
export interface ReconcileOutcome {
  provider: string;
  requestId: string;
  description: string;
  /** `revoked`, `reported`, `revoke_failed`, `reprovision_requested`, `reprovision_failed`; in a dry run `would revoke`, `would report`, `would re-provision`. */
  action: string;
  error?: string;
}

/** The answer of `POST /v1/reconcile`: one pass of the orphan reconciler. */
export interface ReconcileReport {
  runId: string;
  dryRun: boolean;
  checkedAt: string;
  providers: string[];
  /** Grants at a provider that no request holds. */
  orphans: ReconcileOutcome[];
  /** Active requests whose grant the provider no longer reports. */
  missing: ReconcileOutcome[];
  /** Providers (or single grants) that could not be checked, and why. */
  errors: Array<{ provider: string; message: string }>;
}

/** One line of the reconciler's audit trail (`GET /v1/reconcile/events`). */
export interface ReconcileEvent {
  runId: string;
  at: string;
  finding: string;
  provider: string;
  requestId?: string;
  description: string;
  action: string;
  error?: string;
}

export const NOT_LOGGED_IN_MESSAGE = 'You are not logged in: run p0 login (or set P0_TOKEN)';
export const BAD_TOKEN_MESSAGE = 'Your token is missing, invalid or expired: run p0 login';

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
    return (await this.call<{ user: { email: string; admin: boolean } }>('GET', '/v1/me')).user;
  }

  async resources(): Promise<ResourceEntry[]> {
    return (await this.call<{ resources: ResourceEntry[] }>('GET', '/v1/resources')).resources;
  }

  async createRequest(body: object): Promise<RequestView> {
    return (await this.call<{ request: RequestView }>('POST', '/v1/requests', body)).request;
  }

  async getRequest(id: string): Promise<RequestView> {
    return (await this.call<{ request: RequestView }>('GET', `/v1/requests/${encodeURIComponent(id)}`)).request;
  }

  async listRequests(filter: ListFilter): Promise<RequestView[]> {
    const query = new URLSearchParams();
    if (filter.mine) query.set('mine', 'true');
    if (filter.pendingApproval) query.set('pendingApproval', 'true');
    if (filter.status) query.set('status', filter.status);
    const suffix = query.size > 0 ? `?${query.toString()}` : '';
    return (await this.call<{ requests: RequestView[] }>('GET', `/v1/requests${suffix}`)).requests;
  }

  /** `subject` (approve, deny): the pending extension's id when deciding an extension. */
  async act(id: string, action: RequestAction, comment?: string, subject?: string): Promise<RequestView> {
    const body = { ...(comment === undefined ? {} : { comment }), ...(subject === undefined ? {} : { subject }) };
    const path = `/v1/requests/${encodeURIComponent(id)}/${action}`;
    return (await this.call<{ request: RequestView }>('POST', path, body, ACTION_TIMEOUT_MS)).request;
  }

  async extend(id: string, duration: string, reason?: string): Promise<RequestView> {
    const body = reason === undefined ? { duration } : { duration, reason };
    try {
      const path = `/v1/requests/${encodeURIComponent(id)}/extend`;
      return (await this.call<{ request: RequestView }>('POST', path, body, ACTION_TIMEOUT_MS)).request;
    } catch (error) {
      // An API from before extension existed names the action it does not know.
      if (error instanceof ApiError && error.status === 404 && /No such (action|route)/i.test(error.message)) {
        throw new CliError(`the p0 API at ${this.apiUrl} cannot extend requests yet (it has no extend action): upgrade the server`);
      }
      throw error;
    }
  }

  /** Runs one reconcile pass now (admins); answers once it is done. */
  async reconcile(options: { dryRun?: boolean; orphans?: 'revoke' | 'report' }): Promise<ReconcileReport> {
    try {
      return (await this.call<{ report: ReconcileReport }>('POST', '/v1/reconcile', options, RECONCILE_TIMEOUT_MS)).report;
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
    return (await this.call<{ events: ReconcileEvent[] }>('GET', `/v1/reconcile/events${suffix}`)).events;
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

    if (response.status === 401) {
      // `p0 login` cannot help while P0_TOKEN overrides the stored token: say so.
      const hint = this.connection.tokenFrom === 'P0_TOKEN' ? ' (or fix P0_TOKEN, which overrides the stored token)' : '';
      throw new ApiError(401, 'unauthenticated', `${BAD_TOKEN_MESSAGE}${hint}`);
    }
    const apiError = (parsed as { error?: { code?: unknown; message?: unknown } } | undefined)?.error;
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
