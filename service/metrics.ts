/**
 * The product's Prometheus metrics, declared once, on prom-client's default registry. The API serves
 * them at GET /metrics; a worker running on its own (`npm run worker`) serves them on METRICS_PORT.
 * Histograms and counters live in the process that observes them (the worker's activities); the
 * `p0_requests` gauge is read from the request store when scraped, by the API only, so the same
 * requests are never counted twice across processes.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { collectDefaultMetrics, Counter, Gauge, Histogram, register } from 'prom-client';
import { REQUEST_STATUSES, type RequestStatus, type RequestView } from '../shared/request';
import type { AuditEvent } from '../shared/events';

export { register as metricsRegistry };

// Process metrics (CPU, memory, event loop lag, GC), named p0_process_..., p0_nodejs_...
collectDefaultMetrics({ prefix: 'p0_' });

/** Where the `p0_requests` gauge reads its figures (the request store). */
export interface RequestCounter {
  countByStatus(): Promise<Partial<Record<RequestStatus, number>>>;
}

/** Registered by the API (last one wins: a process runs one API, tests start several one after the other). */
const requestCounters: RequestCounter[] = [];

const requests = new Gauge({
  name: 'p0_requests',
  help: 'Access requests by status, read from the request store at scrape time (served by the API)',
  labelNames: ['status'] as const,
  async collect() {
    this.reset();
    const counter = requestCounters.at(-1);
    if (!counter) return;
    let counts: Partial<Record<RequestStatus, number>>;
    try {
      counts = await counter.countByStatus();
    } catch {
      // A database outage shows on /readyz; the scrape itself still answers, without this gauge.
      return;
    }
    for (const status of REQUEST_STATUSES) this.set({ status }, counts[status] ?? 0);
  },
});

const approvalToActive = new Histogram({
  name: 'p0_approval_to_active_seconds',
  help: 'From the approving decision (or the scheduled start, if later) to the grant verified usable',
  buckets: [0.5, 1, 2, 5, 10, 15, 20, 30, 45, 60, 90, 120, 300, 600],
});

const revokeLateness = new Histogram({
  name: 'p0_revoke_lateness_seconds',
  help: 'How long after expiresAt the removal of expired access was confirmed at the provider',
  buckets: [0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600],
});

const providerErrors = new Counter({
  name: 'p0_provider_errors_total',
  help: 'Errors thrown by provider calls, by provider, operation (the activity) and kind (error name or code)',
  labelNames: ['provider', 'operation', 'kind'] as const,
});

const orphansFound = new Counter({
  name: 'p0_orphans_found_total',
  help: 'Grants found at a provider that no live request accounts for, by provider and what the reconciler did',
  labelNames: ['provider', 'action'] as const,
});

const principalAlerts = new Counter({
  name: 'p0_principal_alerts_total',
  help: 'Removals that could not be confirmed because the principal recorded at grant time vanished or the look-up became ambiguous, by provider and operation',
  labelNames: ['provider', 'operation'] as const,
});

/** The metric objects, for code that observes something this module has no helper for. */
export const metrics = { requests, approvalToActive, revokeLateness, providerErrors, orphansFound, principalAlerts } as const;

/** The API calls this with its request store; the returned function stops the gauge reading it. */
export function countRequestsFrom(counter: RequestCounter): () => void {
  requestCounters.push(counter);
  return () => {
    const index = requestCounters.lastIndexOf(counter);
    if (index >= 0) requestCounters.splice(index, 1);
  };
}

/**
 * Observes what a recorded audit event tells about latency: `active` (approval to usable access)
 * and `expired` (how late removal was confirmed). Called by the recordEvent activity once the event
 * is stored.
 */
export function observeRequestEvent(event: Pick<AuditEvent, 'type'>, view: RequestView): void {
  if (event.type === 'active') {
    const activeAtMs = parseTime(view.activeAt);
    const startedAtMs = approvalClockStart(view);
    if (activeAtMs !== undefined && startedAtMs !== undefined) approvalToActive.observe(Math.max(0, activeAtMs - startedAtMs) / 1000);
  } else if (event.type === 'expired') {
    const endedAtMs = parseTime(view.endedAt);
    const expiresAtMs = parseTime(view.expiresAt);
    if (endedAtMs !== undefined && expiresAtMs !== undefined) revokeLateness.observe(Math.max(0, endedAtMs - expiresAtMs) / 1000);
  }
}

/**
 * When the product could start granting: the approval that completed the quorum (the latest one),
 * or for break-glass access (no approvals) the request itself; a scheduled start later than that
 * moves the clock to it, so waiting for the schedule is not counted as delay.
 */
