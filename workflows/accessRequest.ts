/**
 * One access request, from "pending" to its end. Deterministic and small: all I/O happens in
 * activities; the policy was applied by the request service before the workflow started (approvers,
 * quorum, auto-approval, break-glass, bounds), so this function only enforces what was decided. Its
 * input and updates can come from anyone who reaches the namespace, so updates must be signed and
 * `provision` grants only what the request service signed and the current policy offers.
 *
 *   pending -> approved -> provisioning -> active -> expired | relinquished | revoked
 *   pending -> denied | cancelled | timed_out
 *   approved | provisioning -> revoked (never active: nothing granted, or the grant removed at once)
 *   provisioning -> failed (the grant is removed first; untrusted input: nothing was granted)
 */
import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  allHandlersFinished,
  condition,
  isCancellation,
  patched,
  proxyActivities,
  proxyLocalActivities,
  setHandler,
} from '@temporalio/workflow';
import type * as activityModule from '../activities';
import type { ExtensionEvidence, GrantEvidence } from '../activities/grantAuthority';
import type { GrantSpec } from '../providers/provider';
import {
  REJECTION,
  approveUpdate,
  cancelUpdate,
  denyUpdate,
  extendUpdate,
  relinquishUpdate,
  reprovisionSignal,
  reviewUpdate,
  revokeUpdate,
  statusQuery,
  REQUEST_SUBJECT,
  type ActorInput,
  type DecisionInput,
  type ExtendInput,
  type RejectionType,
} from './messages';
import { BREAK_GLASS_REVIEW_WINDOW_DAYS, grantedSeconds, initialView, type AccessRequestInput } from './types';
import type { AuditEventType } from '../shared/events';
import { failureMessage } from '../shared/errors';
import { FAILURE } from '../shared/failures';
import { FINAL_STATUSES, type Decision, type RequestStatus, type RequestView } from '../shared/request';

type Activities = activityModule.AccessActivities;

const SYSTEM_ACTOR = 'p0';
/** How long relinquish/revoke callers wait for the removal to be confirmed before getting the current view. */
const END_ANSWER_WAIT = '30 seconds';
/**
 * Requests from before this change completed without waiting for notifications sent by an update
 * handler that ended the request (deny, cancel): those were scheduled and never ran.
 */
const AWAIT_HANDLER_NOTIFICATIONS = 'await-handler-notifications';
/**
 * An update that arrives together with the start (approve a moment after requesting) runs before the
 * workflow body, so its audit event came before `requested`. From this change it waits for it.
 */
const RECORD_REQUESTED_FIRST = 'record-requested-first';
/**
 * Approve, deny and cancel used to change the request after an await, so every update delivered in
 * one workflow task passed its validator before any of them took effect: one approver approving six
 * times at once met a quorum of two. From this change each decision is checked again and applied in
 * the handler's first synchronous turn, and the quorum counts distinct approvers.
 */
const DECIDE_SYNCHRONOUSLY = 'decide-synchronously';
/** The subject of an extension asked for before extensions had ids. */
const LEGACY_EXTENSION_SUBJECT = 'extension';
/**
 * Anyone who reaches the namespace can start this workflow or send it updates. From this change
 * `provision` is handed the signed input and the signed approvals and grants nothing they do not
 * back; a refusal is recorded as `untrusted_input` and the request fails with nothing granted.
 */
const VERIFIED_GRANTS = 'verified-grants';
/**
 * A revoke accepted while the request was approved or provisioning used to be acted on only once
 * access was active: the grant was made (even when the revoke came before provisioning began),
 * verified, and announced `active`, then removed. From this change a revoke before provisioning
 * grants nothing, and one during provisioning removes the grant as soon as it is made, cancelling
 * its verification: the request never passes through `active`.
 */
const END_BEFORE_ACTIVE = 'end-before-active';
/**
 * Every state change used to schedule a `notify` activity beside its `recordEvent`: a third of a
 * lifecycle's tasks, for nothing on a worker with no chat channel. From this change `recordEvent`
 * tells the worker's channels itself, once the event is written (the worker knows which it has).
 */
const NOTIFY_WHEN_RECORDED = 'notify-when-recorded';
/**
 * Each audit record was an activity on the task queue: three events, and a workflow task to hear it
 * finished. From this change it is a local activity (one marker, in the workflow task that asked
 * for it), one at a time in the order they were asked for: concurrent local activities resolve in
 * the order they finished, but replay resolves them in the order they were scheduled, and with
 * Update handlers recording beside the main body that reorders the commands that follow.
 */
