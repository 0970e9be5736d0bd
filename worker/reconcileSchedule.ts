/**
 * Keeps the reconciler's Temporal Schedule in line with the config: created (or updated) when a
 * worker starts, and again whenever the config file changes. Every worker may do this; the
 * Schedule is one per task queue, so they converge on the same one.
 */
import { Client, Connection } from '@temporalio/client';
import type { Logger } from 'pino';
import type { LivePolicy } from '../service/livePolicy';
import { ensureReconcileSchedule, reconcileScheduleId } from '../service/reconcileService';
import type { TemporalTarget } from '../service/temporal';

export async function keepReconcileSchedule(options: {
  temporal: TemporalTarget;
  taskQueue: string;
  policy: Pick<LivePolicy, 'current' | 'onChange'>;
  logger: Logger;
}): Promise<{ close(): Promise<void> }> {
  const { policy, logger, taskQueue } = options;
  const connection = await Connection.connect(options.temporal.connectionOptions);
  const client = new Client({ connection, namespace: options.temporal.namespace });
  const apply = async () => {
    const { enabled, every, orphans } = policy.current().config.reconcile;
    const result = await ensureReconcileSchedule(client, taskQueue, { enabled, every });
    logger.info({ scheduleId: reconcileScheduleId(taskQueue), everyMs: every, orphans, result }, 'reconciler schedule');
  };
  await apply();
  const stopListening = policy.onChange(() => {
    apply().catch((error: unknown) => logger.error({ err: error }, 'could not update the reconciler schedule'));
  });
  return {
    close: async () => {
      stopListening();
      await connection.close();
    },
  };
}
