/**
 * The bare workflow's worker in its own process, like the product's: the bench process only drives
 * load. TEMPORAL_ADDRESS and BARE_TASK_QUEUE say where; IAM calls go where the AWS SDK's standard
 * environment points (the bench's moto).
 */
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import * as bareActivities from './bareActivities';

async function main(): Promise<void> {
  const address = process.env.TEMPORAL_ADDRESS;
  const taskQueue = process.env.BARE_TASK_QUEUE;
  if (!address || !taskQueue) throw new Error('set TEMPORAL_ADDRESS and BARE_TASK_QUEUE');
  Runtime.install({ logger: new DefaultLogger('ERROR'), telemetryOptions: { logging: { filter: { core: 'ERROR', other: 'ERROR' } } } });
  const connection = await NativeConnection.connect({ address });
  const worker = await Worker.create({ connection, taskQueue, workflowsPath: require.resolve('./bareWorkflow'), activities: bareActivities });
  console.log('worker running');
  await worker.run();
  await connection.close();
}

main().catch((error: unknown) => {
  console.error(`bare worker: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
