/**
 * The audit trail's event types: every state change of a request is one numbered event, written by
 * the workflow (through the `recordEvent` activity) and handed to the notifiers. Metrics and chat
 * messages branch on these names, so they are one union, not strings matched by exact value.
 */

export const AUDIT_EVENT_TYPES = [
  'requested',
  'break_glass',
  /** One approval toward a quorum not yet met. */
  'approval',
  'approved',
  'denied',
  'cancelled',
  'timed_out',
  'scheduled',
  'provisioning',
  'granted',
  'active',
  /**
   * `provision` refused input the product did not sign, that the current policy does not back, or a
   * run of the workflow other than the one that granted it (its details carry the refusing run's id).
   */
  'untrusted_input',
  'failed',
  'extension_requested',
  'extension_approval',
  'extended',
  'extension_denied',
  /** The reconciler found the active grant missing and it was granted again (or could not be). */
  'reprovisioned',
  'reprovision_failed',
  'backstop_not_renewed',
  'expired',
  'relinquished',
  'revoked',
  'reviewed',
  'review_overdue',
] as const;
export type AuditEventType = (typeof AUDIT_EVENT_TYPES)[number];

/** One audit event: every state change, written by the `recordEvent` activity. */
export interface AuditEvent {
  requestId: string;
  /** Position in this request's event sequence (1, 2, ...): makes a retried write idempotent. */
  seq: number;
  type: AuditEventType;
  actor: string;
  at: string;
  details?: Record<string, unknown>;
}
