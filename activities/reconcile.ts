/**
 * The reconciler's activities: compare what the product has granted at each provider with the
 * requests that should hold it, and act on the difference. The `reconcile` workflow, started by a
 * Temporal Schedule, calls them; all the deciding happens here, on data read in a safe order:
 *
 * - A request's status is read BEFORE the provider is: a request is only recorded as ended after
 *   its removal was confirmed, so a grant still present after its request read as ended is really
 *   left behind (not one whose removal is merely under way).
 * - A grant with our marker (found by listing) is only an orphan if it is still listed after its
 *   request's status was read; shared grants (memberships, attachments) are found from the grant
 *   leases, and only count when no other request and no standing access holds the same object.
 * - A request not recorded as ended holds its grant only while the run of its workflow that made the
 *   grant runs. Anyone who reaches the namespace can terminate that run, and then no removal ever
 *   happens while the row still says active: Temporal is asked (after the row was read), and the
 *   row is read again once the run is found closed, since a run that ended normally recorded its end
 *   before it closed. A Temporal that does not answer means "cannot check", never "closed".
 */
import { ApplicationFailure, Context, log } from '@temporalio/activity';
import { WorkflowNotFoundError } from '@temporalio/client';
import type { RecordedGrant } from '../db/grantLeaseStore';
import type { GrantSpec, MarkedGrant, PrincipalRef, Provider } from '../providers/provider';
import { REMOVAL_UNCONFIRMED } from './index';
import type { OrphanPolicy, ReconcileAction, ReconcileEvent } from '../shared/reconcile';
import { FINAL_STATUSES, type RequestStatus, type RequestView } from '../shared/request';


export interface ReconcileSettings {
  orphans: OrphanPolicy;
  /** Released leases acquired within this window are re-checked at the provider. */
  lookbackMs: number;
  /** Whether an active request's missing grant is provisioned again (default) or only reported. */
  regrantMissing?: boolean;
}

export interface ReconcileDependencies {
  providers: ReadonlyMap<string, Provider>;
  requests: { get(id: string): Promise<RequestView | undefined> };
  leases: {
    recordedGrants(since: string): Promise<RecordedGrant[]>;
    /** Whether an unreleased lease other than `exceptRequestId`'s holds the provider object. */
    isHeld(resourceKey: string, exceptRequestId: string): Promise<boolean>;
    /** The principal recorded with the request's lease at grant time. */
    recordedPrincipal(requestId: string): Promise<PrincipalRef | undefined>;
    /** Ends the lease of a request whose workflow will not (its run closed without removing the grant). */
    release(requestId: string): Promise<{ removeAtProvider: boolean; reason: string }>;
    /** Records the removal as confirmed; names requests that took the same access meanwhile. */
    confirmRemoved(requestId: string): Promise<{ heldBy: string[] }>;
  };
  /** Asks Temporal about requests' workflows; default: the worker's own client (the activity context's). */
  workflows?: RequestWorkflows;
  events: { record(event: ReconcileEvent): Promise<void> };
  /** Read on every run, so a config reload applies to the next one. */
  settings(): ReconcileSettings;
  /** Called once per orphan acted on (the metrics counter). */
  onOrphan?(provider: string, action: ReconcileAction): void;
}

/** Whether the run of a request's workflow that made its grant still runs. */
export type RunState = { running: true } | { running: false; closedAs: string };

export interface RequestWorkflows {
  /**
   * The run `runId` of the request's workflow (the latest run when undefined). Throws when Temporal
   * does not answer: that means "cannot check", never "closed".
   */
  runState(requestId: string, runId: string | undefined): Promise<RunState>;
}