const RECORD_LOCALLY = 'record-locally';
/**
 * The grant was read back by a verifyPropagation activity, and a removal confirmed by a
 * verifyRevocation one, even when the provider asks for one read and no settle delay. From this
 * change `provision` and `revoke` are asked to check their own work then, and the workflow runs the
 * separate check only when they could not.
 */
const CHECK_IN_STEP = 'check-in-step';
/** Break-glass requests stay open this long after access ends, for the approvers' review. */
const BREAK_GLASS_REVIEW_WINDOW = `${BREAK_GLASS_REVIEW_WINDOW_DAYS} days`;

/** Writes to our own database: retried until they succeed, so the audit trail has no gaps. */
const { recordEvent } = proxyActivities<Activities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds' },
});

/**
 * The same write in the worker that runs the workflow (RECORD_LOCALLY). Never used with a worker
 * whose `maxCachedWorkflows` is 0: the SDK drops local activities there.
 */
const { recordEvent: recordEventLocally } = proxyLocalActivities<Activities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds' },
});

/** Best effort: a chat outage must never hold up or fail an access request. */
const { notify } = proxyActivities<Activities>({
  startToCloseTimeout: '30 seconds',
  retry: { maximumAttempts: 3 },
});

/** Removal is retried until it succeeds: no grant may outlive its request. */
const { revoke, verifyRevocation } = proxyActivities<Activities>({
  startToCloseTimeout: '2 minutes',
  heartbeatTimeout: '30 seconds',
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds' },
});

