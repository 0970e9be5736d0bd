/**
 * One reconciliation pass, started by the `p0-reconciler` Temporal Schedule (or on demand by
 * `p0 reconcile`). The activities find the drift; this workflow acts on it, one finding at a time:
 * an orphan is removed (or only reported, by config), and an active request whose grant went missing
 * is told to provision it again, by a signal to that request's own workflow, which serializes it
 * with its expiry and revocation (the reconciler never grants anything itself).
 */
import { getExternalWorkflowHandle, patched, proxyActivities, workflowInfo } from '@temporalio/workflow';
import type * as reconcileActivities from '../activities/reconcile';
import { failureMessage } from '../shared/errors';
import type { ReconcileInput, ReconcileOutcome, ReconcileReport } from '../shared/reconcile';
import { reprovisionSignal } from './messages';

type Activities = reconcileActivities.ReconcileActivities;

const { findDrift } = proxyActivities<Activities>({
  startToCloseTimeout: '10 minutes',
  heartbeatTimeout: '1 minute',
  retry: { maximumAttempts: 3 },
});

/** A removal that keeps failing is recorded as failed; the next run tries again. */
const { settleOrphan, recordFinding } = proxyActivities<Activities>({
  startToCloseTimeout: '2 minutes',
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds', maximumAttempts: 5 },
});

/**
 * `reconcile.regrantMissing: false` (a newer findDrift result says so): missing grants are recorded
 * as `reported` and nobody is signalled. A pass whose decision a worker without it already made
 * replays as it ran.
 */
const REPORT_MISSING_ONLY = 'reconcile-report-missing-only';

export async function reconcile(input: ReconcileInput = {}): Promise<ReconcileReport> {
  const runId = workflowInfo().workflowId;
  const dryRun = input.dryRun === true;
  const drift = await findDrift();
  const policy = input.orphans ?? drift.orphanPolicy;
  const report: ReconcileReport = { runId, dryRun, checkedAt: drift.checkedAt, providers: drift.providers, orphans: [], missing: [], errors: drift.errors };

  for (const orphan of drift.orphans) {
    const outcome: ReconcileOutcome = { provider: orphan.provider, requestId: orphan.requestId, description: orphan.description, action: '' };
    if (dryRun) {
      outcome.action = policy === 'revoke' ? 'would revoke' : 'would report';
    } else {
      try {
        outcome.action = await settleOrphan({ orphan, runId, policy });
      } catch (error) {
        outcome.action = 'revoke_failed';
        outcome.error = failureMessage(error);
        await recordFinding({ runId, finding: 'orphan', provider: orphan.provider, requestId: orphan.requestId, description: orphan.description, action: 'revoke_failed', error: outcome.error });
      }
    }
    report.orphans.push(outcome);
  }

  const reportMissingOnly = drift.regrantMissing === false && drift.missing.length > 0 && patched(REPORT_MISSING_ONLY);
  for (const missing of drift.missing) {
    if (reportMissingOnly) {
      const outcome: ReconcileOutcome = { ...missing, action: dryRun ? 'would report' : 'reported' };
      if (!dryRun) await recordFinding({ runId, finding: 'missing', provider: missing.provider, requestId: missing.requestId, description: missing.description, action: 'reported' });
      report.missing.push(outcome);
      continue;
    }
    const outcome: ReconcileOutcome = { ...missing, action: dryRun ? 'would re-provision' : 'reprovision_requested' };
    if (!dryRun) {
      try {
        await getExternalWorkflowHandle(missing.requestId).signal(reprovisionSignal, { by: runId });
      } catch (error) {
        // The request ended meanwhile: its workflow is closed and nothing is to be granted.
        outcome.action = 'reprovision_failed';
        outcome.error = failureMessage(error);
      }
      await recordFinding({ runId, finding: 'missing', provider: missing.provider, requestId: missing.requestId, description: missing.description, action: outcome.action as 'reprovision_requested' | 'reprovision_failed', error: outcome.error });
    }
    report.missing.push(outcome);
  }
  return report;
}