/** RequestWorkflows through the Temporal client the worker hands its activities. */
export const workflowsOfActivityClient: RequestWorkflows = {
  async runState(requestId, runId) {
    try {
      const { status } = await Context.current().client.workflow.getHandle(requestId, runId).describe();
      return status.name === 'RUNNING' ? { running: true } : { running: false, closedAs: status.name.toLowerCase().replace(/_/g, ' ') };
    } catch (error) {
      // Closed long enough ago that Temporal dropped it (namespace retention), or never started.
      if (error instanceof WorkflowNotFoundError) return { running: false, closedAs: 'not found' };
      throw error;
    }
  },
};

/** A grant at a provider that no request holds. */
export interface Orphan {
  provider: string;
  requestId: string;
  /** The request's status when it was checked, `unknown` when no such request is recorded. */
  requestStatus: RequestStatus | 'unknown';
  description: string;
  /** Found by its marker: removed with removeMarked. */
  marked?: MarkedGrant;
  /** Found from its lease: removed with revoke. */
  spec?: GrantSpec;
  /**
   * Its request is not recorded as ended, but the run of its workflow that made the grant closed:
   * nothing else will end its lease or remove the grant, so removing it also releases the lease.
   */
  abandoned?: boolean;
}

/** An active request whose grant the provider no longer reports. */
export interface MissingGrant {
  provider: string;
  requestId: string;
  description: string;
}

export interface DriftReport {
  checkedAt: string;
  orphanPolicy: OrphanPolicy;
  providers: string[];
  orphans: Orphan[];
  missing: MissingGrant[];
  /** Providers (or leases) that could not be checked this time, and why. */
  errors: { provider: string; message: string }[];
  /** `reconcile.regrantMissing`: false = report missing grants, do not ask for them again (absent in older results: true). */
  regrantMissing?: boolean;
}

export interface SettleOrphanInput {
  orphan: Orphan;
  runId: string;
  policy: OrphanPolicy;
}

/** Only these statuses hold access at the provider (provisioning: the grant is being made or checked). */
const HOLDING_STATUSES: readonly RequestStatus[] = ['provisioning', 'active'];

