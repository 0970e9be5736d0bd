/** `npm run worker`: a worker process on its own, for deployments that scale workers separately. */
import { NativeConnection } from '@temporalio/worker';
import { metricsServerSettingsFromEnv, startMetricsServer } from '../service/metrics';
import { createLogger, openRuntime, watchPolicy } from '../service/runtime';
import { taskQueueFromEnv, temporalTarget } from '../service/temporal';
import { installTemporalLogging } from './logging';
import { activityDependencies, reconcileDependencies } from './dependencies';
import { keepReconcileSchedule } from './reconcileSchedule';
import { createAccessWorker } from './worker';

async function main(): Promise<void> {
  const logger = createLogger('p0-worker');
  installTemporalLogging(logger);
  const metricsSettings = metricsServerSettingsFromEnv(); // a bad METRICS_PORT fails before anything starts
  const runtime = await openRuntime({ logger });
  watchPolicy(runtime.policy, logger);
  const target = temporalTarget();
  const connection = await NativeConnection.connect(target.connectionOptions);
  const worker = await createAccessWorker({
    connection,
    namespace: target.namespace,
    taskQueue: taskQueueFromEnv(),
    dependencies: activityDependencies(runtime),
    reconcile: reconcileDependencies(runtime),
  });
  const schedule = await keepReconcileSchedule({ temporal: target, taskQueue: taskQueueFromEnv(), policy: runtime.policy, logger });
  logger.info({ temporal: target.address, namespace: target.namespace, config: runtime.configPath }, 'worker running');
  // The worker's histograms and counters, for Prometheus (`npm start` serves them on the API's /metrics instead).
  // A port already taken costs the metrics, never the worker: revocations must keep running.
  const metricsServer = metricsSettings
    ? await startMetricsServer({ ...metricsSettings, logger }).catch((error: unknown) => {
        logger.error({ err: error, port: metricsSettings.port }, 'metrics server not started (set METRICS_PORT to a free port, or off)');
        return undefined;
      })
    : undefined;
  if (metricsServer) logger.info({ url: metricsServer.url }, 'metrics served');
  // The Temporal runtime turns SIGINT/SIGTERM into a graceful shutdown: run() returns after it.
  await worker.run();
  await metricsServer?.close();
  await schedule.close();
  await connection.close();
  await runtime.close();
}

main().catch((error: unknown) => {
  console.error(`p0 worker: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
