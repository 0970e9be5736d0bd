/**
 * The benchmark's side of the product's HTTP API: every call's status is checked (a 429 or any
 * other refusal fails the bench at once, naming the call), and one watcher per product asks the API
 * which requests are in which status, so N waiting requests cost one GET per poll, not N.
 */
import type { RequestStatus, RequestView } from '../shared/request';

/** An HTTP call that did not get the answer it needed: fatal to the whole bench run. */
export class BenchHttpError extends Error {
  override readonly name = 'BenchHttpError';
}

export class BenchApi {
  constructor(
    readonly url: string,
    /** What the API process was started with, to name it when a 429 comes back. */
    private readonly rateLimitPerMinute: number,
  ) {}

  /** One call with `token`; anything but `expected` throws BenchHttpError. */
  async call<T>(token: string, method: 'GET' | 'POST', route: string, expected: number, body?: unknown): Promise<T> {
    let response: Response;
    try {
      response = await fetch(`${this.url}${route}`, {
        method,
        headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (error) {
      throw new BenchHttpError(`${method} ${route} failed: ${error instanceof Error ? error.message : String(error)} (is the product's API process still up?)`, { cause: error });
    }
    const text = await response.text();
    if (response.status !== expected) {
      const hint =
        response.status === 429
          ? ` — the API's per-token rate limit (API_RATE_LIMIT_PER_MINUTE=${this.rateLimitPerMinute} in the bench's API process) was hit; raise BENCH_API_RATE_LIMIT or spread the calls over more tokens`
          : '';
      throw new BenchHttpError(`${method} ${route} answered ${response.status}, expected ${expected}: ${text.slice(0, 300)}${hint}`);
    }
    return (text ? JSON.parse(text) : {}) as T;
  }

  async create(token: string, body: Record<string, unknown>): Promise<RequestView> {
    return (await this.call<{ request: RequestView }>(token, 'POST', '/v1/requests', 201, body)).request;
  }

  async act(token: string, id: string, action: 'approve' | 'relinquish'): Promise<RequestView> {
    return (await this.call<{ request: RequestView }>(token, 'POST', `/v1/requests/${id}/${action}`, 200, {})).request;
  }

  async list(token: string, status: RequestStatus): Promise<RequestView[]> {
    return (await this.call<{ requests: RequestView[] }>(token, 'GET', `/v1/requests?status=${status}`, 200)).requests;
  }
}

const FAILED_EVERY_MS = 1000;

interface Waiter {
  id: string;
  statuses: RequestStatus[];
  resolve: (view: RequestView) => void;
  reject: (error: Error) => void;
  deadline: number;
}

/**
 * Polls GET /v1/requests?status=<s> (as an admin, who sees every request) for each status someone
 * waits on every `pollMs`, and `failed` once a second. A waiter is answered when the API first shows its request
 * in that status: what a client of the API would see, not the workflow's internal timestamps.
 */
export class StatusWatcher {
  private readonly waiters = new Set<Waiter>();
  private timer?: NodeJS.Timeout;
  private polling = false;
  private stopped = false;
  private failedAskedAt = 0;
  /** The first error a poll got (a refused call): every waiter then and later fails with it. */
  private failure?: Error;

  constructor(
    private readonly api: BenchApi,
    private readonly adminToken: string,
    private readonly pollMs: number,
    private readonly timeoutMs: number,
  ) {}

  /**
   * Resolves with the view and the moment (Date.now()) the API first showed the request in one of
   * `statuses`; rejects if it shows `failed` instead (unless that is awaited) or the wait times out.
   */
  waitFor(id: string, statuses: RequestStatus[], timeoutMs = this.timeoutMs): Promise<RequestView & { seenAt: number }> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.waiters.add({ id, statuses, resolve: (view) => resolve({ ...view, seenAt: Date.now() }), reject, deadline: Date.now() + timeoutMs });
      this.schedule();
    });
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    for (const waiter of this.waiters) waiter.reject(new Error(`stopped while waiting for ${waiter.id} to be ${waiter.statuses.join('|')}`));
    this.waiters.clear();
  }

  private schedule(): void {
    if (this.timer || this.polling || this.stopped || this.waiters.size === 0) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.poll();
    }, this.pollMs);
  }

  private async poll(): Promise<void> {
    this.polling = true;
    try {
      const statuses = new Set<RequestStatus>([...this.waiters].flatMap((waiter) => waiter.statuses));
      // A failure only has to end a wait, not be timed: asked about once a second.
      if (Date.now() - this.failedAskedAt >= FAILED_EVERY_MS) {
        statuses.add('failed');
        this.failedAskedAt = Date.now();
      }
      const seen = new Map<string, RequestView>();
      // One GET per status, sent together: the watcher is one client, not a crowd.
      const lists = await Promise.all([...statuses].map((status) => this.api.list(this.adminToken, status)));
      for (const view of lists.flat()) seen.set(view.id, view);
      const now = Date.now();
      for (const waiter of [...this.waiters]) {
        const view = seen.get(waiter.id);
        const awaited = waiter.statuses.join('|');
        if (view && waiter.statuses.includes(view.status)) {
          this.waiters.delete(waiter);
          waiter.resolve(view);
        } else if (view?.status === 'failed') {
          this.waiters.delete(waiter);
          waiter.reject(new Error(`${waiter.id} failed while waiting for ${awaited}: ${JSON.stringify(view.error ?? {})}`));
        } else if (now > waiter.deadline) {
          this.waiters.delete(waiter);
          waiter.reject(new Error(`${waiter.id} did not reach ${awaited} in time (BENCH_WAIT_TIMEOUT_S)`));
        }
      }
    } catch (error) {
      this.failure = error instanceof Error ? error : new Error(String(error));
      for (const waiter of this.waiters) waiter.reject(this.failure);
      this.waiters.clear();
    } finally {
      this.polling = false;
      this.schedule();
    }
  }
}
