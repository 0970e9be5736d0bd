/**
 * The reconciler as callers see it: its Temporal Schedule (created or updated when a worker starts,
 * and when the config changes), an on-demand run (`p0 reconcile [--dry-run]`, admins only) and its
 * audit trail. The pass itself is the `reconcile` workflow, run by the workers.
 */
import { Client, ScheduleAlreadyRunning, ScheduleNotFoundError, ScheduleOverlapPolicy } from '@temporalio/client';
import { monotonicFactory } from 'ulid';
import { z } from 'zod';
import { RECONCILE_WORKFLOW_TYPE, TASK_QUEUE } from '../workflows/messages';
import { ORPHAN_POLICIES, type ReconcileEvent, type ReconcileInput, type ReconcileReport } from '../shared/reconcile';
import { AppError } from './errors';
import type { LivePolicy } from './livePolicy';
import { isAdmin, type Caller } from './policy';

export interface ReconcileScheduleSettings {
  enabled: boolean;
  /** Milliseconds between runs. */
  every: number;
}

/** One schedule per task queue, so separate installations (and tests) sharing a Temporal namespace keep apart. */
export function reconcileScheduleId(taskQueue: string): string {
  return taskQueue === TASK_QUEUE ? 'p0-reconciler' : `p0-reconciler-${taskQueue}`;
}

/**
 * Creates the Schedule, or brings an existing one in line with the config (interval, task queue);
 * deletes it when the reconciler is disabled. Safe to call from every worker at start-up.
 * Overlap SKIP: a pass still running when the next is due makes that one skip, never pile up.
 */
export async function ensureReconcileSchedule(
  client: Client,
  taskQueue: string,
  settings: ReconcileScheduleSettings,
): Promise<'created' | 'updated' | 'deleted' | 'disabled'> {
  const scheduleId = reconcileScheduleId(taskQueue);
  const handle = client.schedule.getHandle(scheduleId);
  if (!settings.enabled) {
    try {
      await handle.delete();
      return 'deleted';
    } catch (error) {
      if (error instanceof ScheduleNotFoundError) return 'disabled';
      throw error;
    }
  }
  const spec = { intervals: [{ every: settings.every }] };
  const action = {
    type: 'startWorkflow' as const,
    workflowType: RECONCILE_WORKFLOW_TYPE,
    workflowId: scheduleId,
    taskQueue,
    args: [{} satisfies ReconcileInput],
    // A pass that hangs (a provider that never answers) ends before the next few are skipped.
    workflowExecutionTimeout: 30 * 60_000,
  };
  try {
    await client.schedule.create({
      scheduleId,
      spec,
      action,
      policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '1 minute' },
      memo: { description: 'p0-jit orphan reconciler: removes grants no request holds, re-provisions missing ones' },
    });
    return 'created';
  } catch (error) {
    if (!(error instanceof ScheduleAlreadyRunning)) throw error;
  }
  await handle.update((previous) => ({ ...previous, spec, action }));
  return 'updated';
}

/** The body of `POST /v1/reconcile` (the OpenAPI document is derived from it). */
export const runBody = z
  .object({
    dryRun: z.boolean().optional().meta({ description: 'Find and show; change nothing and record nothing' }),
    orphans: z.enum(ORPHAN_POLICIES).optional().meta({ description: "Overrides the config's reconcile.orphans for this pass" }),
  })
  .strict() satisfies z.ZodType<ReconcileInput>;

/** How long an on-demand run may take before the caller is told to look at the audit trail instead. */
const RUN_TIMEOUT = '10 minutes';

const nextRunId = monotonicFactory();

export class ReconcileService {
  constructor(
    private readonly options: {
      client: Client;
      policy: Pick<LivePolicy, 'current'>;
      events: { list(filter: { requestId?: string; limit?: number }): Promise<ReconcileEvent[]> };
      taskQueue?: string;
    },
  ) {}

  /** Runs one pass now and answers its report. `dryRun` shows what it would do and changes nothing. */
  async run(caller: Caller, body: unknown): Promise<ReconcileReport> {
    this.requireAdmin(caller);
    const parsed = runBody.safeParse(body ?? {});
    if (!parsed.success) {
      throw new AppError('bad_request', parsed.error.issues.map((issue) => `${issue.path.join('.') || 'body'}: ${issue.message}`).join('; '));
    }
    return this.options.client.workflow.execute(RECONCILE_WORKFLOW_TYPE, {
      taskQueue: this.options.taskQueue ?? TASK_QUEUE,
      workflowId: `p0-reconcile-${parsed.data.dryRun ? 'dry-run-' : ''}${nextRunId()}`,
      args: [parsed.data satisfies ReconcileInput],
      workflowExecutionTimeout: RUN_TIMEOUT,
    }) as Promise<ReconcileReport>;
  }

  /** The reconciler's audit trail, newest first. */
  async events(caller: Caller, filter: { requestId?: string; limit?: number }): Promise<ReconcileEvent[]> {
    this.requireAdmin(caller);
    return this.options.events.list({ requestId: filter.requestId, limit: Math.min(filter.limit ?? 100, 1000) });
  }

  /** Removes this task queue's Schedule (tests; an operator sets `reconcile.enabled: false` instead). */
  async deleteSchedule(): Promise<void> {
    await ensureReconcileSchedule(this.options.client, this.options.taskQueue ?? TASK_QUEUE, { enabled: false, every: 0 });
  }

  private requireAdmin(caller: Caller): void {
    if (!isAdmin(this.options.policy.current(), caller)) throw new AppError('forbidden', 'Only an admin can run the reconciler or read its findings');
  }
}
