/**
 * `npm start`: the whole product on one machine. Without TEMPORAL_ADDRESS it starts Temporal's dev
 * server (state in data/temporal.db, so pending requests and running timers survive a restart),
 * then the worker and the API in this process. Ctrl-C stops all of them.
 */
import { startApi } from '../api/server';
import { DEFAULT_CONFIG_PATH, EXAMPLE_CONFIG_PATH } from '../config/load';
import { createLogger, openRuntime, runMain } from '../service/runtime';
import { installTemporalLogging } from '../worker/logging';
import { startWorker } from '../worker/worker';
import { startEmbeddedTemporal, type DevServer } from './temporalDevServer';

const DEV_SERVER_PORT = Number(process.env.TEMPORAL_DEV_PORT ?? 7233);
const DEV_UI_PORT = Number(process.env.TEMPORAL_DEV_UI_PORT ?? 8233);

async function main(): Promise<void> {
  const logger = createLogger('p0');
  installTemporalLogging(logger);
  // Config and database first: a mistake there should fail fast, before any server starts.
  const runtime = await openRuntime({ logger, watch: true });
  logger.info({ config: runtime.configPath, policyVersion: runtime.policy.current().version }, 'config loaded (reloaded when the file changes)');
  if (runtime.configPath.endsWith(EXAMPLE_CONFIG_PATH)) {
    logger.warn(`no ${DEFAULT_CONFIG_PATH} yet: running with the example config; copy it to ${DEFAULT_CONFIG_PATH} and edit it`);
  }

  let devServer: DevServer | undefined;
  if (!process.env.TEMPORAL_ADDRESS) {
    logger.info('TEMPORAL_ADDRESS is not set: starting the Temporal dev server (data/temporal.db, loopback only)');
    devServer = await startEmbeddedTemporal({ dataDir: 'data', port: DEV_SERVER_PORT, uiPort: DEV_UI_PORT });
    process.env.TEMPORAL_ADDRESS = devServer.address;
    logger.info({ address: devServer.address, webUi: devServer.uiUrl }, 'Temporal dev server running; watch every request in its Web UI');
  }

  const worker = await startWorker(runtime);
  const { temporal, taskQueue } = worker;
  const api = await startApi({ runtime, temporal, port: Number(process.env.PORT ?? 8080), host: process.env.HOST, logger, taskQueue });
  logger.info({ api: api.url, web: `${api.signIn.publicUrl}/`, temporal: temporal.address, namespace: temporal.namespace }, 'p0-jit is running (Ctrl-C to stop)');
  if (api.signIn.loginLinksEnabled) {
    logger.info(`sign in: run \`npm run login-link -- you@example.com\` and open the link it prints (it lands on the web page, ${api.signIn.publicUrl}/); then \`p0 login --url ${api.signIn.publicUrl}\``);
  } else {
    logger.info(`web page: ${api.signIn.publicUrl}/; sign in at ${api.signIn.publicUrl}/auth/login (through ${runtime.policy.current().config.auth.oidc?.issuer}); CLI: \`p0 login --url ${api.signIn.publicUrl}\``);
  }

  // Temporal's runtime turns SIGINT/SIGTERM into a graceful worker shutdown; run() returns after it.
  await worker.run();
  logger.info('stopping');
  await api.close();
  await worker.close();
  await devServer?.stop();
  await runtime.close();
}

runMain('p0', main);
