/**
 * IAM Identity Center's error codes on top of the IAM classification (errors.ts): sso-admin and
 * identitystore say "no such thing" with ResourceNotFound, and quota trouble with ServiceQuotaExceeded,
 * neither of which IAM uses. Validation is already an input error there; Throttling, Conflict (an
 * operation on the same assignment is under way), AccessDenied and every 5xx stay retryable.
 */
import { ProviderInputError } from '../provider';
import { awsErrorCode, classifyAwsError } from './errors';

/** Codes only a person can fix: a permission set, user or account that does not exist; a full quota. */
const IDENTITY_CENTER_INPUT_ERROR_CODES = new Set(['ResourceNotFound', 'ServiceQuotaExceeded']);

export function isResourceNotFound(error: unknown): boolean {
  return awsErrorCode(error) === 'ResourceNotFound';
}

/** Like classifyAwsError, also knowing Identity Center's codes. */
export function classifyIdentityCenterError(error: unknown, action: string): unknown {
  const status = (error as { $metadata?: { httpStatusCode?: unknown } } | null)?.$metadata?.httpStatusCode;
  const serverFault = typeof status === 'number' && status >= 500;
  const code = awsErrorCode(error);
  if (!serverFault && code !== undefined && IDENTITY_CENTER_INPUT_ERROR_CODES.has(code)) {
    const detail = (error as { message?: unknown }).message;
    return new ProviderInputError(`AWS refused ${action}: ${code}${typeof detail === 'string' && detail ? `: ${detail}` : ''}`);
  }
  return classifyAwsError(error, action);
}
