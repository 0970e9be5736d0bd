/**
 * The Temporal worker that runs accessRequest and reconcile workflows and their activities, started
 * over an opened runtime. Every process that runs a worker starts it here: `npm run worker`,
 * `npm start`, the bench's and the fault suite's workers, and the test harness.
 */
import { NativeConnection, Worker, type WorkflowBundle } from '@temporalio/worker';
import { createActivities } from '../activities';
import { createReconcileActivities } from '../activities/reconcile';
import type { Runtime } from '../service/runtime';
import { taskQueueFromEnv, temporalTarget, type TemporalTarget } from '../service/temporal';
import { activityDependencies, reconcileDependencies, type WorkerHooks } from './dependencies';
import { keepReconcileSchedule } from './reconcileSchedule';

export interface StartWorkerOptions extends WorkerHooks {
  /** Default from Temporal's environment, read now: `npm start` points it at its dev server first. */
  temporal?: TemporalTarget;
  /** Default P0_TASK_QUEUE, else the product's queue. */
  taskQueue?: string;
  /** A prebuilt bundle (tests build it once); otherwise the workflows are bundled at start-up. */
  workflowBundle?: WorkflowBundle;
  /** Keep the reconciler's Temporal Schedule in line with the config (default true). */
  reconcileSchedule?: boolean;
  /** Default P0_WORKER_MAX_CACHED_WORKFLOWS, else DEFAULT_MAX_CACHED_WORKFLOWS. */
  maxCachedWorkflows?: number;
}

export interface StartedWorker {
  temporal: TemporalTarget;
  taskQueue: string;
  /** Polls until the worker shuts down: Temporal's runtime turns SIGINT/SIGTERM into a graceful shutdown. */
  run(): Promise<void>;
  /** Shuts the worker down if it still runs and waits for it, then closes the reconciler's schedule and the connection. */
  close(): Promise<void>;
}

/** Cloud calls in flight get this long to finish when the worker is asked to stop. */
const SHUTDOWN_GRACE = '30 seconds';

/**
 * Workflows the worker keeps in memory between their tasks. An active request spends nearly all of
 * its life parked on a timer; one evicted from the cache is replayed from its history (~40 events)
 * when its next task comes, which is cheap. Without a limit the SDK derives one from the heap
 * (~2,300 workflows on a 4 GiB heap) and RSS grows with every active grant until then
 * (docs/performance.md). Measured on the bench's scale step (2,000 active grants): ~0.4 MiB of
 * RSS per cached workflow (1,000 cached: 1,015 MiB; 250: 707 MiB). 500 holds the bench's largest
 * burst (500 lifecycles at once) without replaying, and keeps 10,000 active grants under 1 GiB.
 */
export const DEFAULT_MAX_CACHED_WORKFLOWS = 500;

/** P0_WORKER_MAX_CACHED_WORKFLOWS, or the default: a whole number of at least 1 (0 would drop the audit trail's local activities). */
export function maxCachedWorkflowsFromEnv(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.P0_WORKER_MAX_CACHED_WORKFLOWS?.trim();
  if (!raw) return DEFAULT_MAX_CACHED_WORKFLOWS;
  const limit = Number(raw);
  if (!Number.isInteger(limit) || limit < 1) {
    throw new Error(`P0_WORKER_MAX_CACHED_WORKFLOWS must be a whole number of at least 1 (got "${raw}"): the workflow writes its audit records as local activities, which a worker with no cache drops`);
  }
  return limit;
}

export async function startWorker(runtime: Runtime, options: StartWorkerOptions = {}): Promise<StartedWorker> {
  const temporal = options.temporal ?? temporalTarget();
  const taskQueue = options.taskQueue ?? taskQueueFromEnv();
  const maxCachedWorkflows = options.maxCachedWorkflows ?? maxCachedWorkflowsFromEnv();
  const connection = await NativeConnection.connect(temporal.connectionOptions);
  const dependencies = activityDependencies(runtime, options);
  const worker = await Worker.create({
    connection,
    namespace: temporal.namespace,
    taskQueue,
    activities: {
      ...createActivities(dependencies),
      // The reconciler checks the same providers as the requests use.
      ...createReconcileActivities({ ...reconcileDependencies(runtime), providers: dependencies.providers }),
    },
    shutdownGraceTime: SHUTDOWN_GRACE,
    maxCachedWorkflows,
    ...(options.workflowBundle ? { workflowBundle: options.workflowBundle } : { workflowsPath: require.resolve('../workflows') }),
  });
  const schedule = options.reconcileSchedule === false ? undefined : await keepReconcileSchedule({ temporal, taskQueue, policy: runtime.policy, logger: runtime.logger });
  let running: Promise<void> | undefined;
  return {
    temporal,
    taskQueue,
    run: () => (running ??= worker.run()),
    close: async () => {
      if (running) {
        // A worker that already stopped (it failed) has its error in `running`: surface that instead.
        if (worker.getState() === 'RUNNING') worker.shutdown();
        await running;
      }
      await schedule?.close();
      await connection.close();
    },
  };
}
