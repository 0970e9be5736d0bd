/**
 * The accessRequest workflow's activities: every piece of I/O the workflow does. Built by a factory
 * from injected clients (providers, stores, notifiers) so the worker creates each client once and
 * tests can hand in their own.
 */
import { ApplicationFailure, CancelledFailure, Context, log } from '@temporalio/activity';
import { PrincipalUnconfirmedError, ProviderInputError, StepMemo, type GrantSpec, type PrincipalRef, type Provider } from '../providers/provider';
import type { MessageSigner } from '../service/messageSigning';
import { countPrincipalAlert, countProviderError, observeRequestEvent, type ProviderOperation } from '../service/metrics';
import type { Policy } from '../service/policy';
import type { AuditEvent, AuditEventType } from '../shared/events';
import { FAILURE } from '../shared/failures';
import type { RequestView } from '../shared/request';
import { anotherRunProblem, grantAuthorityProblem, type GrantEvidence } from './grantAuthority';

export type { GrantEvidence } from './grantAuthority';

export interface RequestEventSink {
  /**
   * Idempotent by (requestId, seq). When another event holds the number (another run of the same
   * workflow id wrote it) the answer says so; `keepOnClash` keeps the event under a free number then.
   */
  recordEvent(event: AuditEvent, view: RequestView, options?: { keepOnClash?: boolean }): Promise<{ seqTakenBy?: { type: string }; keptAs?: number } | void>;
  get(id: string): Promise<RequestView | undefined>;
}

export interface GrantLeases {
  /** `runId`: the run of the request's workflow provisioning it; the answer's, the run the lease is recorded for. */
  /** `released`: the request's hold on the access has already ended, so nothing may be granted. */
  acquire(input: { requestId: string; resourceKey: string; presentBefore: boolean; spec?: GrantSpec; principal?: PrincipalRef; runId?: string }): Promise<{ standing: boolean; runId?: string; released?: true }>;
  /** The decision recorded when the request's lease was released; undefined while it is held. */
  releaseOf(requestId: string): Promise<{ removeAtProvider: boolean; reason: string } | undefined>;
  /** The run of the request's workflow that first provisioned it (recorded with the lease). */
  grantedInRun(requestId: string): Promise<string | undefined>;
  /** The principal recorded with the request's lease when it was first acquired. */
  recordedPrincipal(requestId: string): Promise<PrincipalRef | undefined>;
  release(requestId: string): Promise<{ removeAtProvider: boolean; reason: string }>;
  confirmRemoved(requestId: string): Promise<{ heldBy: string[] }>;
  otherHolders(requestId: string): Promise<string[]>;
}

/** A channel that tells people about a request (the Slack notifier; another chat platform would be one more). */
export interface Notifier {
  readonly name: string;
  notify(notification: Notification): Promise<void>;
}

export interface Notification {
  /** The audit event type that triggered it, e.g. `requested`, `active`, `expired`. */
  event: AuditEventType;
  view: RequestView;
}

export interface RecordEventOptions {
  /**
   * Tell the configured chat channels about the event once it is recorded, in the background (the
   * workflow no longer schedules a `notify` of its own: with no channel configured that was a task
   * for nothing).
   */
  notify?: boolean;
}

export interface ActivityDependencies {
  providers: ReadonlyMap<string, Provider>;
  requests: RequestEventSink;
  leases: GrantLeases;
  notifiers?: readonly Notifier[];
  /** Verifies the request service's signatures on what the workflow hands `provision`. */
  signing: MessageSigner;
  /** The policy in force now: `provision` grants only what its catalog entry grants. */
  policy: () => Policy;
}

export interface ProvisionResult {
  resourceKey: string;
  /** The user had this access before the request (granted outside the product): it is never removed. */
  standing: boolean;
  /** Read back as granted inside `provision` (ProvisionOptions.readBack): no verifyPropagation needed. */
  verified?: boolean;
}

