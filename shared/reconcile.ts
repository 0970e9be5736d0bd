/**
 * The orphan reconciler's vocabulary: what a pass is asked (`POST /v1/reconcile`, the Schedule),
 * what it answers, and the lines of its audit trail (`GET /v1/reconcile/events`).
 */

/** What happens to a grant no request holds: removed, or only reported. */
export const ORPHAN_POLICIES = ['revoke', 'report'] as const;
export type OrphanPolicy = (typeof ORPHAN_POLICIES)[number];

/** A pass's options: the body of `POST /v1/reconcile`, and the reconcile workflow's input. */
export interface ReconcileInput {
  /** Find and show, change nothing and record nothing. */
  dryRun?: boolean;
  /** Overrides the config's `reconcile.orphans` for this run. */
  orphans?: OrphanPolicy;
}

export const RECONCILE_FINDINGS = ['orphan', 'missing'] as const;
export type ReconcileFinding = (typeof RECONCILE_FINDINGS)[number];

/** What a pass did about a finding, as its audit trail records it. */
export const RECONCILE_ACTIONS = ['revoked', 'reported', 'revoke_failed', 'reprovision_requested', 'reprovision_failed'] as const;
export type ReconcileAction = (typeof RECONCILE_ACTIONS)[number];

/** What a pass may answer for an orphan: done, failed, or in a dry run what it would do. */
export const ORPHAN_OUTCOME_ACTIONS = ['revoked', 'reported', 'revoke_failed', 'would revoke', 'would report'] as const;
/** Likewise for an active request's missing grant (only reported with `reconcile.regrantMissing: false`). */
export const MISSING_OUTCOME_ACTIONS = ['reprovision_requested', 'reprovision_failed', 'reported', 'would re-provision', 'would report'] as const;

/** One finding of a reconcile pass, and what was done about it. */
export interface ReconcileOutcome {
  provider: string;
  requestId: string;
  description: string;
  /** One of ORPHAN_OUTCOME_ACTIONS or MISSING_OUTCOME_ACTIONS: what was done, or with dryRun what would be done. */
  action: string;
  error?: string;
}

/** The answer of one pass of the orphan reconciler. */
export interface ReconcileReport {
  runId: string;
  dryRun: boolean;
  checkedAt: string;
  providers: string[];
  /** Grants at a provider that no request holds. */
  orphans: ReconcileOutcome[];
  /** Active requests whose grant the provider no longer reports. */
  missing: ReconcileOutcome[];
  /** Providers (or single grants) that could not be checked, and why. */
  errors: { provider: string; message: string }[];
}

/** One line of the reconciler's audit trail. */
export interface ReconcileEvent {
  runId: string;
  at: string;
  finding: ReconcileFinding;
  provider: string;
  requestId?: string;
  description: string;
  action: ReconcileAction;
  error?: string;
}
