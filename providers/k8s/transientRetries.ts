/**
 * Retries one Kubernetes API call when the failure is the cluster's passing trouble (429 with its
 * Retry-After, 5xx, a reset or refused connection, a call that never answers), the way the AWS SDK
 * and Google's client library retry theirs. Without it one flaky call fails a whole activity
 * attempt (inspect + grant + check are several calls), and under a steady error rate the attempts
 * back off until the verify deadline runs out. Every call the provider makes is safe to repeat: a
 * create that was applied before its reply was lost answers AlreadyExists, a delete NotFound, and
 * the provider treats both as done.
 */
import { kubernetesFailureOf } from './errors';

export interface TransientRetrySettings {
  attempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
  /** A call still unanswered after this long is abandoned and tried again. */
  callTimeoutMs: number;
}

export const DEFAULT_TRANSIENT_RETRY: TransientRetrySettings = { attempts: 4, baseDelayMs: 200, maxDelayMs: 2_000, callTimeoutMs: 15_000 };

const TRANSIENT_HTTP_STATUSES = new Set([429, 500, 502, 503, 504]);
const TRANSIENT_CONNECTION_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'ETIMEDOUT', 'EPIPE', 'ECONNABORTED', 'EAI_AGAIN', 'UND_ERR_SOCKET']);

class CallTimeout extends Error {
  override readonly name = 'CallTimeout';
  readonly code = 'ETIMEDOUT';
}

/** The same API client, each method call retried on transient failures. */
export function withTransientRetries<T extends object>(api: T, settings: TransientRetrySettings = DEFAULT_TRANSIENT_RETRY): T {
  return new Proxy(api, {
    get(target, property, receiver) {
      const value: unknown = Reflect.get(target, property, receiver);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => retrying(() => (value as (...a: unknown[]) => Promise<unknown>).apply(target, args), settings);
    },
  });
}

async function retrying<T>(call: () => Promise<T>, settings: TransientRetrySettings): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await withTimeout(call(), settings.callTimeoutMs);
    } catch (error) {
      const delay = retryDelayMs(error, attempt, settings);
      if (delay === undefined || attempt >= settings.attempts) throw error;
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
}

/** How long to wait before the next attempt, or undefined when the error is not transient. */
export function retryDelayMs(error: unknown, attempt: number, settings: TransientRetrySettings): number | undefined {
  const backoff = Math.min(settings.maxDelayMs, settings.baseDelayMs * 2 ** (attempt - 1));
  const failure = kubernetesFailureOf(error);
  if (failure.httpStatus !== undefined) {
    if (!TRANSIENT_HTTP_STATUSES.has(failure.httpStatus)) return undefined;
    const retryAfterSeconds = Number(headerOf(error, 'retry-after'));
    return Number.isFinite(retryAfterSeconds) && retryAfterSeconds > 0 ? Math.min(settings.maxDelayMs, retryAfterSeconds * 1000) : backoff;
  }
  const code = (error as { code?: unknown; cause?: { code?: unknown } } | undefined)?.code ?? (error as { cause?: { code?: unknown } } | undefined)?.cause?.code;
  return typeof code === 'string' && TRANSIENT_CONNECTION_CODES.has(code) ? backoff : undefined;
}

function headerOf(error: unknown, name: string): string | undefined {
  const headers = (error as { headers?: Record<string, string | string[] | undefined> } | undefined)?.headers;
  const value = headers?.[name] ?? headers?.[name.toLowerCase()];
  return Array.isArray(value) ? value[0] : value;
}

async function withTimeout<T>(promise: Promise<T>, timeoutMs: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new CallTimeout(`the Kubernetes API did not answer within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