export interface ProvisionOptions {
  /**
   * Read the grant back at once when the provider asks for one read and no settle delay, so the
   * workflow needs no verifyPropagation activity; anything else (or a read that fails or does not see
   * the grant yet) leaves `verified` unset, and the workflow verifies as before.
   */
  readBack?: boolean;
}

export interface RevokeOptions {
  /** Confirm the removal at once when the provider asks for one read and no settle delay (see ProvisionOptions). */
  confirm?: boolean;
}

export interface RevokeResult {
  /**
   * False when the access stays because another request or standing access still holds it, or when
   * the removal could not be confirmed (then `alert` is set).
   */
  removedAtProvider: boolean;
  reason: string;
  /** `removal_unconfirmed`: the principal recorded at grant time vanished or became ambiguous; someone must look. */
  alert?: typeof REMOVAL_UNCONFIRMED;
  /** What verifyRevocation would have answered, found inside `revoke` (RevokeOptions.confirm): no verifyRevocation needed. */
  confirmed?: VerifyRevocationResult;
}

/** The audit detail (and alert) for a removal the provider could not confirm. */
export const REMOVAL_UNCONFIRMED = 'removal_unconfirmed';

export interface VerifyRevocationResult {
  /** False when the provider could no longer tell the principal apart: the removal is unconfirmed. */
  confirmed: boolean;
  reason?: string;
  alert?: typeof REMOVAL_UNCONFIRMED;
}

/** Longest quiet stretch inside a polling activity: heartbeats must come more often than the heartbeat timeout. */
const HEARTBEAT_EVERY_MS = 5_000;
/** Read-backs showing the grant still present before verifyRevocation asks the provider to remove it again. */
const READS_BEFORE_REVOKING_AGAIN = 10;
/** The first wait between read-backs; it doubles up to the provider's poll interval. */
const FIRST_POLL_WAIT_MS = 100;

/** One read-back and no settle delay: the grant or removal step can check its own work. */
function checksInOneRead({ consecutiveReads, settleDelayMs }: Provider['propagation']): boolean {
  return consecutiveReads <= 1 && settleDelayMs <= 0;
}

/** Waits between read-backs: 100 ms, then doubling, never more than the provider's poll interval. */
function pollWaits(pollIntervalMs: number): () => number {
  let nextMs = Math.min(FIRST_POLL_WAIT_MS, pollIntervalMs);
  return () => {
    const waitMs = nextMs;
    nextMs = Math.min(nextMs * 2, pollIntervalMs);
    return waitMs;
  };
}

