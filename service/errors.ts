/**
 * Errors the product shows to people. Each has a stable `code` (for scripts and the CLI; listed in
 * shared/errors.ts) and a human message; the API maps `status` to the HTTP response and never sends
 * a stack trace.
 */
import { ERROR_HTTP_STATUS, type ErrorCode } from '../shared/errors';

export class AppError extends Error {
  override readonly name = 'AppError';
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
  }

  get status(): number {
    return ERROR_HTTP_STATUS[this.code];
  }
}

/** The quickstart's words for a resource the access policy does not cover. */
export { RESOURCE_NOT_FOUND_MESSAGE } from '../shared/errors';
