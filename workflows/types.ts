/**
 * What the request service hands the accessRequest workflow, and the workflow's own rules over the
 * request view (whose shape every side shares: shared/request.ts). Imported by the workflow, so it
 * holds only plain data and pure functions.
 */
import type { RequestView } from '../shared/request';

/** The fields the workflow's input and the request view share: one declaration, in shared/request.ts. */
type ViewFields =
  | 'id'
  | 'requester'
  | 'provider'
  | 'resource'
  | 'level'
  | 'kind'
  | 'target'
  | 'reason'
  | 'duration'
  | 'durationSeconds'
  | 'approvers'
  | 'approvalsRequired'
  | 'policyVersion'
  | 'createdAt'
  | 'startAt';

/** What the request service hands the workflow when it starts it. */
export interface AccessRequestInput extends Pick<RequestView, ViewFields> {
  /** Whether an approver may approve their own request (counts toward the quorum). */
  allowSelfApproval: boolean;
  /** Approved by an auto-approval rule (its name): no human decision needed. */
  autoApprovedBy?: string;
  /** Break-glass: granted at once; approvers review afterwards. */
  breakGlass: boolean;
  /** Provider-specific catalog fields for the grant (see GrantSpec.scope). */
  scope?: Record<string, string>;
  /** Extension rules, fixed when the request was decided. */
  extension: { allowed: boolean; minSeconds: number; maxSeconds: number };
  /** The total lifetime (duration plus every extension) may not pass this; absent in requests made before the cap. */
  maxLifetimeSeconds?: number;
  /** How long the request may wait for a decision before it is `timed_out`. */
  approvalTimeoutSeconds: number;
  /** Upper bound for provisioning plus propagation; past it the grant is compensated and the request fails. */
  verifyTimeoutSeconds: number;
  /**
   * The request service's signature over every other field (service/messageSigning.ts); checked by
   * the `provision` activity before anything is granted. Absent on requests made before signing.
   */
  signature?: string;
}

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
