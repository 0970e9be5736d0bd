/**
 * The one place that decides whether a Google Cloud error is the caller's fault (never retry: a
 * ProviderInputError with Google's own words) or the service's (rethrown unchanged so the activity
 * retries with backoff).
 *
 * Over the REST transport the client library hands back the HTTP client's error (a GaxiosError):
 * `status` is the HTTP status and `message` is the response body, Google's JSON error
 * `{error: {code, message, status}}`. The gRPC transport's GoogleError carries a numeric gRPC `code`
 * instead; both are read here so the classification does not depend on the transport.
 */
import { ProviderInputError } from '../provider';

/** gRPC status names by number, as Google's JSON errors spell them in `error.status`. */
const GRPC_STATUS_NAMES = [
  'OK', 'CANCELLED', 'UNKNOWN', 'INVALID_ARGUMENT', 'DEADLINE_EXCEEDED', 'NOT_FOUND', 'ALREADY_EXISTS',
  'PERMISSION_DENIED', 'RESOURCE_EXHAUSTED', 'FAILED_PRECONDITION', 'ABORTED', 'OUT_OF_RANGE',
  'UNIMPLEMENTED', 'INTERNAL', 'UNAVAILABLE', 'DATA_LOSS', 'UNAUTHENTICATED',
] as const;

/**
 * Statuses retrying cannot fix: a malformed or unknown role or member, a project that does not
 * exist. PERMISSION_DENIED (403) is left out on purpose, as AccessDenied is for AWS: it means p0's own
 * service account lacks a permission, which an operator can fix while the activity keeps retrying (a
 * revoke must not give up because of it). Google also answers 403, not 404, for a project the caller
 * cannot see, so an unknown project on real Google is retried until the verify timeout.
 */
const INPUT_STATUSES = new Set(['INVALID_ARGUMENT', 'NOT_FOUND']);
const INPUT_HTTP_STATUSES = new Set([400, 404]);

export interface GoogleFailure {
  /** The HTTP status, when the error came from an HTTP response. */
  httpStatus?: number;
  /** Google's status name, e.g. `ABORTED`, when the response said (or the gRPC code implies) it. */
  status?: string;
  /** Google's human message, else the error's own. */
  message: string;
}

/** Reads what Google said out of whatever the client library threw. */
export function googleFailureOf(error: unknown): GoogleFailure {
  const fields = (error ?? {}) as { status?: unknown; code?: unknown; message?: unknown; details?: unknown; response?: { status?: unknown } };
  const text = typeof fields.message === 'string' ? fields.message : String(error);
  const httpStatus = typeof fields.status === 'number' ? fields.status : typeof fields.response?.status === 'number' ? fields.response.status : undefined;
  const body = googleErrorBody(text);
  if (body) return { httpStatus: httpStatus ?? body.code, status: body.status, message: body.message ?? text };
  // A GoogleError: a gRPC code (0-16); HTTP statuses are 100 and up, so the two cannot be confused.
  if (httpStatus === undefined && typeof fields.code === 'number' && fields.code < GRPC_STATUS_NAMES.length) {
    const message = typeof fields.details === 'string' && fields.details ? fields.details : text;
    return { status: GRPC_STATUS_NAMES[fields.code], message };
  }
  return { httpStatus, message: text };
}

/** Node's codes for a connection refused or cut before any answer came. */
const CONNECTION_FAILURE_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ECONNABORTED']);

/**
 * The call got no answer at all because its connection failed or was cut (a reset, a refusal, a
 * socket hung up): not Google's word about anything, and not a timeout (which took its 10 s).
 */
export function isConnectionFailure(error: unknown): boolean {
  if (googleFailureOf(error).httpStatus !== undefined) return false;
  const fields = (error ?? {}) as { code?: unknown; message?: unknown; cause?: { code?: unknown } };
  const code = typeof fields.code === 'string' ? fields.code : typeof fields.cause?.code === 'string' ? fields.cause.code : undefined;
  if (code !== undefined && CONNECTION_FAILURE_CODES.has(code)) return true;
  return typeof fields.message === 'string' && /socket hang up|ECONNRESET/.test(fields.message);
}

/** setIamPolicy refused because the policy changed since it was read (stale etag): read again and retry. */
export function isConcurrentChange(error: unknown): boolean {
  const { httpStatus, status } = googleFailureOf(error);
  return status === 'ABORTED' || httpStatus === 409;
}

/**
 * Google itself said NOT_FOUND (in its JSON error, not a bare 404 from something else at the
 * endpoint): the project is gone, so nothing can be granted in it any more.
 */
export function isGoogleNotFound(error: unknown): boolean {
  return googleFailureOf(error).status === 'NOT_FOUND';
}

/**
 * Returns what to throw for `error` raised while doing `action` (e.g. `reading the IAM policy of
 * project p`): a ProviderInputError for bad input, otherwise the error itself, untouched.
 */
export function classifyGoogleError(error: unknown, action: string): unknown {
  if (error instanceof ProviderInputError) return error;
  const failure = googleFailureOf(error);
  const isInput = failure.status !== undefined ? INPUT_STATUSES.has(failure.status) : failure.httpStatus !== undefined && INPUT_HTTP_STATUSES.has(failure.httpStatus);
  if (!isInput) return error;
  const code = failure.status ?? `HTTP ${failure.httpStatus}`;
  return new ProviderInputError(`Google Cloud refused ${action}: ${code}: ${failure.message}`);
}

function googleErrorBody(text: string): { code?: number; status?: string; message?: string } | undefined {
  if (!text.startsWith('{')) return undefined;
  try {
    const parsed = JSON.parse(text) as { error?: { code?: unknown; status?: unknown; message?: unknown } };
    const inner = parsed.error;
    if (!inner || typeof inner !== 'object') return undefined;
    return {
      code: typeof inner.code === 'number' ? inner.code : undefined,
      status: typeof inner.status === 'string' ? inner.status : undefined,
      message: typeof inner.message === 'string' ? inner.message : undefined,
    };
  } catch {
    return undefined;
  }
}
