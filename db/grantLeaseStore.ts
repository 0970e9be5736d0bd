/**
 * Grant leases: which provider-side grants the product holds, and for which requests. Two requests
 * for the same access share one grant at the provider; it is removed only when the last of them
 * ends, and never when the user had the access before the product granted it ("standing").
 *
 * Leases on one resource key are read and written one transaction at a time (PostgreSQL: an
 * advisory lock per key; SQLite: the database write lock), so concurrent acquirers agree on who
 * owns the grant.
 */
import type { Knex } from 'knex';
import type { GrantSpec, PrincipalRef } from '../providers/provider';
import { ADVISORY_LOCK_CLASS, isPostgres, takeSqliteWriteLock } from './database';

interface GrantLeaseRow {
  request_id: string;
  /** The provider's name for the access (same user, same permission = same key). */
  resource_key: string;
  /** SQLite returns booleans as 0/1. */
  standing: boolean | number;
  acquired_at: string;
  released_at: string | null;
  /** Decided at release; null while the lease is held. */
  remove_at_provider: boolean | number | null;
  release_reason: string | null;
  /** When the provider confirmed the removal this release decided on. */
  removed_at: string | null;
  /** JSON GrantSpec; null on leases recorded before the reconciler existed. */
  spec?: string | null;
  /** JSON PrincipalRef resolved at grant time; null on leases recorded before principals were. */
  principal?: string | null;
  /** The Temporal run of the request's workflow that first provisioned it; null on leases recorded before run ids were. */
  run_id?: string | null;
}

export interface GrantLease {
  requestId: string;
  resourceKey: string;
  /** The access predates the product's grant: releasing this lease never removes it. */
  standing: boolean;
  acquiredAt: string;
}

export interface AcquireLeaseInput {
  requestId: string;
  resourceKey: string;
  /** Whether the provider reported the access as present before this request granted it. */
  presentBefore: boolean;
  /** The grant itself, kept so the reconciler can read it back and remove it later. */
  spec?: GrantSpec;
  /** The principal the provider resolved for this grant: revoke and every read-back use it. */
  principal?: PrincipalRef;
  /** The Temporal run of the request's workflow that provisions it (see grantedInRun). */
  runId?: string;
}

export interface AcquiredLease {
  standing: boolean;
  /** The run the lease is recorded for: the first that provisioned it, which may not be the caller's. */
  runId?: string;
  /**
   * The request's hold on the access has already ended (its lease was released, or the request was
   * cleaned up before any lease was recorded): the caller must not grant.
   */
  released?: true;
}

/** A lease as the reconciler sees it: the grant, and where its request stands with it. */
export interface RecordedGrant {
  requestId: string;
  resourceKey: string;
  standing: boolean;
  released: boolean;
  removeAtProvider: boolean;
  removed: boolean;
  spec: GrantSpec;
  /** The principal the grant was made to; undefined for leases recorded before principals were. */
  principal?: PrincipalRef;
  /** The run of the request's workflow that made the grant; undefined for leases recorded before run ids were. */
  runId?: string;
}

export interface LeaseRelease {
  /** Whether the caller should now remove the grant at the provider. */
  removeAtProvider: boolean;
  /** Why, in words for the audit trail. */
  reason: string;
}

const TABLE = 'grant_leases';
/** Resource key prefix of a lease released before any grant was recorded for its request. */
const ENDED_BEFORE_GRANT = 'ended-before-grant:';

export class GrantLeaseStore {
  /** Migrations have already run: openDatabase applies them before any store is made. */
  constructor(private readonly database: Knex) {}

  /**
   * Records that `requestId` holds the grant on `resourceKey`. Call it before granting at the
   * provider. Standing when the access was there before and no other request holds it (it was
   * granted outside the product), or when the request it shares the grant with is standing.
   * Idempotent: a retry returns what was recorded the first time, including the run that recorded
   * it (a lease recorded before run ids were is claimed by the first run that acquires it since).
   * Once released, a lease stays released: an attempt still running after its request ended (a
   * provision attempt Temporal timed out and retried) learns so here, and must not grant.
   */
  async acquire(input: AcquireLeaseInput): Promise<AcquiredLease> {
    return this.database.transaction(async (trx) => {
      await this.lockKey(trx, input.resourceKey);
      const recorded = await findLease(trx, input.requestId);
      if (recorded?.released_at) {
        return { standing: Boolean(recorded.standing), released: true, ...(recorded.run_id ? { runId: recorded.run_id } : {}) };
      }
      if (recorded) {
        if (recorded.resource_key !== input.resourceKey) {
          throw new Error(
            `The lease of ${input.requestId} is recorded on "${recorded.resource_key}", not "${input.resourceKey}"`,
          );
        }
        if (!recorded.run_id && input.runId) {
          await trx<GrantLeaseRow>(TABLE).where({ request_id: input.requestId }).whereNull('run_id').update({ run_id: input.runId });
          return { standing: Boolean(recorded.standing), runId: input.runId };
        }
        return { standing: Boolean(recorded.standing), ...(recorded.run_id ? { runId: recorded.run_id } : {}) };
      }
      const holders = await unreleasedHolders(trx, input.resourceKey, input.requestId);
      // Access still present because an ended request's removal is under way is the product's, not standing.
      const standing =
        holders.length === 0
          ? input.presentBefore && !(await removalPending(trx, input.resourceKey))
          : holders.some((holder) => Boolean(holder.standing));
      const row: GrantLeaseRow = {
        request_id: input.requestId,
        resource_key: input.resourceKey,
        standing,
        acquired_at: new Date().toISOString(),
        released_at: null,
        remove_at_provider: null,
        release_reason: null,
        removed_at: null,
        spec: input.spec ? JSON.stringify(input.spec) : null,
        principal: input.principal ? JSON.stringify(input.principal) : null,
        run_id: input.runId ?? null,
      };
      await trx<GrantLeaseRow>(TABLE).insert(row);
      return { standing, ...(input.runId ? { runId: input.runId } : {}) };
    });
  }

