/**
 * An access request as every side sees it: the workflow keeps it, the store projects it, the API
 * answers it, the bots and the CLI show it. Plain data only, so workflow code can import it.
 */

/** States after which nothing more happens to the request. */
const ENDED_STATUSES = ['expired', 'relinquished', 'revoked', 'denied', 'cancelled', 'timed_out', 'failed'] as const;

export const REQUEST_STATUSES = ['pending', 'approved', 'provisioning', 'active', ...ENDED_STATUSES] as const;
export type RequestStatus = (typeof REQUEST_STATUSES)[number];

/** The same, typed so that any status can be looked up in it (`FINAL_STATUSES.includes(view.status)`). */
export const FINAL_STATUSES: readonly RequestStatus[] = ENDED_STATUSES;

/** What a person may do to a request once it exists (`POST /v1/requests/{id}/<action>`), besides `extend`. */
export const REQUEST_ACTIONS = ['approve', 'deny', 'relinquish', 'cancel', 'revoke', 'review'] as const;
export type RequestAction = (typeof REQUEST_ACTIONS)[number];

/**
 * A person's say on the request: who, what they said, and when. An approval, the decision that ended
 * it (deny, cancel, relinquish, revoke), or a break-glass review.
 */
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
  approvals: Decision[];
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
  approvals: Decision[];
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
