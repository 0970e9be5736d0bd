/**
 * The request's shape as every caller sees it. Imported by the workflow (so it holds only plain
 * data), the activities, the store, the request service and the API.
 */

export const REQUEST_STATUSES = [
  'pending',
  'approved',
  'provisioning',
  'active',
  'expired',
  'relinquished',
  'revoked',
  'denied',
  'cancelled',
  'timed_out',
  'failed',
] as const;
export type RequestStatus = (typeof REQUEST_STATUSES)[number];

/** States after which nothing more happens to the request. */
export const FINAL_STATUSES: readonly RequestStatus[] = [
  'expired',
  'relinquished',
  'revoked',
  'denied',
  'cancelled',
  'timed_out',
  'failed',
];

export interface Approval {
  by: string;
  comment?: string;
  at: string;
}

export interface Decision {
  by: string;
  comment?: string;
  at: string;
}

/** An extension of an active grant that is waiting for its approvals. */
export interface PendingExtension {
  /** `ext-<seq>`: the audit event that asked for it. Approve and deny name it. Absent on older requests. */
  id?: string;
  durationSeconds: number;
  duration: string;
  requestedAt: string;
  comment?: string;
  approvals: Approval[];
}

/** An extension that moved the expiry. */
export interface AppliedExtension {
  duration: string;
  durationSeconds: number;
  /** Approvers, or `policy:<rule>` when an auto-approval rule approved it. */
  approvedBy: string[];
  at: string;
  newExpiresAt: string;
}

/** The whole request view: what the `status` query, the API and the store projection return. */
export interface RequestView {
  id: string;
  status: RequestStatus;
  requester: string;
  provider: string;
  /** Catalog position: `resource` (e.g. an AWS account) and access `level`. */
  resource: string;
  level: string;
  kind: string;
  target: string;
  reason: string;
  /** Approved duration, e.g. `2h` (as asked), with `durationSeconds` the exact figure. */
  duration: string;
  durationSeconds: number;
  /** Email addresses allowed to approve, resolved from the policy when the request was made. */
  approvers: string[];
  approvalsRequired: number;
  approvals: Approval[];
  /** Who denied, cancelled, relinquished or revoked, and why. */
  decision?: Decision;
  createdAt: string;
  /** When the grant was verified usable: the access clock starts here. */
  activeAt?: string;
  expiresAt?: string;
  endedAt?: string;
  /** Why the request failed, in words a user can act on. */
  error?: string;
  /** The config the request was decided under (its rules stay those, whatever changes later). */
  policyVersion: string;
  /** Granted at once without approval; approvers review it afterwards. */
  breakGlass?: boolean;
  /** The after-the-fact review of a break-glass request. */
  review?: Decision;
  /** Approved requests are provisioned at this time (scheduled start). */
  startAt?: string;
  pendingExtension?: PendingExtension;
  extensions: AppliedExtension[];
  /** Monotonic counter of recorded state changes; the store keeps the highest it has seen. */
  version: number;
}

/** What the request service hands the workflow when it starts it. */
export interface AccessRequestInput {
  id: string;
  requester: string;
  provider: string;
  resource: string;
  level: string;
  kind: string;
  target: string;
  reason: string;
  duration: string;
  durationSeconds: number;
  approvers: string[];
  approvalsRequired: number;
  /** Whether an approver may approve their own request (counts toward the quorum). */
  allowSelfApproval: boolean;
  /** Approved by an auto-approval rule (its name): no human decision needed. */
  autoApprovedBy?: string;
  /** Break-glass: granted at once; approvers review afterwards. */
  breakGlass: boolean;
  /** Provision no earlier than this (ISO-8601). */
  startAt?: string;
  /** Provider-specific catalog fields for the grant (see GrantSpec.scope). */
  scope?: Record<string, string>;
  /** Extension rules, fixed when the request was decided. */
  extension: { allowed: boolean; minSeconds: number; maxSeconds: number };
  /** The total lifetime (duration plus every extension) may not pass this; absent in requests made before the cap. */
  maxLifetimeSeconds?: number;
  policyVersion: string;
  /** How long the request may wait for a decision before it is `timed_out`. */
  approvalTimeoutSeconds: number;
  /** Upper bound for provisioning plus propagation; past it the grant is compensated and the request fails. */
  verifyTimeoutSeconds: number;
  createdAt: string;
  /**
   * The request service's signature over every other field (service/messageSigning.ts); checked by
   * the `provision` activity before anything is granted. Absent on requests made before signing.
   */
  signature?: string;
}

/** One audit event: every state change, written by the `recordEvent` activity. */
export interface AuditEvent {
  requestId: string;
  /** Position in this request's event sequence (1, 2, ...): makes a retried write idempotent. */
  seq: number;
  type: string;
  actor: string;
  at: string;
  details?: Record<string, unknown>;
}

/**
 * The audit event of a grant `provision` refused (input or approvals the request service did not sign,
 * or a run of the workflow other than the one that granted it). Its details carry the refusing run's id.
 */
export const UNTRUSTED_INPUT_EVENT = 'untrusted_input';

/** How long a break-glass request stays open after its access ends, waiting for the approvers' review. */
export const BREAK_GLASS_REVIEW_WINDOW_DAYS = 30;

/** What the request has been granted in all: its duration plus every applied extension. */
export function grantedSeconds(view: Pick<RequestView, 'durationSeconds' | 'extensions'>): number {
  return view.extensions.reduce((sum, extension) => sum + extension.durationSeconds, view.durationSeconds);
}

/** The view of a request that has just been made; the workflow starts from it. */
export function initialView(input: AccessRequestInput): RequestView {
  return {
    id: input.id,
    status: 'pending',
    requester: input.requester,
    provider: input.provider,
    resource: input.resource,
    level: input.level,
    kind: input.kind,
    target: input.target,
    reason: input.reason,
    duration: input.duration,
    durationSeconds: input.durationSeconds,
    approvers: input.approvers,
    approvalsRequired: input.approvalsRequired,
    approvals: [],
    createdAt: input.createdAt,
    policyVersion: input.policyVersion,
    breakGlass: input.breakGlass || undefined,
    startAt: input.startAt,
    extensions: [],
    version: 0,
  };
}