  /**
   * Ends the lease and says whether the grant must now be removed at the provider. Idempotent: a
   * retry returns the decision recorded the first time. A request with no lease (provisioning
   * failed before recording one) gets removeAtProvider true, so compensation still cleans up, and a
   * released lease with no grant in it is recorded, so a provision attempt still running cannot
   * record one afterwards (see acquire).
   */
  async release(requestId: string): Promise<LeaseRelease> {
    return this.database.transaction(async (trx) => {
      if (!isPostgres(this.database)) await takeSqliteWriteLock(trx, TABLE);
      let lease = await findLease(trx, requestId);
      if (!lease) {
        const decision = {
          removeAtProvider: true,
          reason: `no lease was recorded for ${requestId}: removing at the provider whatever it may have granted`,
        };
        const now = new Date().toISOString();
        // Its own resource key, and no spec: no other request shares it and the reconciler skips it.
        await trx<GrantLeaseRow>(TABLE)
          .insert({
            request_id: requestId,
            resource_key: `${ENDED_BEFORE_GRANT}${requestId}`,
            standing: false,
            acquired_at: now,
            released_at: now,
            remove_at_provider: decision.removeAtProvider,
            release_reason: decision.reason,
            removed_at: null,
            spec: null,
            principal: null,
            run_id: null,
          })
          .onConflict('request_id')
          .ignore();
        return decision;
      }
      if (isPostgres(this.database)) {
        await this.lockKey(trx, lease.resource_key);
        lease = (await findLease(trx, requestId))!; // a concurrent release may have finished meanwhile
      }
      if (lease.released_at !== null) {
        return { removeAtProvider: Boolean(lease.remove_at_provider), reason: lease.release_reason ?? '' };
      }

      let decision: LeaseRelease;
      if (lease.standing) {
        decision = { removeAtProvider: false, reason: 'the user had this access before the request: it stays' };
      } else {
        const others = await unreleasedHolders(trx, lease.resource_key, requestId);
        decision =
          others.length > 0
            ? { removeAtProvider: false, reason: `still granted by ${others.map((other) => other.request_id).join(', ')}` }
            : { removeAtProvider: true, reason: 'no other request holds this access' };
      }
      await trx<GrantLeaseRow>(TABLE).where({ request_id: requestId }).update({
        released_at: new Date().toISOString(),
        remove_at_provider: decision.removeAtProvider,
        release_reason: decision.reason,
      });
      return decision;
    });
  }

  /**
   * Records that the provider confirmed the removal `requestId`'s release decided on, and names the
   * requests that hold the same access now (acquired while the removal was under way): the caller
   * grants it again for them, since their grant and our removal touched the same provider object.
   */
  async confirmRemoved(requestId: string): Promise<{ heldBy: string[] }> {
    return this.database.transaction(async (trx) => {
      const lease = await findLease(trx, requestId);
      if (!lease) return { heldBy: [] };
      await this.lockKey(trx, lease.resource_key);
      await trx<GrantLeaseRow>(TABLE)
        .where({ request_id: requestId })
        .whereNull('removed_at')
        .update({ removed_at: new Date().toISOString() });
      const holders = await unreleasedHolders(trx, lease.resource_key, requestId);
      return { heldBy: holders.map((holder) => holder.request_id) };
    });
  }

  /** The decision recorded when `requestId`'s lease was released, or undefined while it is held (or there is none). */
  async releaseOf(requestId: string): Promise<LeaseRelease | undefined> {
    const lease = await findLease(this.database, requestId);
    if (!lease?.released_at) return undefined;
    return { removeAtProvider: Boolean(lease.remove_at_provider), reason: lease.release_reason ?? '' };
  }