export function createActivities(dependencies: ActivityDependencies) {
  const { providers, requests, leases, notifiers = [], signing, policy } = dependencies;

  /**
   * The spec as the provider must see it: with the principal recorded with the lease, and nothing
   * else claiming to be one (the spec comes from the workflow's input, which is not trusted).
   */
  async function withRecordedPrincipal(spec: GrantSpec): Promise<GrantSpec> {
    const { recordedPrincipal: _untrusted, ...rest } = spec;
    const principal = await leases.recordedPrincipal(spec.requestId);
    // Grants recorded before principals were have none: the provider looks the email up, as it did then.
    return principal ? { ...rest, recordedPrincipal: principal } : rest;
  }

  /** Never rejects: a failed notifier is logged, and the others still hear of it. */
  async function notifyAll(notification: Notification): Promise<void> {
    const results = await Promise.allSettled(notifiers.map((notifier) => notifier.notify(notification)));
    results.forEach((result, index) => {
      if (result.status === 'rejected') {
        log.warn('Notifier failed', { notifier: notifiers[index]!.name, error: String(result.reason) });
      }
    });
  }

  /** provision's own read-back: whether the grant reads back now; a failed read is a no, not a failed grant. */
  async function readsGranted(spec: GrantSpec, provider: Provider, granted: GrantSpec, memo: StepMemo): Promise<boolean> {
    try {
      return await counted(spec, 'verifyPropagation', () => provider.isGranted(granted, memo));
    } catch (error) {
      log.info('Read-back after the grant failed; the workflow verifies it instead', { requestId: spec.requestId, error: String(error) });
      return false;
    }
  }

  /**
   * Whether the removed grant still reads back, or, when the principal can no longer be told apart
   * (only a grant recorded without one), the unconfirmed answer: the lease stays unconfirmed for the
   * reconciler to report.
   */
  async function readsGrantedAfterRemoval(spec: GrantSpec, provider: Provider, recorded: GrantSpec, memo?: StepMemo): Promise<boolean | VerifyRevocationResult> {
    try {
      return await counted(spec, 'verifyRevocation', () => provider.isGranted(recorded, memo));
    } catch (error) {
      if (!(error instanceof PrincipalUnconfirmedError)) throw error;
      countPrincipalAlert(spec.provider, 'verifyRevocation');
      log.warn('Removal unconfirmed: the principal can no longer be told apart', { requestId: spec.requestId, error: error.message });
      return { confirmed: false, reason: `removal unconfirmed: ${error.message}`, alert: REMOVAL_UNCONFIRMED };
    }
  }

  /** The removal is confirmed at the provider: so recorded, unless another request holds the access now. */
  async function removalConfirmed(spec: GrantSpec, provider: Provider, recorded: GrantSpec, memo?: StepMemo): Promise<VerifyRevocationResult> {
    const { heldBy } = await leases.confirmRemoved(spec.requestId);
    if (heldBy.length > 0) {
      log.info('Access is held by another request; keeping it granted', { requestId: spec.requestId, heldBy });
      await counted(spec, 'verifyRevocation', () => provider.grant(recorded, memo));
    }
    return { confirmed: true };
  }

  /**
   * revoke's own check, as verifyRevocation's first read: gone (confirmed), or unconfirmed. Undefined
   * (verifyRevocation polls) when it still reads back or the read failed: the removal itself is done.
   */
  async function confirmedInOneRead(spec: GrantSpec, provider: Provider, recorded: GrantSpec, memo: StepMemo): Promise<VerifyRevocationResult | undefined> {
    try {
      const granted = await readsGrantedAfterRemoval(spec, provider, recorded, memo);
      if (granted === true) return undefined;
      return granted === false ? await removalConfirmed(spec, provider, recorded, memo) : granted;
    } catch (error) {
      log.info('Read-back after the removal failed; the workflow verifies it instead', { requestId: spec.requestId, error: String(error) });
      return undefined;
    }
  }

  /**
   * provision's work (see there). The request's lease is read before the grant and again after it,
   * so an attempt that outlives its request (Temporal timed it out and retried it, the retry granted,
   * the request ended, and this one is still running) never leaves a grant behind.
   */
  async function provisionOnce(spec: GrantSpec, evidence?: GrantEvidence, options?: ProvisionOptions): Promise<ProvisionResult> {
    // A standalone activity (no workflow) has no request to stand for: the ids never match.
    const { workflowId = '', runId = '' } = Context.current().info.workflowExecution ?? {};
    const problem = grantAuthorityProblem({
      spec,
      evidence,
      workflowId,
      runId,
      grantedInRun: await leases.grantedInRun(spec.requestId),
      stored: await requests.get(spec.requestId),
      policy: policy(),
      signing,
    });
    if (problem) refuseUntrusted(spec, problem);
    const provider = providerFor(spec);
    // This attempt's calls confirm the recorded principal once between them (StepMemo).
    const memo = new StepMemo();
    return withProviderErrors(async () => {
      // A retry, a re-provision or an extension grants to the principal recorded the first time.
      const known = await withRecordedPrincipal(spec);
      const inspection = await counted(spec, 'provision', () => provider.inspect(known, memo));
      const { recordedPrincipal: _recorded, ...grantSpec } = known;
      const lease = await leases.acquire({
        requestId: spec.requestId,
        resourceKey: inspection.resourceKey,
        presentBefore: inspection.present,
        spec: grantSpec,
        principal: inspection.principal,
        ...(runId ? { runId } : {}),
      });
      // Another run recorded the lease since the check above (the two overlapped): still nothing granted.
      if (lease.runId !== undefined && lease.runId !== runId) refuseUntrusted(spec, anotherRunProblem(spec.requestId, lease.runId, runId));
      // Read again: an overlapping earlier attempt may have recorded the lease in between.
      const principal = known.recordedPrincipal ?? (await leases.recordedPrincipal(spec.requestId)) ?? inspection.principal;
      const granted = { ...grantSpec, recordedPrincipal: principal };
      if (lease.released) refuseEnded(spec, 'its hold on the access was released before this attempt granted');
      // A timed-out attempt learns it from its heartbeats: the retry that replaced it does the granting.
      if (Context.current().cancellationSignal.aborted) throw new CancelledFailure('Provision attempt cancelled before granting');
      await counted(spec, 'provision', () => provider.grant(granted, memo));
      // Ended while granting: the removal may have run before this grant landed, so undo it here (the
      // lease store decided, at release, whether anything is to be removed; a request that took the
      // same shared access since then holds it now).
      const ended = await leases.releaseOf(spec.requestId);
      if (ended) {
        if (ended.removeAtProvider && (await leases.otherHolders(spec.requestId)).length === 0) {
          await counted(spec, 'provision', () => provider.revoke(granted, memo));
        }
        refuseEnded(spec, 'it ended while this attempt was granting; the grant was removed again');
      }
      const verified = options?.readBack === true && checksInOneRead(provider.propagation) && (await readsGranted(spec, provider, granted, memo));
      return { resourceKey: inspection.resourceKey, standing: lease.standing, ...(verified ? { verified } : {}) };
    });
  }

  function providerFor(spec: GrantSpec): Provider {
    const provider = providers.get(spec.provider);
    if (!provider) {
      throw ApplicationFailure.nonRetryable(`No provider "${spec.provider}" is configured on this worker`, FAILURE.unknownProvider);
    }
    return provider;
  }

  return {
    /**
     * Appends the audit event and refreshes the request's row in the store, in one transaction. A run
     * of the workflow other than the first (terminated and started again, or reset) numbers its events
     * as the first did: those are not recorded, and are logged as an alert; its refusals are kept.
     */
    async recordEvent(event: AuditEvent, view: RequestView, options?: RecordEventOptions): Promise<void> {
      const runId = Context.current().info.workflowExecution?.runId;
      const refusal = event.type === 'untrusted_input';
      const recorded = refusal && runId ? { ...event, details: { ...event.details, runId } } : event;
      const outcome = await requests.recordEvent(recorded, view, { keepOnClash: refusal });
      if (outcome?.seqTakenBy) {
        log.warn('Audit event from another run of the request\'s workflow: its number is taken', {
          requestId: event.requestId,
          runId,
          event: event.type,
          seq: event.seq,
          seqTakenBy: outcome.seqTakenBy.type,
          ...(outcome.keptAs !== undefined ? { keptAs: outcome.keptAs } : {}),
        });
      }
      // After the write, so a retried activity observes once (a failed write is retried, a done one is not).
      observeRequestEvent(event, view);
      // Beside the request, never holding it up: a chat outage must not delay a state change. An event
      // another run already numbered was not recorded, so there is nothing to tell.
      if (options?.notify && !outcome?.seqTakenBy) {
        notifyAll({ event: event.type, view }).catch(() => undefined); // only its own logging could throw
      }
    },

    /**
     * Grants the access, once the evidence shows the product decided it (activities/grantAuthority.ts):
     * otherwise a non-retryable UntrustedInput before anything is touched. The lease is recorded before
     * the provider call, so a retry after a crash knows whether the access predates the request; the
     * provider call itself is idempotent. Only the run that first provisioned the request may provision
     * it again (retries, re-provisioning, backstop renewals all stay in that run; the workflow never
     * continues as new).
     */
    async provision(spec: GrantSpec, evidence?: GrantEvidence, options?: ProvisionOptions): Promise<ProvisionResult> {
      // Heartbeats while it waits on the provider (an account look-up can be slow): a live attempt is
      // not timed out and retried beside itself, and one that was learns it (cancellation) before granting.
      return withHeartbeats(() => provisionOnce(spec, evidence, options));
    },


    /**
     * Polls the provider (100 ms apart at first, backing off to the poll interval) until the grant
     * reads back several times in a row and the settle delay that covers the provider's own
     * propagation has passed since the first of those reads: the delay runs alongside the reads, not
     * after them. Bounded by `deadline` (absolute, so retries after a worker crash do not extend it):
     * past it, a non-retryable PropagationTimeout.
     */
    async verifyPropagation(spec: GrantSpec, deadline: string): Promise<void> {
      const provider = providerFor(spec);
      const recorded = await withRecordedPrincipal(spec);
      const { consecutiveReads, pollIntervalMs, settleDelayMs } = provider.propagation;
      const deadlineMs = Date.parse(deadline);
      const nextWait = pollWaits(pollIntervalMs);
      let readsInARow = 0;
      /** When the reads in a row began: the settle delay counts from there. */
      let firstReadAtMs = 0;
      for (;;) {
        if (Date.now() > deadlineMs) {
          throw ApplicationFailure.nonRetryable(
            `${spec.provider} did not report the ${spec.kind} ${spec.target} as granted before ${deadline}`,
            FAILURE.propagationTimeout,
          );
        }
        const readAtMs = Date.now();
        const granted = await withProviderErrors(() => counted(spec, 'verifyPropagation', () => provider.isGranted(recorded)));
        readsInARow = granted ? readsInARow + 1 : 0;
        if (readsInARow === 1) firstReadAtMs = readAtMs;
        Context.current().heartbeat({ readsInARow });
        if (readsInARow >= consecutiveReads) break;
        await sleepWithHeartbeats(nextWait());
      }
      const settleLeftMs = firstReadAtMs + settleDelayMs - Date.now();
      await sleepWithHeartbeats(Math.min(settleLeftMs, deadlineMs - Date.now()));
    },

    /**
     * Ends this request's hold on the access, and removes it at the provider unless something else
     * still holds it. Removes it from exactly the principal recorded at grant time. When that
     * principal vanished (or, for a grant recorded without one, the look-up is ambiguous) nothing is
     * removed and the result says so: an alert (metric, log, audit details), never a clean removal.
     */
    async revoke(spec: GrantSpec, options?: RevokeOptions): Promise<RevokeResult> {
      const release = await leases.release(spec.requestId);
      if (!release.removeAtProvider) return { removedAtProvider: false, reason: release.reason };
      const provider = providerFor(spec);
      const recorded = await withRecordedPrincipal(spec);
      // The removal and its check confirm the recorded principal once between them (StepMemo).
      const memo = new StepMemo();
      try {
        // Removal is retried whatever the error: giving up would leave a grant behind.
        await counted(spec, 'revoke', () => provider.revoke(recorded, memo));
      } catch (error) {
        if (!(error instanceof PrincipalUnconfirmedError)) throw error;
        countPrincipalAlert(spec.provider, 'revoke');
        log.warn('Removal unconfirmed: the principal the grant was made to cannot be confirmed', { requestId: spec.requestId, error: error.message });
        return { removedAtProvider: false, reason: `removal unconfirmed: ${error.message}`, alert: REMOVAL_UNCONFIRMED };
      }
      const confirmed = options?.confirm === true && checksInOneRead(provider.propagation) ? await confirmedInOneRead(spec, provider, recorded, memo) : undefined;
      return { removedAtProvider: true, reason: release.reason, ...(confirmed ? { confirmed } : {}) };
    },

    /**
     * Confirms at the provider that the grant is gone (several reads in a row, 100 ms apart at first,
     * backing off to the poll interval). If it keeps reading back, the removal is issued again: the
     * provider calls are idempotent. Retries until it is gone. A request that took the same shared
     * access meanwhile (same group membership, same attachment) owns it now: it is left in place, or
     * granted again if our removal undid that request's grant.
     */
    async verifyRevocation(spec: GrantSpec): Promise<VerifyRevocationResult> {
      const provider = providerFor(spec);
      const recorded = await withRecordedPrincipal(spec);
      const { consecutiveReads, pollIntervalMs } = provider.propagation;
      const nextWait = pollWaits(pollIntervalMs);
      let absentInARow = 0;
      let presentReads = 0;
      for (;;) {
        const granted = await readsGrantedAfterRemoval(spec, provider, recorded);
        if (typeof granted !== 'boolean') return granted;
        absentInARow = granted ? 0 : absentInARow + 1;
        Context.current().heartbeat({ absentInARow });
        if (absentInARow >= consecutiveReads) break;
        if (granted && (await leases.otherHolders(spec.requestId)).length > 0) break;
        if (granted && ++presentReads % READS_BEFORE_REVOKING_AGAIN === 0) {
          log.warn('Grant still present after revoke; removing it again', { requestId: spec.requestId });
          await counted(spec, 'verifyRevocation', () => provider.revoke(recorded));
        }
        await sleepWithHeartbeats(nextWait());
      }
      return removalConfirmed(spec, provider, recorded);
    },

    /**
     * Fans a state change out to every configured channel; does nothing when none is configured. Only
     * workflows from before NOTIFY_WHEN_RECORDED (workflows/accessRequest.ts) schedule it: since then
     * `recordEvent` notifies.
     */
    notify: notifyAll,
  };
}

