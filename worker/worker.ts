/** The Temporal worker that runs accessRequest workflows and their activities. */
import { NativeConnection, Worker, type WorkflowBundle } from '@temporalio/worker';
import { createActivities, type ActivityDependencies } from '../activities';
import { TASK_QUEUE } from '../workflows/messages';

export interface AccessWorkerOptions {
  connection: NativeConnection;
  namespace: string;
  taskQueue?: string;
  dependencies: ActivityDependencies;
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
    activities: createActivities(options.dependencies),
    shutdownGraceTime: SHUTDOWN_GRACE,
    ...(options.workflowBundle
      ? { workflowBundle: options.workflowBundle }
      : { workflowsPath: require.resolve('../workflows') }),
  });
}