export function createReconcileActivities(dependencies: ReconcileDependencies) {
  const { providers, requests, leases, events, workflows = workflowsOfActivityClient } = dependencies;

  return {
    async findDrift(): Promise<DriftReport> {
      const { orphans: orphanPolicy, lookbackMs, regrantMissing = true } = dependencies.settings();
      const report: DriftReport = { checkedAt: new Date().toISOString(), orphanPolicy, providers: [...providers.keys()], orphans: [], missing: [], errors: [], regrantMissing };
      const statusOf = statusReader(requests);

      for (const [name, provider] of providers) {
        try {
          report.orphans.push(...(await markedOrphans(provider, statusOf)));
        } catch (error) {
          report.errors.push({ provider: name, message: messageOf(error) });
        }
        Context.current().heartbeat();
      }

      const since = new Date(Date.now() - lookbackMs).toISOString();
      const seen = new Set(report.orphans.map((orphan) => `${orphan.provider}:${orphan.requestId}`));
      for (const lease of await leases.recordedGrants(since)) {
        const provider = providers.get(lease.spec.provider);
        if (!provider) continue; // a provider no longer configured: nothing here can read it
        try {
          const finding = await checkLease(lease, provider, statusOf, leases, workflows);
          if (finding?.type === 'missing') report.missing.push(finding.missing);
          if (finding?.type === 'orphan' && !seen.has(`${provider.name}:${lease.requestId}`)) report.orphans.push(finding.orphan);
          if (finding?.type === 'unconfirmed') report.errors.push({ provider: provider.name, message: finding.message });
        } catch (error) {
          report.errors.push({ provider: provider.name, message: `request ${lease.requestId}: ${messageOf(error)}` });
        }
        Context.current().heartbeat();
      }
      for (const orphan of report.orphans) log.warn('Orphaned grant found', { requestId: orphan.requestId, provider: orphan.provider, grant: orphan.description });
      const missingMessage = regrantMissing ? 'Active grant missing at the provider' : 'Active grant missing at the provider, only reported (reconcile.regrantMissing: false)';
      for (const missing of report.missing) log.warn(missingMessage, { requestId: missing.requestId, provider: missing.provider, grant: missing.description });
      return report;
    },

    /** Removes the orphan (policy `revoke`) or only records it (`report`). Removal is read back. */
    async settleOrphan({ orphan, runId, policy }: SettleOrphanInput): Promise<ReconcileAction> {
      const provider = providers.get(orphan.provider);
      let action: ReconcileAction = 'reported';
      if (policy === 'revoke') {
        if (!provider) throw ApplicationFailure.nonRetryable(`No provider "${orphan.provider}" is configured on this worker`);
        action = 'revoked';
        if (orphan.marked) {
          await provider.removeMarked(orphan.marked);
        } else if (orphan.spec) {
          // The orphan came through the workflow's history: its principal is taken from the lease again.
          const { recordedPrincipal: _untrusted, ...grant } = orphan.spec;
          const principal = await leases.recordedPrincipal(orphan.requestId);
          const spec: GrantSpec = principal ? { ...grant, recordedPrincipal: principal } : grant;
          // Its workflow will never release the lease: released here, as the workflow would have.
          const release = orphan.abandoned ? await leases.release(orphan.requestId) : { removeAtProvider: true, reason: '' };
          if (!release.removeAtProvider) {
            // Another request took the same access since it was found: it holds it now.
            log.warn('Orphaned grant left in place: another request holds it now', { requestId: orphan.requestId, reason: release.reason });
            action = 'reported';
          } else {
            await provider.revoke(spec);
            if (await provider.isGranted(spec)) throw new Error(`${orphan.description} still reads back after its removal`);
            if (orphan.abandoned) {
              const { heldBy } = await leases.confirmRemoved(orphan.requestId);
              // As verifyRevocation does: a request that took the same provider object meanwhile keeps it.
              if (heldBy.length > 0) await provider.grant(spec);
            }
          }
        }
      }
      await events.record({ runId, at: new Date().toISOString(), finding: 'orphan', provider: orphan.provider, requestId: orphan.requestId, description: orphan.description, action });
      dependencies.onOrphan?.(orphan.provider, action);
      log.warn(action === 'revoked' ? 'Orphaned grant removed' : 'Orphaned grant reported (reconcile.orphans: report)', { requestId: orphan.requestId, grant: orphan.description });
      return action;
    },

    /** The audit record of a finding the workflow acted on itself (a failed removal, a re-provisioning signal). */
    async recordFinding(event: Omit<ReconcileEvent, 'at'>): Promise<void> {
      await events.record({ ...event, at: new Date().toISOString() });
      if (event.finding === 'orphan') dependencies.onOrphan?.(event.provider, event.action);
    },
  };
}

export type ReconcileActivities = ReturnType<typeof createReconcileActivities>;

type StatusReader = (requestId: string) => Promise<RequestStatus | 'unknown'>;

function statusReader(requests: ReconcileDependencies['requests']): StatusReader {
  return async (requestId) => (await requests.get(requestId))?.status ?? 'unknown';
}

/** Marked grants whose request does not hold them, still listed after the request's status was read. */
async function markedOrphans(provider: Provider, statusOf: StatusReader): Promise<Orphan[]> {
  const candidates: Orphan[] = [];
  for (const marked of await provider.listMarked()) {
    const requestStatus = await statusOf(marked.requestId);
    if (!HOLDING_STATUSES.includes(requestStatus as RequestStatus)) {
      candidates.push({ provider: provider.name, requestId: marked.requestId, requestStatus, description: marked.description, marked });
    }
  }
  if (candidates.length === 0) return [];
  const stillThere = new Set((await provider.listMarked()).map(markedKey));
  return candidates.filter((candidate) => stillThere.has(markedKey(candidate.marked!)));
}

function markedKey(grant: MarkedGrant): string {
  return JSON.stringify([grant.provider, grant.requestId, grant.ref]);
}

