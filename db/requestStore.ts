/**
 * The request projection and the audit trail. The workflow is the source of truth; this store keeps
 * what listing and auditing need, written by the `recordEvent` activity (retried at will, and not
 * necessarily completing in order).
 */
import type { Knex } from 'knex';
import type { AuditEvent, AuditEventType } from '../shared/events';
import type { RequestStatus, RequestView } from '../shared/request';
import { isPostgres } from './database';

interface RequestRow {
  id: string;
  status: RequestStatus;
  requester: string;
  provider: string;
  kind: string;
  target: string;
  reason: string;
  duration: string;
  duration_seconds: number;
  created_at: string;
  active_at: string | null;
  expires_at: string | null;
  ended_at: string | null;
  error: string | null;
  version: number;
  /** JSON array of emails. */
  approvers: string;
  /** JSON of the whole RequestView. */
  view: string;
}

interface AuditEventRow {
  id: number;
  request_id: string;
  seq: number;
  type: AuditEventType;
  actor: string;
  at: string;
  /** JSON object, or null when the event has no details. */
  details: string | null;
}

/** What recordEvent did with an event whose number another event already holds (see recordEvent). */
export interface RecordedEvent {
  /** The event that holds the number. */
  seqTakenBy?: Pick<AuditEvent, 'type' | 'actor' | 'at'>;
  /** The number the event was kept under instead (with `keepOnClash`). */
  keptAs?: number;
}

export interface RequestListFilter {
  status?: RequestStatus;
  requester?: string;
  /** Requests this email may approve. */
  approver?: string;
  /** Made at or after this time (ISO-8601, UTC). */
  createdFrom?: string;
  /** Made before this time (ISO-8601, UTC). */
  createdBefore?: string;
  /** At most this many, newest first; all when omitted. */
  limit?: number;
}

/** One recorded change: an audit event's row id (increasing as rows are written) and its request. */
export interface RecordedChange {
  id: number;
  requestId: string;
  type: AuditEventType;
}

/** How many request ids go into one `IN (...)` list (SQLite allows 32,766 variables; PostgreSQL 65,535). */
const ID_CHUNK = 500;

export class RequestStore {
  /** Migrations have already run: openDatabase applies them before any store is made. */
  constructor(private readonly database: Knex) {}

  /**
   * Appends the event and refreshes the projection, in one transaction. Idempotent: a repeated
   * (requestId, seq) is ignored, and the projection only moves to a higher view version.
   *
   * One run of a request's workflow numbers its events uniquely, and a retry repeats them exactly; a
   * different event under a number already taken comes from another run of the same workflow id (one
   * terminated and started again, or reset). It is not recorded under that number, and the answer says
   * what holds it; with `keepOnClash` it is kept under the next free number instead (once, however
   * often the write is retried), so a refusal of such a run stays in the trail.
   */
  async recordEvent(event: AuditEvent, view: RequestView, options: { keepOnClash?: boolean } = {}): Promise<RecordedEvent> {
    if (event.requestId !== view.id) {
      throw new Error(`Event for ${event.requestId} recorded with the view of ${view.id}`);
    }
    const eventRow = toEventRow(event);
    return this.database.transaction(async (trx) => {
      await trx<AuditEventRow>('audit_events').insert(eventRow).onConflict(['request_id', 'seq']).ignore();
      await trx<RequestRow>('requests')
        .insert(toRow(view))
        .onConflict('id')
        .merge()
        .where('requests.version', '<', view.version);
      const holder = await trx<AuditEventRow>('audit_events').where({ request_id: event.requestId, seq: event.seq }).first();
      if (!holder || sameEvent(holder, eventRow)) return {};
      const seqTakenBy = { type: holder.type, actor: holder.actor, at: holder.at };
      if (!options.keepOnClash) return { seqTakenBy };
      const keptBefore = (await trx<AuditEventRow>('audit_events').where({ request_id: event.requestId, type: event.type, actor: event.actor, at: event.at })).find((row) =>
        sameEvent(row, eventRow),
      );
      if (keptBefore) return { seqTakenBy, keptAs: keptBefore.seq };
      const last = await trx<AuditEventRow>('audit_events').where({ request_id: event.requestId }).max({ seq: 'seq' }).first();
      const keptAs = Number(last?.seq ?? 0) + 1;
      // A concurrent writer taking the same number fails this transaction: the activity's retry writes it again.
      await trx<AuditEventRow>('audit_events').insert({ ...eventRow, seq: keptAs });
      return { seqTakenBy, keptAs };
    });
  }

  async get(id: string): Promise<RequestView | undefined> {
    const row = await this.database<RequestRow>('requests').where({ id }).first('view');
    return row ? (JSON.parse(row.view) as RequestView) : undefined;
  }

