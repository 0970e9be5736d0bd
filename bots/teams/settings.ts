/**
 * How the Teams bot is switched on: environment variables only (the app password never lives in the
 * config file). Teams is on when TEAMS_APP_ID, TEAMS_APP_PASSWORD and TEAMS_TENANT_ID are all set;
 * the other settings point the bot elsewhere than Microsoft's public cloud (sovereign clouds, tests).
 * Both processes read it: the API (POST /api/messages) and the worker (the notifier's cards).
 */

export interface TeamsSettings {
  /** The bot's Microsoft App ID (Entra ID application, client) id: the audience of every inbound token. */
  appId: string;
  /** The app's client secret, for the bot's own outbound token. */
  appPassword: string;
  /** The Entra ID tenant the bot serves (single-tenant): its token endpoint, and the only tenant whose people may act. */
  tenantId: string;
  /** Where the Bot Connector's signing keys are described (OpenID metadata with `jwks_uri`). */
  openIdMetadataUrl: string;
  /** The `iss` every inbound token must carry, exactly. */
  tokenIssuer: string;
  /** Where the bot gets its outbound token (OAuth 2.0 client credentials). */
  tokenUrl: string;
  /** A Teams conversation (channel) id where approvers are asked, besides their 1:1 chats; unset: 1:1 only. */
  approvalsConversationId?: string;
}

export const DEFAULT_OPENID_METADATA_URL = 'https://login.botframework.com/v1/.well-known/openidconfiguration';
export const DEFAULT_TOKEN_ISSUER = 'https://api.botframework.com';
/** What the bot's outbound token is for: the Bot Connector. */
export const BOT_CONNECTOR_SCOPE = 'https://api.botframework.com/.default';

export function defaultTokenUrl(tenantId: string): string {
  return `https://login.microsoftonline.com/${encodeURIComponent(tenantId)}/oauth2/v2.0/token`;
}

export class TeamsSettingsError extends Error {
  override readonly name = 'TeamsSettingsError';
}

const REQUIRED = ['TEAMS_APP_ID', 'TEAMS_APP_PASSWORD', 'TEAMS_TENANT_ID'] as const;

/** The settings in the environment; undefined when Teams is not set up (none of the three set). */
export function teamsSettingsFromEnv(env: NodeJS.ProcessEnv = process.env): TeamsSettings | undefined {
  const value = (name: string) => env[name]?.trim() || undefined;
  const given = REQUIRED.filter((name) => value(name) !== undefined);
  if (given.length === 0) return undefined;
  // Half a configuration is a mistake, not a wish to run without Teams: say so at start-up.
  if (given.length < REQUIRED.length) {
    const missing = REQUIRED.filter((name) => value(name) === undefined);
    throw new TeamsSettingsError(`${given.join(' and ')} ${given.length === 1 ? 'is' : 'are'} set but ${missing.join(' and ')} ${missing.length === 1 ? 'is' : 'are'} not: set all three to enable Teams, or none`);
  }
  const tenantId = value('TEAMS_TENANT_ID')!;
  return {
    appId: value('TEAMS_APP_ID')!,
    appPassword: value('TEAMS_APP_PASSWORD')!,
    tenantId,
    openIdMetadataUrl: url('TEAMS_OPENID_METADATA_URL', value('TEAMS_OPENID_METADATA_URL') ?? DEFAULT_OPENID_METADATA_URL),
    tokenIssuer: value('TEAMS_TOKEN_ISSUER') ?? DEFAULT_TOKEN_ISSUER,
    tokenUrl: url('TEAMS_TOKEN_URL', value('TEAMS_TOKEN_URL') ?? defaultTokenUrl(tenantId)),
    ...(value('TEAMS_APPROVALS_CONVERSATION_ID') ? { approvalsConversationId: value('TEAMS_APPROVALS_CONVERSATION_ID') } : {}),
  };
}

function url(name: string, text: string): string {
  let parsed: URL;
  try {
    parsed = new URL(text);
  } catch {
    throw new TeamsSettingsError(`${name} "${text}" is not a URL`);
  }
  const loopback = ['127.0.0.1', 'localhost', '[::1]'].includes(parsed.hostname);
  // Keys and tokens over plain HTTP could be swapped on the way: only a loopback test server may use it.
  if (parsed.protocol !== 'https:' && !(parsed.protocol === 'http:' && loopback)) throw new TeamsSettingsError(`${name} "${text}" must be an https URL (http only on loopback)`);
  return parsed.href;
}
