/** `npm run worker`: a worker process on its own, for deployments that scale workers separately. */
import { metricsServerSettingsFromEnv, startMetricsServer } from '../service/metrics';
import { createLogger, openRuntime, runMain } from '../service/runtime';
import { installTemporalLogging } from './logging';
import { startWorker } from './worker';

async function main(): Promise<void> {
  const logger = createLogger('p0-worker');
  installTemporalLogging(logger);
  const metricsSettings = metricsServerSettingsFromEnv(); // a bad METRICS_PORT fails before anything starts
  const runtime = await openRuntime({ logger, watch: true });
  const worker = await startWorker(runtime);
  logger.info({ temporal: worker.temporal.address, namespace: worker.temporal.namespace, config: runtime.configPath }, 'worker running');
  // The worker's histograms and counters, for Prometheus (`npm start` serves them on the API's /metrics instead).
  // A port already taken costs the metrics, never the worker: revocations must keep running.
  const metricsServer = metricsSettings
    ? await startMetricsServer({ ...metricsSettings, logger }).catch((error: unknown) => {
        logger.error({ err: error, port: metricsSettings.port }, 'metrics server not started (set METRICS_PORT to a free port, or off)');
        return undefined;
      })
    : undefined;
  if (metricsServer) logger.info({ url: metricsServer.url }, 'metrics served');
  await worker.run();
  await metricsServer?.close();
  await worker.close();
  await runtime.close();
}

runMain('p0 worker', main);