type LeaseFinding = { type: 'orphan'; orphan: Orphan } | { type: 'missing'; missing: MissingGrant } | { type: 'unconfirmed'; message: string };

async function checkLease(
  lease: RecordedGrant,
  provider: Provider,
  statusOf: StatusReader,
  leases: ReconcileDependencies['leases'],
  workflows: RequestWorkflows,
): Promise<LeaseFinding | undefined> {
  // Read back (and removed) at exactly the principal recorded at grant time, never looked up again.
  const spec: GrantSpec = lease.principal ? { ...lease.spec, recordedPrincipal: lease.principal } : lease.spec;
  let requestStatus = await statusOf(lease.requestId);
  const recordedAs = lease.principal ? ` (${Object.entries(lease.principal).map(([key, value]) => `${key} ${value}`).join(', ')})` : '';
  let description = `${spec.kind} ${spec.target} for ${spec.principal}${recordedAs}`;
  /** Not recorded as ended, and never will be: the run that made the grant closed (e.g. terminated). */
  let abandoned = false;
  // An unknown request whose lease was released is taken for an orphan below anyway: nothing to ask.
  if (!FINAL_STATUSES.includes(requestStatus as RequestStatus) && !(requestStatus === 'unknown' && lease.released)) {
    const run = await runStateOf(workflows, lease);
    if (!run.running) {
      // A run that ended normally recorded its end first: only a row still not final is abandoned.
      requestStatus = await statusOf(lease.requestId);
      if (!FINAL_STATUSES.includes(requestStatus as RequestStatus)) {
        abandoned = true;
        description = `${description}: its workflow is ${run.closedAs} while the request reads ${requestStatus}`;
      }
    }
  }
  if (!abandoned && HOLDING_STATUSES.includes(requestStatus as RequestStatus) && !lease.released) {
    // Only an active grant is expected in place (provisioning is still granting or verifying).
    if (requestStatus !== 'active' || (await provider.isGranted(spec))) return undefined;
    // Read again: a request that ended meanwhile released its lease before removing the grant.
    if ((await statusOf(lease.requestId)) !== 'active') return undefined;
    return { type: 'missing', missing: { provider: provider.name, requestId: lease.requestId, description } };
  }
  if (lease.standing) return undefined; // the user had it before: never ours to remove
  if (lease.released && !lease.removeAtProvider) return undefined; // another holder took it over at release
  if (!abandoned) {
    // Ended but not yet recorded as ended: its workflow is removing it right now.
    if (!FINAL_STATUSES.includes(requestStatus as RequestStatus) && requestStatus !== 'unknown') return undefined;
    if (!lease.released && requestStatus === 'unknown') return undefined; // no request row yet: being created
  }
  if (await leases.isHeld(lease.resourceKey, lease.requestId)) return undefined;
  if (!(await provider.isGranted(spec))) {
    // Ended, decided to remove, never confirmed removed: its principal vanished or became ambiguous
    // at the removal (an alert the request recorded). Reported on every run while in the look-back.
    if (lease.released && lease.removeAtProvider && !lease.removed && FINAL_STATUSES.includes(requestStatus as RequestStatus)) {
      return { type: 'unconfirmed', message: `request ${lease.requestId}: the removal of ${description} was never confirmed at the provider (${REMOVAL_UNCONFIRMED}); check it by hand` };
    }
    return undefined;
  }
  const orphan: Orphan = { provider: provider.name, requestId: lease.requestId, requestStatus, description, spec, ...(abandoned ? { abandoned } : {}) };
  return { type: 'orphan', orphan };
}

/** Whether the run that made the lease's grant still runs; a Temporal that does not answer is an error ("cannot check"). */
async function runStateOf(workflows: RequestWorkflows, lease: RecordedGrant): Promise<RunState> {
  try {
    return await workflows.runState(lease.requestId, lease.runId);
  } catch (error) {
    throw new Error(`cannot check whether its workflow still runs (Temporal did not answer: ${messageOf(error)})`, { cause: error });
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
