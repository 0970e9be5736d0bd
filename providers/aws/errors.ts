/**
 * The one place that decides whether an AWS error is the caller's fault (never retry: turn it into a
 * ProviderInputError with a readable message) or the service's (rethrow unchanged so the activity
 * retries with backoff).
 */
import { ProviderInputError } from '../provider';

/**
 * IAM error codes that retrying cannot fix. LimitExceeded is here because IAM uses it for quotas
 * (10 managed policies per user, 2,048 bytes of inline policy, 10 groups per user): a person has to
 * act. Rate limiting is a different code (Throttling) and stays retryable. AccessDenied is left out on
 * purpose: it means p0's own credentials lack a permission, which an operator can fix while the
 * activity keeps retrying (a revoke must not give up because of it).
 */
const INPUT_ERROR_CODES = new Set([
  'NoSuchEntity',
  'ValidationError',
  'Validation',
  'InvalidInput',
  'MalformedPolicyDocument',
  'LimitExceeded',
  'UnmodifiableEntity',
  'PolicyNotAttachable',
]);

/** The IAM error code: the SDK names modeled errors `<Code>Exception`, unmodeled ones just `<Code>`. */
export function awsErrorCode(error: unknown): string | undefined {
  const name = (error as { name?: unknown } | null)?.name;
  return typeof name === 'string' ? name.replace(/Exception$/, '') : undefined;
}

export function isNoSuchEntity(error: unknown): boolean {
  return awsErrorCode(error) === 'NoSuchEntity';
}

/**
 * Returns what to throw for `error` raised while doing `action` (e.g. `attaching policy X to user Y`):
 * a ProviderInputError for bad input, otherwise the error itself, untouched.
 */
export function classifyAwsError(error: unknown, action: string): unknown {
  if (error instanceof ProviderInputError) return error;
  // A 5xx is the service's trouble whatever it is called.
  const status = (error as { $metadata?: { httpStatusCode?: unknown } } | null)?.$metadata?.httpStatusCode;
  if (typeof status === 'number' && status >= 500) return error;
  const code = awsErrorCode(error);
  if (code !== undefined && INPUT_ERROR_CODES.has(code)) {
    const detail = (error as { message?: unknown }).message;
    return new ProviderInputError(`AWS refused ${action}: ${code}${typeof detail === 'string' && detail ? `: ${detail}` : ''}`);
  }
  return error;
}

/**
 * The AWS SDK waits forever for a connection or an answer by default; a call stuck on a dead
 * connection would then hold an activity until its heartbeat timeout. These bounds make it fail
 * (and the SDK retry it) instead. The SDK's request handler only warns when `requestTimeout` passes
 * unless `throwOnRequestTimeout` is set (test/aws.callBounds.test.ts: without it a stalled answer
 * held the call for as long as the stall lasted).
 */
export const AWS_REQUEST_HANDLER = { connectionTimeout: 5_000, requestTimeout: 15_000, throwOnRequestTimeout: true } as const;
