/**
 * The Teams bot's endpoint: POST /api/messages in the API's own HTTP server, where the Bot
 * Connector sends every activity. The request is authenticated by the SDK (botFramework.ts) before
 * the bot sees it; any failure is answered 401 and does nothing.
 */
import express from 'express';
import type { Logger } from 'pino';
import { createTeamsBot, type TeamsRecords, type TeamsRequestService } from './bot';
import { createTeamsConnector } from './botFramework';
import type { TeamsSettings } from './settings';

/** Where the Bot Connector posts activities (the Azure Bot's messaging endpoint ends with it). */
export const TEAMS_MESSAGES_PATH = '/api/messages';
/** Activities are small; anything bigger is refused (413) before its token is checked. */
export const TEAMS_MAX_BODY = '256kb';

export interface TeamsRouterOptions {
  service: TeamsRequestService;
  records: TeamsRecords;
  settings: TeamsSettings;
  logger: Logger;
}

export function createTeamsRouter(options: TeamsRouterOptions): express.Router {
  const logger = options.logger.child({ component: 'teams' });
  const connector = createTeamsConnector(options.settings, logger);
  const bot = createTeamsBot({ service: options.service, records: options.records, tenantId: options.settings.tenantId, logger });
  const router = express.Router();
  router.post(TEAMS_MESSAGES_PATH, express.json({ limit: TEAMS_MAX_BODY }), async (req, res) => {
    await connector.process(req, res, bot);
  });
  return router;
}
