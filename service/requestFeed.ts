/**
 * The live feed of request changes behind `GET /v1/events`: each subscriber hears of every change
 * to a request it may see, with the request as it stands now.
 *
 * It polls the store's audit trail (one query a tick per API process, however many subscribers)
 * rather than listening to an in-process bus: the worker records every change in the database, and
 * any number of API processes can each follow it there. A subscriber may resume after the last
 * change it heard (`Last-Event-ID`); one that missed too much is told to start over (`reset`).
 */
import type { Logger } from 'pino';
import type { AuditEventType } from '../shared/events';
import type { RequestView } from '../shared/request';
import type { Caller } from './policy';

/** What the feed reads: the store's change log and its projection. */
export interface ChangeLog {
  changesSince(afterId: number, limit: number): Promise<Array<{ id: number; requestId: string; type: AuditEventType }>>;
  lastChangeId(): Promise<number>;
  get(id: string): Promise<RequestView | undefined>;
}

/** Who may see which request, and how (the request service's own rule). */
export interface Visibility {
  visibleTo(caller: Caller, view: RequestView): RequestView | undefined;
}

/** One change as a subscriber hears it. */
export interface RequestChange {
  /** The change's position in the log: resume after it with `Last-Event-ID`. */
  id: number;
  /** The audit event that made it (`approved`, `active`, ...). */
  type: AuditEventType;
  request: RequestView;
}

export interface Subscriber {
  caller: Caller;
  onChange(change: RequestChange): void;
  /** Too much was missed to replay it: refetch everything. */
  onReset(): void;
  /** The feed is closing (the API shuts down): end the stream. */
  onEnd(): void;
}

export interface RequestFeedOptions {
  changes: ChangeLog;
  visibility: Visibility;
  logger: Logger;
  /** How often the log is read while anyone listens (default 1 s). */
  pollIntervalMs?: number;
}

/** Changes read per query; a resume that would need more is answered with a reset. */
const BATCH = 500;
/**
 * How long a hole in the row ids is waited for before it is given up: on PostgreSQL a lower id can
 * commit after a higher one, and ids used by refused duplicate rows never fill at all.
 */
const GAP_WAIT_MS = 10_000;

export class RequestFeed {
  private readonly changes: ChangeLog;
  private readonly visibility: Visibility;
  private readonly logger: Logger;
  private readonly pollIntervalMs: number;
  private readonly subscribers = new Set<Subscriber>();
  /** Subscribers waiting to be replayed what followed their last-seen change, before the next poll. */
  private readonly resuming = new Map<Subscriber, number>();
  /** Every change up to this id has been handled (or given up as a hole). */
  private cursor: number | undefined;
  /** Changes past the cursor already handled (and when), waiting for the holes below them to fill. */
  private readonly handledPastCursor = new Map<number, number>();
  private timer: NodeJS.Timeout | undefined;
  private polling: Promise<void> | undefined;
  private closed = false;

  constructor(options: RequestFeedOptions) {
    this.changes = options.changes;
    this.visibility = options.visibility;
    this.logger = options.logger;
    this.pollIntervalMs = options.pollIntervalMs ?? 1000;
  }

  /**
   * Hears every later change `subscriber.caller` may see. With `lastEventId`, first the changes after
   * that one. Returns the unsubscribe function.
   */
  subscribe(subscriber: Subscriber, lastEventId?: number): () => void {
    if (this.closed) throw new Error('The request feed is closed');
    this.subscribers.add(subscriber);
    if (lastEventId !== undefined) this.resuming.set(subscriber, lastEventId);
    this.timer ??= setTimeout(() => this.tick(), 0);
    return () => {
      this.subscribers.delete(subscriber);
      this.resuming.delete(subscriber);
    };
  }

  /** Subscribers now (for the per-person cap). */
  countFor(email: string): number {
    return [...this.subscribers].filter((subscriber) => subscriber.caller.email === email).length;
  }

  /** Ends every subscription and stops polling; waits for a poll under way. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    for (const subscriber of [...this.subscribers]) subscriber.onEnd();
    this.subscribers.clear();
    this.resuming.clear();
    await this.polling;
  }

  private tick(): void {
    this.polling = this.poll()
      .catch((error: unknown) => this.logger.warn({ err: error }, 'request feed: reading the change log failed; trying again'))
      .finally(() => {
        this.polling = undefined;
        if (this.closed) return;
        if (this.subscribers.size === 0) {
          // Nobody listens: stop, and start from the log's end when someone does again.
          this.timer = undefined;
          this.cursor = undefined;
          this.handledPastCursor.clear();
          return;
        }
        this.timer = setTimeout(() => this.tick(), this.pollIntervalMs);
      });
  }

  private async poll(): Promise<void> {
    this.cursor ??= await this.changes.lastChangeId();
    for (const [subscriber, lastEventId] of [...this.resuming]) {
      this.resuming.delete(subscriber);
      await this.replay(subscriber, lastEventId);
    }
    // Late arrivals in the holes below the highest change handled, then what came after it.
    const highest = Math.max(this.cursor, ...this.handledPastCursor.keys());
    const late = highest > this.cursor ? (await this.changes.changesSince(this.cursor, BATCH)).filter((change) => change.id < highest && !this.handledPastCursor.has(change.id)) : [];
    const fresh = [...late, ...(await this.changes.changesSince(highest, BATCH))];
    await this.deliver(fresh, [...this.subscribers]);
    const now = Date.now();
    for (const change of fresh) this.handledPastCursor.set(change.id, now);
    this.advanceCursor(now);
  }

  /** What a resuming subscriber missed: handled changes after its last one (later ones come with the next poll). */
  private async replay(subscriber: Subscriber, lastEventId: number): Promise<void> {
    const cursor = this.cursor ?? 0;
    if (lastEventId >= cursor && this.handledPastCursor.size === 0) return;
    const missed = await this.changes.changesSince(lastEventId, BATCH);
    if (missed.length === BATCH) {
      subscriber.onReset();
      return;
    }
    await this.deliver(
      missed.filter((change) => change.id <= cursor || this.handledPastCursor.has(change.id)),
      [subscriber],
    );
  }

  private async deliver(changes: Array<{ id: number; requestId: string; type: AuditEventType }>, to: Subscriber[]): Promise<void> {
    if (changes.length === 0 || to.length === 0) return;
    const views = new Map<string, RequestView | undefined>();
    for (const requestId of new Set(changes.map((change) => change.requestId))) views.set(requestId, await this.changes.get(requestId));
    for (const change of changes) {
      const view = views.get(change.requestId);
      if (!view) continue;
      for (const subscriber of to) {
        if (!this.subscribers.has(subscriber)) continue;
        const shown = this.visibility.visibleTo(subscriber.caller, view);
        if (shown) subscriber.onChange({ id: change.id, type: change.type, request: shown });
      }
    }
  }

  /**
   * Moves the cursor over every handled change just past it, and over a hole once it has been seen
   * for GAP_WAIT_MS: a hole just past the cursor has been there since the first change above it was
   * handled.
   */
  private advanceCursor(now: number): void {
    for (const id of [...this.handledPastCursor.keys()].sort((a, b) => a - b)) {
      if (id !== this.cursor! + 1) {
        const holeSeenAt = Math.min(...this.handledPastCursor.values());
        if (now - holeSeenAt < GAP_WAIT_MS) return;
      }
      this.cursor = id;
      this.handledPastCursor.delete(id);
    }
  }
}
