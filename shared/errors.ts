/**
 * The API's error vocabulary: every error answer is `{error: {code, message}}` with one of these
 * stable codes (for scripts and the CLI) and the HTTP status the code stands for. Also the one
 * helper that puts a Temporal failure into words.
 */

export const ERROR_HTTP_STATUS = {
  bad_request: 400,
  unauthenticated: 401,
  /** A personal token past its end: sign in again (`p0 login`). */
  token_expired: 401,
  forbidden: 403,
  /** A call authenticated by the session cookie without the page's CSRF token, or from another origin. */
  csrf: 403,
  not_found: 404,
  conflict: 409,
  payload_too_large: 413,
  uri_too_long: 414,
  rate_limited: 429,
  headers_too_large: 431,
  unavailable: 503,
  internal: 500,
} as const satisfies Record<string, number>;

export type ErrorCode = keyof typeof ERROR_HTTP_STATUS;

/** The quickstart's words for a resource the access policy does not cover (or does not offer this person). */
export const RESOURCE_NOT_FOUND_MESSAGE =
  "This resource doesn't exist: your organization's access policy does not cover it. Contact your p0 administrator.";

/** Every code, for the OpenAPI document's Error schema. */
export const ERROR_CODES = Object.keys(ERROR_HTTP_STATUS) as ErrorCode[];

/** The body of every error answer. */
export interface ErrorAnswer {
  error: { code: ErrorCode; message: string };
}

/**
 * The words of a failure: an activity's (or a signal's) failure arrives wrapped, and its cause
 * carries the provider's own words; anything else is its message.
 */
export function failureMessage(error: unknown): string {
  const cause = (error as { cause?: unknown }).cause;
  if (cause instanceof Error && cause.message) return cause.message;
  return error instanceof Error ? error.message : String(error);
}