  /**
   * The principal recorded when `requestId`'s lease was first acquired (a retried acquire never
   * replaces it), or undefined: no lease, or one recorded before principals were.
   */
  async recordedPrincipal(requestId: string): Promise<PrincipalRef | undefined> {
    const lease = await findLease(this.database, requestId);
    return lease?.principal ? (JSON.parse(lease.principal) as PrincipalRef) : undefined;
  }

  /**
   * The Temporal run of the request's workflow that first provisioned its grant, or undefined: no
   * lease, or one recorded before run ids were (and not acquired since).
   */
  async grantedInRun(requestId: string): Promise<string | undefined> {
    const lease = await findLease(this.database, requestId);
    return lease?.run_id ?? undefined;
  }

  /** The other requests that hold the access `requestId` held (same resource key), oldest first. */
  async otherHolders(requestId: string): Promise<string[]> {
    const lease = await findLease(this.database, requestId);
    if (!lease) return [];
    const holders = await unreleasedHolders(this.database, lease.resource_key, requestId);
    return holders.map((holder) => holder.request_id);
  }

  /** Every lease not yet released, oldest first: what the product believes it holds at the providers. */
  async activeLeases(): Promise<GrantLease[]> {
    const rows = await this.database<GrantLeaseRow>(TABLE)
      .whereNull('released_at')
      .orderBy([
        { column: 'acquired_at', order: 'asc' },
        { column: 'request_id', order: 'asc' },
      ]);
    return rows.map((row) => ({
      requestId: row.request_id,
      resourceKey: row.resource_key,
      standing: Boolean(row.standing),
      acquiredAt: row.acquired_at,
    }));
  }

  /**
   * Leases the reconciler checks at the providers: every one still held, plus released ones whose
   * lease was acquired after `since` (a grant applied late by a retry can reappear after its removal
   * was confirmed). Leases recorded before specs were kept are skipped: nothing to read them back by.
   */
  async recordedGrants(since: string): Promise<RecordedGrant[]> {
    const rows = await this.database<GrantLeaseRow>(TABLE)
      .whereNotNull('spec')
      .andWhere((query) => query.whereNull('released_at').orWhere('acquired_at', '>=', since))
      .orderBy('acquired_at', 'asc');
    return rows.map((row) => ({
      requestId: row.request_id,
      resourceKey: row.resource_key,
      standing: Boolean(row.standing),
      released: row.released_at !== null,
      removeAtProvider: Boolean(row.remove_at_provider),
      removed: row.removed_at !== null,
      spec: JSON.parse(row.spec!) as GrantSpec,
      ...(row.principal ? { principal: JSON.parse(row.principal) as PrincipalRef } : {}),
      ...(row.run_id ? { runId: row.run_id } : {}),
    }));
  }

  /** Whether an unreleased lease other than `exceptRequestId`'s (another request, or standing access) holds `resourceKey`. */
  async isHeld(resourceKey: string, exceptRequestId: string): Promise<boolean> {
    const held = await unreleasedHolders(this.database, resourceKey, exceptRequestId);
    return held.length > 0;
  }

  /** Serializes transactions touching this key's leases, until the transaction ends. */
  private async lockKey(trx: Knex.Transaction, resourceKey: string): Promise<void> {
    if (isPostgres(this.database)) {
      // An advisory lock rather than SELECT ... FOR UPDATE: it also holds when the key has no rows yet.
      await trx.raw('SELECT pg_advisory_xact_lock(?, hashtext(?))', [ADVISORY_LOCK_CLASS.grantLeases, resourceKey]);
    } else {
      await takeSqliteWriteLock(trx, TABLE);
    }
  }
}

function findLease(trx: Knex.Transaction | Knex, requestId: string): Promise<GrantLeaseRow | undefined> {
  return trx<GrantLeaseRow>(TABLE).where({ request_id: requestId }).first();
}

/** The other requests holding the key, oldest first. */
function unreleasedHolders(trx: Knex.Transaction | Knex, resourceKey: string, exceptRequestId: string): Promise<Pick<GrantLeaseRow, 'request_id' | 'standing'>[]> {
  return trx<GrantLeaseRow>(TABLE)
    .where({ resource_key: resourceKey })
    .whereNull('released_at')
    .whereNot({ request_id: exceptRequestId })
    .orderBy([
      { column: 'acquired_at', order: 'asc' },
      { column: 'request_id', order: 'asc' },
    ])
    .select('request_id', 'standing');
}

/** Whether an ended request decided to remove this access and the provider has not confirmed it yet. */
async function removalPending(trx: Knex.Transaction, resourceKey: string): Promise<boolean> {
  const pending = await trx<GrantLeaseRow>(TABLE)
    .where({ resource_key: resourceKey, remove_at_provider: true })
    .whereNotNull('released_at')
    .whereNull('removed_at')
    .first('request_id');
  return pending !== undefined;
}
