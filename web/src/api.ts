/**
 * The page's only way to the server: the /v1 API with the session cookie (and /auth/session for the
 * CSRF token every call that changes something sends). Errors arrive as the API's `{error: {code,
 * message}}` and are thrown as ApiError; a session that ended sends the browser to sign in again.
 */
import type { ErrorAnswer, ErrorCode } from '../../shared/errors';
import type { SessionAnswer } from '../../shared/api';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: ErrorCode | 'network',
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

let csrfToken: string | undefined;

/** Who is signed in, and the CSRF token for their calls (kept for `call`). */
export async function loadSession(): Promise<SessionAnswer> {
  const session = await request<SessionAnswer>('GET', '/auth/session');
  csrfToken = session.csrfToken;
  return session;
}

/** The current CSRF token (the sign-out form posts it). */
export function currentCsrfToken(): string | undefined {
  return csrfToken;
}

export function get<T>(path: string): Promise<T> {
  return request<T>('GET', path);
}

export function post<T>(path: string, body: unknown = {}): Promise<T> {
  return request<T>('POST', path, body);
}

/** Sends the browser to sign in, coming back to where it is now. */
export function signInAgain(): void {
  window.location.assign(`/auth/login?returnTo=${encodeURIComponent(window.location.pathname + window.location.search)}`);
}

async function request<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET' && csrfToken) headers['x-csrf-token'] = csrfToken;
  let response: Response;
  try {
    response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: 'same-origin' });
  } catch {
    throw new ApiError(0, 'network', 'The p0 server cannot be reached. Check your connection; the page retries on its own.');
  }
  const text = await response.text();
  const parsed = text ? safeJson(text) : undefined;
  if (response.ok) return parsed as T;
  const error = (parsed as Partial<ErrorAnswer> | undefined)?.error;
  if (response.status === 401) signInAgain();
  throw new ApiError(response.status, error?.code ?? 'internal', error?.message ?? `The server answered ${response.status}`);
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
