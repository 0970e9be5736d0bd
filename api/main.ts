/** `npm run api`: the HTTP API on its own, for deployments that run it apart from the workers. */
import { createLogger, openRuntime, runMain } from '../service/runtime';
import { taskQueueFromEnv, temporalTarget } from '../service/temporal';
import { startApi } from './server';

async function main(): Promise<void> {
  const logger = createLogger('p0-api');
  const runtime = await openRuntime({ logger, watch: true });
  const temporal = temporalTarget();
  const api = await startApi({ runtime, temporal, port: Number(process.env.PORT ?? 8080), host: process.env.HOST, logger, taskQueue: taskQueueFromEnv() });
  logger.info({ url: api.url, temporal: temporal.address }, 'API listening');
  const stop = async () => {
    await api.close();
    await runtime.close();
    process.exit(0);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

runMain('p0 api', main);
