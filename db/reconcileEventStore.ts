/**
 * The reconciler's audit trail: every orphan it found (and whether it removed or only reported it)
 * and every active grant it found missing. Kept apart from the requests' own numbered trails, which
 * only their workflow writes; an orphan may belong to no known request at all.
 */
import type { Knex } from 'knex';
import type { ReconcileAction, ReconcileEvent, ReconcileFinding } from '../shared/reconcile';

interface ReconcileEventRow {
  id?: number;
  run_id: string;
  at: string;
  finding: ReconcileFinding;
  provider: string;
  request_id: string | null;
  description: string;
  action: ReconcileAction;
  error: string | null;
}

const TABLE = 'reconcile_events';

export class ReconcileEventStore {
  /** Migrations have already run: openDatabase applies them before any store is made. */
  constructor(private readonly database: Knex) {}

  /** Idempotent per run: a retried activity does not record the same finding twice. */
  async record(event: ReconcileEvent): Promise<void> {
    const key = { run_id: event.runId, finding: event.finding, provider: event.provider, description: event.description };
    await this.database.transaction(async (trx) => {
      const recorded = await trx<ReconcileEventRow>(TABLE).where(key).first('id');
      const row: ReconcileEventRow = {
        ...key,
        at: event.at,
        request_id: event.requestId ?? null,
        action: event.action,
        error: event.error ?? null,
      };
      if (recorded) await trx<ReconcileEventRow>(TABLE).where({ id: recorded.id }).update(row);
      else await trx<ReconcileEventRow>(TABLE).insert(row);
    });
  }

  /** Newest first. */
  async list(filter: { requestId?: string; limit?: number } = {}): Promise<ReconcileEvent[]> {
    let query = this.database<ReconcileEventRow>(TABLE).orderBy('id', 'desc');
    if (filter.requestId) query = query.where({ request_id: filter.requestId });
    if (filter.limit) query = query.limit(filter.limit);
    const rows = await query;
    return rows.map((row) => ({
      runId: row.run_id,
      at: row.at,
      finding: row.finding,
      provider: row.provider,
      requestId: row.request_id ?? undefined,
      description: row.description,
      action: row.action,
      error: row.error ?? undefined,
    }));
  }
}