export type AccessActivities = ReturnType<typeof createActivities>;

/** provision's answer to an attempt that outlived its request: nothing of it is left granted. */
function refuseEnded(spec: GrantSpec, why: string): never {
  log.warn('Refused to grant: the request has ended', { requestId: spec.requestId, why });
  throw ApplicationFailure.nonRetryable(`Request ${spec.requestId} has ended: ${why}`, FAILURE.requestEnded);
}

/** Runs `work` with a heartbeat every HEARTBEAT_EVERY_MS, so a long wait on a provider is not taken for a dead worker. */
async function withHeartbeats<T>(work: () => Promise<T>): Promise<T> {
  const context = Context.current();
  const timer = setInterval(() => context.heartbeat(), HEARTBEAT_EVERY_MS);
  try {
    return await work();
  } finally {
    clearInterval(timer);
  }
}

/** provision's refusal: nothing was granted, and retrying cannot change that. */
function refuseUntrusted(spec: GrantSpec, problem: string): never {
  log.warn('Refused to grant: untrusted input', { requestId: spec.requestId, problem });
  throw ApplicationFailure.nonRetryable(`Refused to grant: ${problem}`, FAILURE.untrustedInput);
}

/** Bad input from the provider becomes a non-retryable failure; everything else is retried by Temporal. */
async function withProviderErrors<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    if (error instanceof ProviderInputError) throw ApplicationFailure.nonRetryable(error.message, FAILURE.providerInput);
    throw error;
  }
}

/** A provider call, counted in p0_provider_errors_total when it throws; the error goes on unchanged. */
async function counted<T>(spec: GrantSpec, operation: ProviderOperation, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    countProviderError(spec.provider, operation, error);
    throw error;
  }
}

async function sleepWithHeartbeats(totalMs: number): Promise<void> {
  const context = Context.current();
  let remainingMs = totalMs;
  while (remainingMs > 0) {
    const stepMs = Math.min(remainingMs, HEARTBEAT_EVERY_MS);
    await context.sleep(stepMs);
    remainingMs -= stepMs;
    context.heartbeat();
  }
}