function approvalClockStart(view: RequestView): number | undefined {
  const approvedAtMs = view.approvals.length > 0 ? Math.max(...view.approvals.map((approval) => Date.parse(approval.at))) : view.breakGlass ? Date.parse(view.createdAt) : NaN;
  if (!Number.isFinite(approvedAtMs)) return undefined;
  const startAtMs = parseTime(view.startAt);
  return startAtMs !== undefined && startAtMs > approvedAtMs ? startAtMs : approvedAtMs;
}

function parseTime(iso: string | undefined): number | undefined {
  if (iso === undefined) return undefined;
  const ms = Date.parse(iso);
  return Number.isFinite(ms) ? ms : undefined;
}

/** The provider operations counted in `p0_provider_errors_total` (the activities that call providers, and the reconciler). */
export type ProviderOperation = 'provision' | 'verifyPropagation' | 'revoke' | 'verifyRevocation' | (string & {});

/** Counts one failed provider call. The error itself is left alone: the caller rethrows it. */
export function countProviderError(provider: string, operation: ProviderOperation, error: unknown): void {
  providerErrors.inc({ provider, operation, kind: errorKind(error) });
}

/** Counts a removal left unconfirmed because its principal vanished or became ambiguous (an alert: someone must look). */
export function countPrincipalAlert(provider: string, operation: ProviderOperation): void {
  principalAlerts.inc({ provider, operation });
}

/** Counts grants the reconciler found with no live request behind them; `action` says what it did (e.g. `removed`, `reported`). */
export function countOrphanFound(provider: string, action: string, count = 1): void {
  orphansFound.inc({ provider, action }, count);
}

/**
 * A short, low-cardinality name for what went wrong: a system error's code (ECONNRESET), an AWS
 * error's name without "Exception" (Throttling), a Google status (UNAVAILABLE), a Kubernetes
 * HTTP status (http_503), else the error's class name.
 */
export function errorKind(error: unknown): string {
  const fields = (error ?? {}) as { code?: unknown; name?: unknown; status?: unknown; statusCode?: unknown };
  const candidates: unknown[] = [
    typeof fields.code === 'string' ? fields.code : undefined,
    typeof fields.name === 'string' && fields.name !== 'Error' ? fields.name.replace(/(?<=.)Exception$/, '') : undefined,
    typeof fields.status === 'string' ? fields.status : undefined,
    typeof fields.code === 'number' ? `code_${fields.code}` : undefined,
    typeof fields.statusCode === 'number' ? `http_${fields.statusCode}` : typeof fields.status === 'number' ? `http_${fields.status}` : undefined,
  ];
  for (const candidate of candidates) {
    if (typeof candidate !== 'string') continue;
    const cleaned = candidate.replace(/[^A-Za-z0-9_.-]/g, '_').slice(0, 64);
    if (cleaned) return cleaned;
  }
  return error instanceof Error ? 'Error' : typeof error;
}

/** The registry's text exposition, and the content type to send it with. */
export async function metricsText(): Promise<{ contentType: string; body: string }> {
  return { contentType: register.contentType, body: await register.metrics() };
}

export interface MetricsServer {
  url: string;
  close(): Promise<void>;
}

/**
 * A worker process's own /metrics (the API serves the same registry on its port). METRICS_PORT
 * (default 9464; `0` or `off` switches it off) and METRICS_HOST (default loopback).
 */
export function metricsServerSettingsFromEnv(env: NodeJS.ProcessEnv = process.env): { port: number; host: string } | undefined {
  const raw = (env.METRICS_PORT ?? '9464').trim().toLowerCase();
  if (raw === '0' || raw === 'off' || raw === '') return undefined;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 1 || port > 65_535) throw new Error(`METRICS_PORT must be a port number, 0 or off (got "${env.METRICS_PORT}")`);
  return { port, host: env.METRICS_HOST?.trim() || '127.0.0.1' };
}

export async function startMetricsServer(options: { port: number; host: string; logger?: Logger }): Promise<MetricsServer> {
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    if (path === '/healthz') {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
      return;
    }
    if (path !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('Not found: metrics are at /metrics\n');
      return;
    }
    metricsText().then(
      ({ contentType, body }) => res.writeHead(200, { 'content-type': contentType }).end(req.method === 'HEAD' ? undefined : body),
      (error: unknown) => {
        options.logger?.error({ err: error }, 'metrics scrape failed');
        res.writeHead(500, { 'content-type': 'text/plain' }).end('metrics unavailable\n');
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const { address, port } = server.address() as AddressInfo;
  return {
    url: `http://${address.includes(':') ? `[${address}]` : address}:${port}/metrics`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      }),
  };
}
