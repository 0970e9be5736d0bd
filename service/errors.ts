/**
 * Errors the product shows to people. Each has a stable `code` (for scripts and the CLI) and a
 * human message; the API maps `status` to the HTTP response and never sends a stack trace.
 */
const HTTP_STATUS = {
  bad_request: 400,
  unauthenticated: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  payload_too_large: 413,
  uri_too_long: 414,
  rate_limited: 429,
  headers_too_large: 431,
  unavailable: 503,
  internal: 500,
} as const satisfies Record<string, number>;

export type ErrorCode = keyof typeof HTTP_STATUS;

/** Every code, for the OpenAPI document's Error schema. */
export const ERROR_CODES = Object.keys(HTTP_STATUS) as ErrorCode[];

export class AppError extends Error {
  override readonly name = 'AppError';
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
  }

  get status(): number {
    return HTTP_STATUS[this.code];
  }
}

/** The quickstart's words for a resource the access policy does not cover. */
export const RESOURCE_NOT_FOUND_MESSAGE =
  "This resource doesn't exist: your organization's access policy does not cover it. Contact your p0 administrator.";
