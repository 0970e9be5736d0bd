/**
 * How the Slack app is switched on: two environment variables (tokens never live in the config
 * file), plus an optional Web API base URL for tests and proxies. Both processes read it: the API
 * (slash command and buttons at /slack/events) and the worker (the notifier that posts and updates
 * messages).
 */
import { webApi } from '@slack/bolt';

export interface SlackSettings {
  /** `xoxb-...`: the bot token, from `SLACK_BOT_TOKEN`. */
  botToken: string;
  /** Verifies that requests to /slack/events come from Slack, from `SLACK_SIGNING_SECRET`. */
  signingSecret: string;
  /** The Web API base URL (`SLACK_API_URL`), e.g. a fake in tests; default Slack's own. */
  apiUrl?: string;
}

/**
 * The Slack workspace (team) or Enterprise Grid organization p0 serves, from the config's `slack`
 * section. A request signed with p0's signing secret can still come from another workspace the app
 * is installed in, whose people choose their own email addresses: only the pinned one is believed.
 */
export interface SlackWorkspacePin {
  teamId?: string;
  enterpriseId?: string;
}

export class SlackSettingsError extends Error {
  override readonly name = 'SlackSettingsError';
}

/** The settings in the environment, undefined when Slack is not set up (neither variable set). */
export function slackSettingsFromEnv(env: NodeJS.ProcessEnv = process.env): SlackSettings | undefined {
  const botToken = env.SLACK_BOT_TOKEN?.trim() || undefined;
  const signingSecret = env.SLACK_SIGNING_SECRET?.trim() || undefined;
  if (!botToken && !signingSecret) return undefined;
  // Half a configuration is a mistake, not a wish to run without Slack: say so at start-up.
  if (!botToken) throw new SlackSettingsError('SLACK_SIGNING_SECRET is set but SLACK_BOT_TOKEN is not: set both to enable Slack, or neither');
  if (!signingSecret) throw new SlackSettingsError('SLACK_BOT_TOKEN is set but SLACK_SIGNING_SECRET is not: set both to enable Slack, or neither');
  const apiUrl = env.SLACK_API_URL?.trim() || undefined;
  return { botToken, signingSecret, apiUrl: apiUrl === undefined ? undefined : webApiBaseUrl(apiUrl) };
}

/** The Web API base URL as the Slack client wants it: absolute, ending with a slash. */
export function webApiBaseUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new SlackSettingsError(`SLACK_API_URL "${url}" is not a URL: use e.g. https://slack.com/api/`);
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') throw new SlackSettingsError(`SLACK_API_URL "${url}" must be an http(s) URL`);
  return parsed.href.endsWith('/') ? parsed.href : `${parsed.href}/`;
}

/** Options for every Slack Web API client of the product (Bolt's and the notifier's alike). */
export function webClientOptions(settings: SlackSettings, options: { retries?: number } = {}): webApi.WebClientOptions {
  return {
    ...(settings.apiUrl ? { slackApiUrl: settings.apiUrl } : {}),
    // A chat outage must not hold a person (or an activity) for Slack's default half hour of retries.
    retryConfig: { retries: options.retries ?? 2, factor: 2, minTimeout: 200, maxTimeout: 2000 },
    timeout: 10_000,
  };
}

export function createWebClient(settings: SlackSettings, options: { retries?: number; logger?: webApi.Logger } = {}): webApi.WebClient {
  return new webApi.WebClient(settings.botToken, { ...webClientOptions(settings, options), ...(options.logger ? { logger: options.logger } : {}) });
}

/** The pin in the config's `slack` section; a Slack app without one would believe any workspace. */
export function workspacePinOf(slack: SlackWorkspacePin): SlackWorkspacePin {
  if (!slack.teamId && !slack.enterpriseId) {
    throw new SlackSettingsError(
      'Slack is on but the config pins no workspace: set slack.teamId to your workspace id (T..., see docs/slack.md), or slack.enterpriseId on Enterprise Grid',
    );
  }
  return { ...(slack.teamId ? { teamId: slack.teamId } : {}), ...(slack.enterpriseId ? { enterpriseId: slack.enterpriseId } : {}) };
}
