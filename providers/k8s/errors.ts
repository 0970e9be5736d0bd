/**
 * The one place that decides whether a Kubernetes API error is the caller's fault (never retry: a
 * ProviderInputError with the API server's own words) or the cluster's (rethrown unchanged so the
 * activity retries with backoff).
 *
 * The client library throws an ApiException whose `code` is the HTTP status and whose `body` is the
 * response text, normally a `Status` object (`{kind: 'Status', reason, message, details, code}`).
 * Connection failures (refused, reset, timed out) come from its HTTP client as other errors, with no
 * status: those are always retried.
 */
import { ProviderInputError } from '../provider';

/**
 * HTTP statuses retrying cannot fix: a malformed object (400), something that does not exist (404),
 * an object the API server refuses as invalid (422). 401 and 403 are left out on purpose, as
 * AccessDenied is for AWS: they mean p0's own credentials or RBAC are wrong, which an operator can fix
 * while the activity keeps retrying (a revoke must not give up because of it). 409, 429 and 5xx are
 * the cluster's business and retried too.
 */
const INPUT_HTTP_STATUSES = new Set([400, 404, 422]);

export interface KubernetesFailure {
  /** The HTTP status, when the error came from an API response. */
  httpStatus?: number;
  /** The Status object's reason, e.g. `NotFound`, `AlreadyExists`, `Invalid`, `Forbidden`. */
  reason?: string;
  /** The API server's human message, else the error's own. */
  message: string;
  /** The Status object's `details.kind`: the plural resource it concerns (`namespaces`, `roles`). */
  detailsKind?: string;
}

/** Reads what the API server said out of whatever the client library threw. */
export function kubernetesFailureOf(error: unknown): KubernetesFailure {
  const fields = (error ?? {}) as { code?: unknown; body?: unknown; message?: unknown };
  const ownMessage = typeof fields.message === 'string' ? fields.message : String(error);
  // ApiException's code is numeric; a connection error's `code` is a string such as ECONNRESET.
  const httpStatus = typeof fields.code === 'number' ? fields.code : undefined;
  if (httpStatus === undefined) return { message: ownMessage };
  const status = statusBody(fields.body);
  return {
    httpStatus,
    reason: status?.reason,
    message: status?.message ?? (typeof fields.body === 'string' && fields.body ? fields.body : `HTTP ${httpStatus}`),
    detailsKind: status?.detailsKind,
  };
}

export function isNotFound(error: unknown): boolean {
  return kubernetesFailureOf(error).httpStatus === 404;
}

export function isAlreadyExists(error: unknown): boolean {
  const failure = kubernetesFailureOf(error);
  return failure.httpStatus === 409 && failure.reason === 'AlreadyExists';
}

/** The API server refused because of our own credentials or RBAC (an operator must act). */
export function isForbidden(error: unknown): boolean {
  return kubernetesFailureOf(error).httpStatus === 403;
}

/**
 * Returns what to throw for `error` raised while doing `action` (e.g. `creating RoleBinding x in
 * namespace y`): a ProviderInputError for bad input, otherwise the error itself, untouched.
 */
export function classifyKubernetesError(error: unknown, action: string): unknown {
  if (error instanceof ProviderInputError) return error;
  const failure = kubernetesFailureOf(error);
  if (failure.httpStatus === undefined || !INPUT_HTTP_STATUSES.has(failure.httpStatus)) return error;
  const code = failure.reason ?? `HTTP ${failure.httpStatus}`;
  return new ProviderInputError(`Kubernetes refused ${action}: ${code}: ${failure.message}`);
}

function statusBody(body: unknown): { reason?: string; message?: string; detailsKind?: string } | undefined {
  let parsed: unknown = body;
  if (typeof body === 'string') {
    if (!body.startsWith('{')) return undefined;
    try {
      parsed = JSON.parse(body);
    } catch {
      return undefined;
    }
  }
  if (!parsed || typeof parsed !== 'object') return undefined;
  const status = parsed as { reason?: unknown; message?: unknown; details?: { kind?: unknown } };
  return {
    reason: typeof status.reason === 'string' && status.reason ? status.reason : undefined,
    message: typeof status.message === 'string' && status.message ? status.message : undefined,
    detailsKind: typeof status.details?.kind === 'string' ? status.details.kind : undefined,
  };
}