  /** Newest first. */
  async list(filter: RequestListFilter = {}): Promise<RequestView[]> {
    const query = this.database<RequestRow>('requests').select('view');
    if (filter.status) query.where('status', filter.status);
    if (filter.requester) query.where('requester', filter.requester);
    if (filter.createdFrom) query.where('created_at', '>=', filter.createdFrom);
    if (filter.createdBefore) query.where('created_at', '<', filter.createdBefore);
    if (filter.approver) {
      // `approvers` is a JSON array of strings, so `"email"` (JSON-quoted) only matches a whole
      // element. instr/strpos rather than LIKE: no wildcard escaping, case-sensitive on both databases.
      const needle = JSON.stringify(filter.approver);
      const contains = isPostgres(this.database) ? 'strpos(approvers, ?) > 0' : 'instr(approvers, ?) > 0';
      query.whereRaw(contains, [needle]);
    }
    query.orderBy([
      { column: 'created_at', order: 'desc' },
      { column: 'id', order: 'desc' },
    ]);
    if (filter.limit !== undefined) {
      if (!Number.isInteger(filter.limit) || filter.limit < 0) throw new Error(`Invalid list limit ${filter.limit}`);
      query.limit(filter.limit);
    }
    const rows = await query;
    return rows.map((row) => JSON.parse(row.view) as RequestView);
  }

  /** How many requests are in each status (statuses with none are left out), for the `p0_requests` gauge. */
  async countByStatus(): Promise<Partial<Record<RequestStatus, number>>> {
    const rows = await this.database<RequestRow>('requests').select('status').count({ count: '*' }).groupBy('status');
    // PostgreSQL returns count(*) as a bigint string, SQLite as a number.
    return Object.fromEntries(rows.map((row) => [row.status, Number(row.count)]));
  }

  /** The request's audit trail in sequence order. */
  async events(requestId: string): Promise<AuditEvent[]> {
    const rows = await this.database<AuditEventRow>('audit_events').where({ request_id: requestId }).orderBy('seq', 'asc');
    return rows.map(fromEventRow);
  }

  /** The audit trails of these requests, each in sequence order, the requests in the order given. */
  async eventsOf(requestIds: readonly string[]): Promise<AuditEvent[]> {
    const byRequest = new Map<string, AuditEvent[]>(requestIds.map((id) => [id, []]));
    for (let start = 0; start < requestIds.length; start += ID_CHUNK) {
      const rows = await this.database<AuditEventRow>('audit_events')
        .whereIn('request_id', requestIds.slice(start, start + ID_CHUNK))
        .orderBy([{ column: 'request_id' }, { column: 'seq' }]);
      for (const row of rows) byRequest.get(row.request_id)?.push(fromEventRow(row));
    }
    return [...byRequest.values()].flat();
  }

  /**
   * Changes recorded after row `afterId`, in row order: what a live feed polls for. Row ids only
   * increase, but on PostgreSQL a lower id can commit after a higher one (and a refused duplicate
   * still uses one up), so a reader must allow for gaps that fill late (service/requestFeed.ts).
   */
  async changesSince(afterId: number, limit: number): Promise<RecordedChange[]> {
    const rows = await this.database<AuditEventRow>('audit_events').select('id', 'request_id', 'type').where('id', '>', afterId).orderBy('id', 'asc').limit(limit);
    return rows.map((row) => ({ id: Number(row.id), requestId: row.request_id, type: row.type }));
  }

  /** The highest change recorded so far (0: none). */
  async lastChangeId(): Promise<number> {
    const row = await this.database<AuditEventRow>('audit_events').max({ id: 'id' }).first();
    return Number(row?.id ?? 0);
  }
}

function fromEventRow(row: AuditEventRow): AuditEvent {
  return {
    requestId: row.request_id,
    seq: row.seq,
    type: row.type,
    actor: row.actor,
    at: row.at,
    ...(row.details === null ? {} : { details: JSON.parse(row.details) as Record<string, unknown> }),
  };
}

function toEventRow(event: AuditEvent): Omit<AuditEventRow, 'id'> {
  return {
    request_id: event.requestId,
    seq: event.seq,
    type: event.type,
    actor: event.actor,
    at: event.at,
    details: event.details === undefined ? null : JSON.stringify(event.details),
  };
}

/** The same event (a retried write), whatever number it is stored under. */
function sameEvent(row: Pick<AuditEventRow, 'type' | 'actor' | 'at' | 'details'>, event: Omit<AuditEventRow, 'id'>): boolean {
  return row.type === event.type && row.actor === event.actor && row.at === event.at && (row.details ?? null) === event.details;
}

function toRow(view: RequestView): RequestRow {
  return {
    id: view.id,
    status: view.status,
    requester: view.requester,
    provider: view.provider,
    kind: view.kind,
    target: view.target,
    reason: view.reason,
    duration: view.duration,
    duration_seconds: view.durationSeconds,
    created_at: view.createdAt,
    active_at: view.activeAt ?? null,
    expires_at: view.expiresAt ?? null,
    ended_at: view.endedAt ?? null,
    error: view.error ?? null,
    version: view.version,
    approvers: JSON.stringify(view.approvers),
    view: JSON.stringify(view),
  };
}
