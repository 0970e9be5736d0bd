/** Starts the HTTP API over an opened runtime and a Temporal client. */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Client, Connection } from '@temporalio/client';
import type { Logger } from 'pino';
import { createSlackRouter, SLACK_EVENTS_PATH } from '../bots/slack/app';
import { slackSettingsFromEnv, workspacePinOf, type SlackSettings } from '../bots/slack/settings';
import { createTeamsRouter, TEAMS_MESSAGES_PATH } from '../bots/teams/app';
import { teamsSettingsFromEnv, type TeamsSettings } from '../bots/teams/settings';
import { checkReadiness, databaseCheck, temporalCheck } from '../service/health';
import { countRequestsFrom } from '../service/metrics';
import { ReconcileService } from '../service/reconcileService';
import { RequestService } from '../service/requestService';
import { SignInService } from '../service/signIn';
import type { Runtime } from '../service/runtime';
import type { TemporalTarget } from '../service/temporal';
import { ensureWebBuild } from '../scripts/webBuild';
import { RequestFeed } from '../service/requestFeed';
import { answerClientErrors, createApiApp } from './app';
import type { WebBuild } from './web';

export interface RunningApi {
  url: string;
  service: RequestService;
  reconcile: ReconcileService;
  /** Sign-in: what `npm start` uses to say how to get a login link. */
  signIn: SignInService;
  close(): Promise<void>;
}

export async function startApi(options: {
  runtime: Runtime;
  temporal: TemporalTarget;
  port: number;
  host?: string;
  logger: Logger;
  taskQueue?: string;
  /** The Slack app at /slack/events; default from SLACK_BOT_TOKEN / SLACK_SIGNING_SECRET, off when unset (null: off). */
  slack?: SlackSettings | null;
  /** The Teams bot at /api/messages; default from TEAMS_APP_ID / TEAMS_APP_PASSWORD / TEAMS_TENANT_ID, off when unset (null: off). */
  teams?: TeamsSettings | null;
  /** Requests a minute per token; default API_RATE_LIMIT_PER_MINUTE or 600. */
  rateLimitPerMinute?: number;
  /** The web page's build; default: web/ built now if its sources changed (scripts/webBuild.ts). */
  web?: WebBuild;
  /** How often GET /v1/events reads the change log (default 1 s). */
  eventPollIntervalMs?: number;
}): Promise<RunningApi> {
  const { runtime, logger } = options;
  const connection = await Connection.connect(options.temporal.connectionOptions);
  const client = new Client({ connection, namespace: options.temporal.namespace });
  const service = new RequestService({ client, policy: runtime.policy, requests: runtime.requests, signing: runtime.signing, taskQueue: options.taskQueue });
  const reconcile = new ReconcileService({ client, policy: runtime.policy, events: runtime.reconcileEvents, taskQueue: options.taskQueue });
  const slack = options.slack === undefined ? slackSettingsFromEnv() : (options.slack ?? undefined);
  // Refuse to start a Slack app that would believe any workspace; a reload that drops the pin refuses every request.
  if (slack) workspacePinOf(runtime.policy.current().config.slack);
  const workspace = () => runtime.policy.current().config.slack;
  const channels = slack ? [{ path: SLACK_EVENTS_PATH, handler: createSlackRouter({ service, settings: slack, logger, workspace }) }] : [];
  if (slack) logger.info({ path: SLACK_EVENTS_PATH, slackApiUrl: slack.apiUrl }, 'Slack app enabled');
  const teams = options.teams === undefined ? teamsSettingsFromEnv() : (options.teams ?? undefined);
  if (teams) {
    channels.push({ path: TEAMS_MESSAGES_PATH, handler: createTeamsRouter({ service, records: runtime.teams, settings: teams, logger }) });
    logger.info({ path: TEAMS_MESSAGES_PATH, appId: teams.appId, tenantId: teams.tenantId }, 'Teams bot enabled');
  }
  // Readiness asks once and answers: no gRPC retry interceptor, whose backoff timers would also
  // outlive a closed connection and throw from a timer ("Channel has been shut down").
  const probeConnection = await Connection.connect({ ...options.temporal.connectionOptions, interceptors: [] });
  const checks = [temporalCheck(probeConnection), databaseCheck(runtime.database)];
  let listeningUrl = '';
  const signIn = new SignInService({ policy: runtime.policy, store: runtime.signIn, tokens: runtime.tokens, listeningUrl: () => listeningUrl });
  const web = options.web ?? (await buildWebPage(logger));
  // Every API process follows the store's change log itself: the worker records each change there.
  const feed = new RequestFeed({ changes: runtime.requests, visibility: service, logger, pollIntervalMs: options.eventPollIntervalMs });
  const app = createApiApp({
    signIn,
    web,
    feed,
    service,
    tokens: runtime.tokens,
    logger,
    channels,
    reconcile,
    readiness: () => checkReadiness(checks),
    rateLimitPerMinute: options.rateLimitPerMinute,
  });
  const server: Server = await new Promise((resolve, reject) => {
    const listening = app.listen(options.port, options.host ?? '127.0.0.1', () => resolve(listening));
    listening.once('error', reject);
  });
  answerClientErrors(server, logger);
  // The p0_requests gauge on /metrics reads this API's store.
  const stopCountingRequests = countRequestsFrom(runtime.requests);
  const { address, port } = server.address() as AddressInfo;
  listeningUrl = `http://${address.includes(':') ? `[${address}]` : address}:${port}`;
  return {
    url: listeningUrl,
    signIn,
    service,
    reconcile,
    close: async () => {
      stopCountingRequests();
      // Open event streams would hold server.close() open: they end first.
      await feed.close();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections(); // keep-alive sockets would otherwise hold close() open
      await closed;
      await probeConnection.close();
      await connection.close();
    },
  };
}

/** The web page, built if its sources changed; when it cannot be, the API still starts and the page says why. */
async function buildWebPage(logger: Logger): Promise<WebBuild> {
  try {
    return { root: await ensureWebBuild({ log: (message) => logger.info(message) }) };
  } catch (error) {
    logger.error({ err: error }, 'the web page could not be built; the API runs without it');
    return { unavailable: "The web page could not be built on this server; the operator's log says why." };
  }
}