export async function accessRequest(input: AccessRequestInput): Promise<RequestView> {
  const view: RequestView = initialView(input);
  /** What is granted, once provisioning has started (so cancellation knows what to remove). */
  let spec: GrantSpec | undefined;
  /** Set by relinquish/revoke (or cancellation) while the grant is being provisioned or is active. */
  let endRequested: { status: 'relinquished' | 'revoked'; by: string; comment?: string } | undefined;
  /** Reconcile runs that found the active grant missing at the provider, not yet acted on. */
  const reprovisionRequestedBy: string[] = [];
  /**
   * The audit record of the update that decided the request (approved, denied, cancelled). The
   * decision itself is applied synchronously; provisioning waits for its record so the trail keeps
   * its order (requested, approved, provisioning) even when the decision came with the start.
   */
  let decisionRecorded: Promise<void> | undefined;
  /**
   * The approve updates accepted for the request, exactly as received (signature included): the
   * evidence `provision` checks. Kept out of the view: users never see signatures.
   */
  const signedApprovals: ActorInput[] = [];
  /** Likewise for each extension that moved the expiry: its signed extend and approves, in order. */
  const appliedExtensionEvidence: ExtensionEvidence[] = [];
  /** The pending extension's signed messages, until it applies or is denied. */
  let pendingExtensionEvidence: ExtensionEvidence | undefined;

  /** Bounded by the verify timeout, so provisioning cannot run past it. */
  const { provision, verifyPropagation } = proxyActivities<Activities>({
    scheduleToCloseTimeout: input.verifyTimeoutSeconds * 1000,
    startToCloseTimeout: input.verifyTimeoutSeconds * 1000,
    heartbeatTimeout: '30 seconds',
    retry: {
      initialInterval: '1 second',
      maximumInterval: '30 seconds',
      nonRetryableErrorTypes: [FAILURE.providerInput, FAILURE.propagationTimeout, FAILURE.unknownProvider, FAILURE.untrustedInput],
    },
  });

  const isFinal = () => FINAL_STATUSES.includes(view.status);
  /**
   * Notifications run beside the workflow (never holding up a state change); awaited before it returns.
   * Only before NOTIFY_WHEN_RECORDED: since then `recordEvent` notifies.
   */
  const notifications: Promise<unknown>[] = [];

  /** The last audit write asked for (RECORD_LOCALLY): the next one starts when it has settled. */
  let auditWrites: Promise<unknown> = Promise.resolve();

  /** Every state change goes through here: one audit event, numbered, plus the refreshed view. */
  async function record(type: AuditEventType, actor: string, details?: Record<string, unknown>): Promise<void> {
    view.version += 1;
    const event = { requestId: view.id, seq: view.version, type, actor, at: nowIso(), details };
    if (patched(RECORD_LOCALLY)) {
      const snapshot = { ...view };
      const written = auditWrites.then(() => recordEventLocally(event, snapshot, { notify: true }));
      auditWrites = written.catch(() => undefined);
      return written;
    }
    if (patched(NOTIFY_WHEN_RECORDED)) return recordEvent(event, { ...view }, { notify: true });
    await recordEvent(event, { ...view });
    // Best effort: a failed notification never fails the request.
    notifications.push(notify({ event: type, view: { ...view } }).catch(() => undefined));
  }

  /** Handlers that record at once call this first: `requested` is always event 1. */
  async function afterRequestedIsRecorded(): Promise<void> {
    if (view.version === 0 && patched(RECORD_REQUESTED_FIRST)) await condition(() => view.version > 0);
  }

  function reject(type: RejectionType, message: string): never {
    throw ApplicationFailure.create({ type, message, nonRetryable: true });
  }

  /**
   * Every update must come from the request service, which signs it. The key never enters workflow
   * code, so only its presence is checked here; `provision` verifies it before anything is granted.
   */
  function requireSigned(message: ActorInput): void {
    if (typeof message?.signature !== 'string' || message.signature === '') {
      reject(REJECTION.unsigned, 'This update was not sent by the request service (it is not signed): use the p0 API, CLI or chat app');
    }
  }

  function requireStatus(allowed: readonly RequestStatus[], action: string): void {
    if (allowed.includes(view.status)) return;
    const decidedBy = view.decision ? ` by ${view.decision.by}` : '';
    reject(REJECTION.wrongState, `Cannot ${action}: the request is already ${view.status.replace('_', ' ')}${decidedBy}`);
  }

  /** The quorum rules, for the request itself and for an extension alike. */
  function requireApprover(actor: string, approvals: readonly Decision[]): void {
    if (actor === view.requester && !input.allowSelfApproval) reject(REJECTION.selfApproval, 'You cannot approve your own request');
    if (!view.approvers.includes(actor)) reject(REJECTION.notApprover, `${actor} is not an approver for this request`);
    if (approvals.some((approval) => approval.by === actor)) reject(REJECTION.alreadyApproved, `${actor} has already approved this`);
  }

  /** A quorum is that many different people: the same approver twice is one approval. */
  function quorumMet(approvals: readonly Decision[]): boolean {
    return new Set(approvals.map((approval) => approval.by)).size >= view.approvalsRequired;
  }

  /** What waits for a decision now: a pending extension of active access (by id), else the request. */
  function currentSubject(): string {
    return view.status === 'active' && view.pendingExtension ? (view.pendingExtension.id ?? LEGACY_EXTENSION_SUBJECT) : REQUEST_SUBJECT;
  }

  /** An approve or deny decides only what its sender saw: see DecisionInput. */
  function requireSubject(subject: string | undefined, action: string): void {
    const named = subject ?? REQUEST_SUBJECT;
    const current = currentSubject();
    if (named === current) return;
    const pending = view.pendingExtension;
    if (current !== REQUEST_SUBJECT && pending) {
      const what = named === REQUEST_SUBJECT ? 'the request' : `extension ${named}`;
      reject(
        REJECTION.staleDecision,
        `This ${action}s ${what}, but the request is ${view.status} and now asks for an extension of ${pending.duration} (${current}): ${action} that extension by its id`,
      );
    }
    reject(REJECTION.staleDecision, `Extension ${named} is no longer waiting for a decision`);
  }

  /** Which approval an approve is for: the pending extension of active access, or the request itself. */
  function requireApprovable({ actor, subject }: DecisionInput): Decision[] {
    if (view.status === 'active' && view.pendingExtension) {
      requireSubject(subject, 'approve');
      requireApprover(actor, view.pendingExtension.approvals);
      return view.pendingExtension.approvals;
    }
    requireStatus(['pending'], 'approve');
    requireSubject(subject, 'approve');
    requireApprover(actor, view.approvals);
    return view.approvals;
  }

  function requireDeniable({ actor, subject }: DecisionInput): void {
    if (!(view.status === 'active' && view.pendingExtension)) requireStatus(['pending'], 'deny');
    requireSubject(subject, 'deny');
    if (!view.approvers.includes(actor)) reject(REJECTION.notApprover, `${actor} is not an approver for this request`);
  }

  function requireCancellable(actor: string): void {
    if (actor !== view.requester) reject(REJECTION.notRequester, 'Only the requester can cancel this request');
    // An approved request can still be withdrawn while it waits for its scheduled start.
    requireStatus(['pending', 'approved'], 'cancel');
  }

  /**
   * Records a decision made synchronously by an update handler. Waits for `requested` first; when
   * the decision ends the wait for approval, provisioning waits for this record.
   */
  function recordDecision(decides: boolean, type: AuditEventType, actor: string, details: Record<string, unknown>): Promise<void> {
    const recorded = (async () => {
      await afterRequestedIsRecorded();
      await record(type, actor, details);
    })();
    if (decides) decisionRecorded = recorded;
    return recorded;
  }

  /**
   * Ends a pending (or approved, not yet started) request by a person's decision: deny or cancel.
   * `synchronous`: decided in the handler's first turn (DECIDE_SYNCHRONOUSLY), so provisioning waits
   * for this record; histories from before recorded it plainly.
   */
  function decideEnd(status: 'denied' | 'cancelled', actor: string, comment: string | undefined, synchronous: boolean): Promise<void> {
    view.status = status;
    view.decision = { by: actor, comment, at: nowIso() };
    view.endedAt = view.decision.at;
    return synchronous ? recordDecision(true, status, actor, { comment }) : record(status, actor, { comment });
  }

  /** `evidence`: the signed messages that made the extension, for the backstop renewal's check. */
  function extendExpiry(durationSeconds: number, duration: string, approvedBy: string[], evidence: ExtensionEvidence | undefined): void {
    const newExpiresAt = new Date(Date.parse(view.expiresAt!) + durationSeconds * 1000).toISOString();
    view.extensions.push({ duration, durationSeconds, approvedBy, at: nowIso(), newExpiresAt });
    view.expiresAt = newExpiresAt;
    view.pendingExtension = undefined;
    if (evidence) appliedExtensionEvidence.push(evidence);
    pendingExtensionEvidence = undefined;
  }

  // Handlers first, before any await, so no message is lost.
  setHandler(statusQuery, () => view);

  setHandler(reprovisionSignal, ({ by }) => {
    // Only an active grant that is not being ended is granted again; anything else ignores it.
    if (view.status === 'active' && !endRequested) reprovisionRequestedBy.push(by);
  });

  setHandler(
    approveUpdate,
    async (decision: DecisionInput) => {
      const { actor, comment } = decision;
      if (patched(DECIDE_SYNCHRONOUSLY)) {
        // Checked again and applied before the first await: see DECIDE_SYNCHRONOUSLY.
        const approvals = requireApprovable(decision);
        approvals.push({ by: actor, comment, at: nowIso() });
        const pending = view.pendingExtension;
        if (pending && approvals === pending.approvals) {
          pendingExtensionEvidence?.approvals.push(decision);
          if (!quorumMet(approvals)) {
            await recordDecision(false, 'extension_approval', actor, { comment });
          } else {
            extendExpiry(pending.durationSeconds, pending.duration, approvals.map((entry) => entry.by), pendingExtensionEvidence);
            await recordDecision(false, 'extended', actor, { comment, duration: pending.duration, expiresAt: view.expiresAt });
          }
          return view;
        }
        signedApprovals.push(decision);
        const approved = quorumMet(approvals);
        if (approved) view.status = 'approved';
        await recordDecision(approved, approved ? 'approved' : 'approval', actor, { comment });
        return view;
      }
      await afterRequestedIsRecorded();
      const approval = { by: actor, comment, at: nowIso() };
      const pending = view.pendingExtension;
      if (view.status === 'active' && pending) {
        pending.approvals.push(approval);
        pendingExtensionEvidence?.approvals.push(decision);
        if (pending.approvals.length < view.approvalsRequired) {
          await record('extension_approval', actor, { comment });
        } else {
          extendExpiry(pending.durationSeconds, pending.duration, pending.approvals.map((entry) => entry.by), pendingExtensionEvidence);
          await record('extended', actor, { comment, duration: pending.duration, expiresAt: view.expiresAt });
        }
        return view;
      }
      view.approvals.push(approval);
      signedApprovals.push(decision);
      const approved = view.approvals.length >= view.approvalsRequired;
      if (approved) view.status = 'approved';
      await record(approved ? 'approved' : 'approval', actor, { comment });
      return view;
    },
    {
      validator: (decision: DecisionInput) => {
        requireSigned(decision);
        requireApprovable(decision);
      },
    },
  );

  setHandler(
    denyUpdate,
    async (decision: DecisionInput) => {
      const { actor, comment } = decision;
      // Checked again and applied before the first await: see DECIDE_SYNCHRONOUSLY.
      const synchronous = patched(DECIDE_SYNCHRONOUSLY);
      if (synchronous) requireDeniable(decision);
      else await afterRequestedIsRecorded();
      if (view.status === 'active' && view.pendingExtension) {
        const details = { comment, duration: view.pendingExtension.duration };
        view.pendingExtension = undefined;
        pendingExtensionEvidence = undefined;
        await (synchronous ? recordDecision(false, 'extension_denied', actor, details) : record('extension_denied', actor, details));
        return view;
      }
      await decideEnd('denied', actor, comment, synchronous);
      return view;
    },
    {
      validator: (decision: DecisionInput) => {
        requireSigned(decision);
        requireDeniable(decision);
      },
    },
  );

  setHandler(
    cancelUpdate,
    async ({ actor, comment }: ActorInput) => {
      // Checked again and applied before the first await: see DECIDE_SYNCHRONOUSLY.
      const synchronous = patched(DECIDE_SYNCHRONOUSLY);
      if (synchronous) requireCancellable(actor);
      else await afterRequestedIsRecorded();
      await decideEnd('cancelled', actor, comment, synchronous);
      return view;
    },
    {
      validator: (message: ActorInput) => {
        requireSigned(message);
        requireCancellable(message.actor);
      },
    },
  );

  setHandler(
    relinquishUpdate,
    async ({ actor, comment }: ActorInput) => {
      endRequested ??= { status: 'relinquished', by: actor, comment };
      await condition(isFinal, END_ANSWER_WAIT);
      return view;
    },
    {
      validator: (message: ActorInput) => {
        requireSigned(message);
        if (message.actor !== view.requester) reject(REJECTION.notRequester, 'Only the requester can relinquish this access');
        requireStatus(['active'], 'relinquish');
        if (endRequested) reject(REJECTION.wrongState, `Access is already being ended (${endRequested.status})`);
      },
    },
  );

  setHandler(
    revokeUpdate,
    async ({ actor, comment }: ActorInput) => {
      endRequested ??= { status: 'revoked', by: actor, comment };
      await condition(isFinal, END_ANSWER_WAIT);
      return view;
    },
    {
      validator: (message: ActorInput) => {
        requireSigned(message);
        requireStatus(['approved', 'provisioning', 'active'], 'revoke');
        if (endRequested) reject(REJECTION.wrongState, `Access is already being ended (${endRequested.status})`);
      },
    },
  );

  setHandler(
    extendUpdate,
    async (message: ExtendInput) => {
      const { actor, comment, duration, durationSeconds, autoApprovedBy } = message;
      if (autoApprovedBy) {
        extendExpiry(durationSeconds, duration, [`policy:${autoApprovedBy}`], { request: message, approvals: [] });
        await record('extended', `policy:${autoApprovedBy}`, { comment, duration, rule: autoApprovedBy, expiresAt: view.expiresAt });
      } else {
        // Named after the event that records it, so approvers' buttons can say which extension they decide.
        view.pendingExtension = { id: `ext-${view.version + 1}`, duration, durationSeconds, requestedAt: nowIso(), comment, approvals: [] };
        pendingExtensionEvidence = { id: view.pendingExtension.id, request: message, approvals: [] };
        await record('extension_requested', actor, { comment, duration });
      }
      return view;
    },
    {
      validator: (message: ExtendInput) => {
        requireSigned(message);
        const { actor, durationSeconds } = message;
        if (actor !== view.requester) reject(REJECTION.notRequester, 'Only the requester can extend this access');
        requireStatus(['active'], 'extend');
        if (endRequested) reject(REJECTION.wrongState, `Access is already being ended (${endRequested.status})`);
        if (!input.extension.allowed) reject(REJECTION.notAllowed, 'This access cannot be extended');
        if (view.pendingExtension) reject(REJECTION.wrongState, `An extension of ${view.pendingExtension.duration} is already waiting for approval`);
        if (durationSeconds < input.extension.minSeconds || durationSeconds > input.extension.maxSeconds) {
          reject(REJECTION.notAllowed, `An extension must be between ${input.extension.minSeconds}s and ${input.extension.maxSeconds}s`);
        }
        // Each extension within its bounds is not enough: auto-approved ones would add up without end.
        if (input.maxLifetimeSeconds !== undefined && grantedSeconds(view) + durationSeconds > input.maxLifetimeSeconds) {
          const leftSeconds = Math.max(0, input.maxLifetimeSeconds - grantedSeconds(view));
          reject(REJECTION.notAllowed, `An extension of ${durationSeconds}s would take this access past its maximum lifetime of ${input.maxLifetimeSeconds}s (${leftSeconds}s left)`);
        }
      },
    },
  );

  setHandler(
    reviewUpdate,
    async ({ actor, comment }: ActorInput) => {
      view.review = { by: actor, comment, at: nowIso() };
      await record('reviewed', actor, { comment });
      return view;
    },
    {
      validator: (message: ActorInput) => {
        requireSigned(message);
        const { actor } = message;
        if (!view.breakGlass) reject(REJECTION.wrongState, 'Only break-glass requests are reviewed after the fact');
        if (view.review) reject(REJECTION.wrongState, `Already reviewed by ${view.review.by}`);
        if (actor === view.requester) reject(REJECTION.selfApproval, 'You cannot review your own break-glass access');
        if (!view.approvers.includes(actor)) reject(REJECTION.notApprover, `${actor} is not an approver for this request`);
      },
    },
  );

  await record('requested', input.requester, { reason: input.reason, duration: input.duration, policyVersion: input.policyVersion });
  if (input.breakGlass) {
    view.status = 'approved';
    await record('break_glass', input.requester, {
      warning: 'BREAK-GLASS: access granted without approval; approvers must review it',
      approvers: view.approvers,
    });
  } else if (input.autoApprovedBy) {
    const by = `policy:${input.autoApprovedBy}`;
    view.approvals.push({ by, comment: `auto-approved by rule ${input.autoApprovedBy}`, at: nowIso() });
    view.status = 'approved';
    await record('approved', by, { rule: input.autoApprovedBy });
  }

  try {
    await run();
  } catch (error) {
    // Cancelling the workflow (e.g. `temporal workflow cancel`) ends access like an admin revoke.
    if (!isCancellation(error) || isFinal()) throw error;
    endRequested ??= { status: 'revoked', by: SYSTEM_ACTOR, comment: 'workflow cancelled' };
    await CancellationScope.nonCancellable(() => endAccess(view.status === 'pending' ? 'cancelled' : endRequested!.status));
  }
  if (input.breakGlass && !view.review) {
    // Access has ended; the request stays open (durably) until an approver reviews it.
    const reviewed = await condition(() => view.review !== undefined, BREAK_GLASS_REVIEW_WINDOW);
    if (!reviewed) await record('review_overdue', SYSTEM_ACTOR, { reviewWindow: BREAK_GLASS_REVIEW_WINDOW });
  }
  await Promise.all(notifications);
  await condition(allHandlersFinished);
  // A handler that ended the request (deny, cancel) notified after the wait above began.
  if (patched(AWAIT_HANDLER_NOTIFICATIONS)) await Promise.all(notifications);
  return view;

  async function run(): Promise<void> {
    const decided = await condition(() => view.status !== 'pending', input.approvalTimeoutSeconds * 1000);
    if (!decided) {
      view.status = 'timed_out';
      view.endedAt = nowIso();
      await record('timed_out', SYSTEM_ACTOR, { approvalTimeoutSeconds: input.approvalTimeoutSeconds });
      return;
    }
    // The deciding update's record comes first in the trail (it may have come with the start).
    if (decisionRecorded) await decisionRecorded;
    if (view.status !== 'approved') return; // denied or cancelled: the handler recorded it.

    if (input.startAt && Date.parse(input.startAt) > Date.now()) {
      await record('scheduled', SYSTEM_ACTOR, { startAt: input.startAt });
      await condition(() => view.status !== 'approved' || endRequested !== undefined, Date.parse(input.startAt) - Date.now());
      if (view.status !== 'approved') return; // cancelled while waiting
      if (endRequested) return endAccess(endRequested.status); // revoked before it started: nothing granted
    }
    // Revoked while approved, before provisioning began: nothing granted.
    if (endsBeforeActive()) return endAccess(endRequested!.status);

    view.status = 'provisioning';
    await record('provisioning', SYSTEM_ACTOR);
    const provisioningStartedAtMs = Date.now();
    // The provider-side backstop covers the longest the access could legitimately last.
    spec = grantSpec(input, provisioningStartedAtMs + (input.verifyTimeoutSeconds + input.durationSeconds) * 1000);
    // One bound for provisioning and verification together, fixed now so retries cannot extend it.
    const verifyDeadline = new Date(provisioningStartedAtMs + input.verifyTimeoutSeconds * 1000).toISOString();
    try {
      const checkedInStep = patched(CHECK_IN_STEP);
      const grant = await provisionWithEvidence(spec, checkedInStep ? { readBack: true } : undefined);
      await record('granted', SYSTEM_ACTOR, { resourceKey: grant.resourceKey, standing: grant.standing });
      if (!(checkedInStep && grant.verified)) await verifyUnlessEnded(spec, verifyDeadline);
    } catch (error) {
      if (isCancellation(error)) throw error;
      const message = failureMessage(error);
      if (isUntrusted(error)) {
        // Refused before anything was touched: there is nothing to remove, and a removal keyed by an
        // unverified spec could take away what another request (or the user's standing access) holds.
        await record('untrusted_input', SYSTEM_ACTOR, { problem: message });
        view.status = 'failed';
        view.error = message;
        view.endedAt = nowIso();
        await record('failed', SYSTEM_ACTOR, { error: message, removedAtProvider: false, removal: 'nothing was granted' });
        return;
      }
      // Nothing may stay granted when provisioning fails: compensate, and confirm it is gone.
      const grantedSpec = spec;
      const removal = await CancellationScope.nonCancellable(() => removeGrant(grantedSpec));
      view.status = 'failed';
      view.error = message;
      view.endedAt = nowIso();
      await record('failed', SYSTEM_ACTOR, { error: message, ...removal });
      return;
    }

    // Revoked while provisioning: the grant goes at once, and access was never active.
    if (endsBeforeActive()) return CancellationScope.nonCancellable(() => endAccess(endRequested!.status));

    // The access clock starts now that the grant is verified usable.
    const activeAtMs = Date.now();
    view.status = 'active';
    view.activeAt = new Date(activeAtMs).toISOString();
    view.expiresAt = new Date(activeAtMs + input.durationSeconds * 1000).toISOString();
    await record('active', SYSTEM_ACTOR, { expiresAt: view.expiresAt });

    // The durable timer races relinquish/revoke and extensions; a server restart does not reset it.
    for (;;) {
      const expiresAt: string = view.expiresAt;
      const extensionsBefore = view.extensions.length;
      const extensionEvidenceBefore = appliedExtensionEvidence.length;
      const interrupted = await condition(
        () => endRequested !== undefined || view.expiresAt !== expiresAt || reprovisionRequestedBy.length > 0,
        Math.max(0, Date.parse(expiresAt) - Date.now()),
      );
      if (!interrupted || endRequested) break;
      if (reprovisionRequestedBy.length > 0) {
        // The reconciler found the grant gone while the request is active: put it back (idempotent).
        const by = reprovisionRequestedBy.splice(0).join(', ');
        try {
          await provisionWithEvidence(spec);
          await record('reprovisioned', SYSTEM_ACTOR, { by });
        } catch (error) {
          if (isCancellation(error)) throw error;
          if (isUntrusted(error)) await record('untrusted_input', SYSTEM_ACTOR, { problem: failureMessage(error) });
          await record('reprovision_failed', SYSTEM_ACTOR, { by, error: failureMessage(error) });
        }
        if (view.expiresAt === expiresAt) continue;
      }
      // Extended: move the provider's own backstop past the new end (granting again is idempotent).
      const grantedSpec: GrantSpec = spec;
      spec = { ...grantedSpec, notAfter: new Date(Date.parse(view.expiresAt) + input.verifyTimeoutSeconds * 1000).toISOString() };
      try {
        await provisionWithEvidence(spec);
      } catch (error) {
        if (isCancellation(error)) throw error;
        if (isUntrusted(error)) {
          // Not backed by the request service's signed messages (sent to Temporal directly, or a copy of
          // an old one): the extension does not apply, and access ends when it would have without it.
          spec = grantedSpec;
          view.expiresAt = expiresAt;
          view.extensions.splice(extensionsBefore);
          appliedExtensionEvidence.splice(extensionEvidenceBefore);
          await record('untrusted_input', SYSTEM_ACTOR, { problem: failureMessage(error), expiresAt });
          continue;
        }
        // The grant may end at the old backstop, earlier than promised: never later. Say so.
        await record('backstop_not_renewed', SYSTEM_ACTOR, { error: failureMessage(error) });
      }
    }
    await CancellationScope.nonCancellable(() => endAccess(endRequested?.status ?? 'expired'));
  }

  /** Whether a revoke that came before access was active ends the request there (END_BEFORE_ACTIVE). */
  function endsBeforeActive(): boolean {
    return endRequested !== undefined && patched(END_BEFORE_ACTIVE);
  }

  /**
   * Waits until the grant is verified usable. A revoke meanwhile ends the wait and cancels the check
   * (the grant is removed next, so whether it propagated no longer matters); before END_BEFORE_ACTIVE
   * the workflow waited for the verification whatever came.
   */
  async function verifyUnlessEnded(grant: GrantSpec, deadline: string): Promise<void> {
    if (endsBeforeActive()) return;
    const verification = new CancellationScope();
    const verified = verification.run(() => verifyPropagation(grant, deadline));
    let settled = false;
    verified.then(
      () => (settled = true),
      () => (settled = true),
    );
    await condition(() => settled || endRequested !== undefined);
    if (settled || !endsBeforeActive()) return verified;
    verification.cancel();
    // Its cancellation is the expected end, and no other outcome matters now: the grant is removed next.
    await verified.catch(() => undefined);
  }

  /**
   * Every grant (first, reprovisioned, backstop renewed) goes through `provision` with what backs it:
   * the signed input and the signed approvals, as received. Histories from before call it without.
   */
  function provisionWithEvidence(grant: GrantSpec, options?: activityModule.ProvisionOptions): Promise<activityModule.ProvisionResult> {
    if (!patched(VERIFIED_GRANTS)) return provision(grant);
    const evidence: GrantEvidence = { input, approvals: [...signedApprovals], activeAt: view.activeAt, extensions: [...appliedExtensionEvidence] };
    return options ? provision(grant, evidence, options) : provision(grant, evidence);
  }

  /** Removes whatever was granted (if anything), then records how the request ended. */
  async function endAccess(status: 'expired' | 'relinquished' | 'revoked' | 'cancelled'): Promise<void> {
    const removal = spec ? await removeGrant(spec) : {};
    view.status = status;
    view.endedAt = nowIso();
    view.pendingExtension = undefined;
    if (endRequested) view.decision = { by: endRequested.by, comment: endRequested.comment, at: view.endedAt };
    await record(status, endRequested?.by ?? SYSTEM_ACTOR, { comment: endRequested?.comment, ...removal });
  }

  /**
   * The end event's details say how the removal went; `alert: 'removal_unconfirmed'` when the
   * principal the grant was made to could not be confirmed at the removal or at its verification
   * (someone must look). Only the recorded details change, not the commands, so old histories
   * replay unchanged (their verifyRevocation results are empty: confirmed).
   */
  async function removeGrant(spec: GrantSpec): Promise<{ removedAtProvider: boolean; removal: string; alert?: string }> {
    const checkedInStep = patched(CHECK_IN_STEP);
    const result = await (checkedInStep ? revoke(spec, { confirm: true }) : revoke(spec));
    if (!result.removedAtProvider) return { removedAtProvider: false, removal: result.reason, ...(result.alert ? { alert: result.alert } : {}) };
    const verified = (checkedInStep ? result.confirmed : undefined) ?? (await verifyRevocation(spec));
    if (verified && !verified.confirmed) return { removedAtProvider: false, removal: verified.reason ?? result.reason, ...(verified.alert ? { alert: verified.alert } : {}) };
    return { removedAtProvider: true, removal: result.reason };
  }
}

function grantSpec(input: AccessRequestInput, notAfterMs: number): GrantSpec {
  return {
    requestId: input.id,
    provider: input.provider,
    resource: input.resource,
    // Histories recorded before scopes existed carry none.
    scope: input.scope ?? {},
    kind: input.kind,
    target: input.target,
    principal: input.requester,
    notAfter: new Date(notAfterMs).toISOString(),
  };
}

/** provision refused the grant: the input or approvals are not the product's own (see VERIFIED_GRANTS). */
function isUntrusted(error: unknown): boolean {
  return error instanceof ActivityFailure && error.cause instanceof ApplicationFailure && error.cause.type === FAILURE.untrustedInput;
}

function nowIso(): string {
  return new Date(Date.now()).toISOString();
}
