/**
 * API error answers as scripts and the CLI see them: `{error: {code, message}}`, the code one of
 * shared/errors.ts's and the HTTP status the one that code stands for. A test that checks only the
 * status would pass an answer whose body another client cannot act on.
 */
import assert from 'node:assert/strict';
import { ERROR_HTTP_STATUS, type ErrorCode } from '../../shared/errors';

/**
 * Asserts an error answer with `code` (its status follows from it) and, when given, a message
 * matching `message`. `code` may be `'any'`: then the body's code must be one whose status is the
 * answer's.
 */
export function assertApiError(answer: { status: number; body: unknown }, code: ErrorCode | 'any', message?: RegExp): void {
  const shown = `${answer.status} ${JSON.stringify(answer.body)}`;
  const error = (answer.body as { error?: { code?: unknown; message?: unknown } } | undefined)?.error;
  assert.ok(error && typeof error.code === 'string' && typeof error.message === 'string', `no {error: {code, message}} in ${shown}`);
  if (code === 'any') {
    assert.ok(Object.hasOwn(ERROR_HTTP_STATUS, error.code), `unknown code in ${shown}`);
    assert.equal(answer.status, ERROR_HTTP_STATUS[error.code as ErrorCode], shown);
  } else {
    assert.equal(error.code, code, shown);
    assert.equal(answer.status, ERROR_HTTP_STATUS[code], shown);
  }
  if (message) assert.match(error.message, message);
}
