/** The Temporal worker that runs accessRequest workflows and their activities. */
import { NativeConnection, Worker, type WorkflowBundle } from '@temporalio/worker';
import { createActivities, type ActivityDependencies } from '../activities';
import { createReconcileActivities, type ReconcileDependencies } from '../activities/reconcile';
import { TASK_QUEUE } from '../workflows/messages';

export interface AccessWorkerOptions {
  connection: NativeConnection;
  namespace: string;
  taskQueue?: string;
  dependencies: ActivityDependencies;
  /** The reconciler's stores and settings; it checks the same providers as the requests use. */
  reconcile: Omit<ReconcileDependencies, 'providers'>;
  /** A prebuilt bundle (tests build it once); otherwise the workflows are bundled at start-up. */
  workflowBundle?: WorkflowBundle;
}

/** Cloud calls in flight get this long to finish when the worker is asked to stop. */
const SHUTDOWN_GRACE = '30 seconds';

export async function createAccessWorker(options: AccessWorkerOptions): Promise<Worker> {
  return Worker.create({
    connection: options.connection,
    namespace: options.namespace,
    taskQueue: options.taskQueue ?? TASK_QUEUE,
    activities: {
      ...createActivities(options.dependencies),
      ...createReconcileActivities({ ...options.reconcile, providers: options.dependencies.providers }),
    },
    shutdownGraceTime: SHUTDOWN_GRACE,
    ...(options.workflowBundle
      ? { workflowBundle: options.workflowBundle }
      : { workflowsPath: require.resolve('../workflows') }),
  });
}
