/**
 * The only module of the product that imports botbuilder and botframework-connector (Microsoft's Bot
 * Framework SDK, which Microsoft has retired in favour of the Microsoft 365 Agents SDK). Everything
 * else in bots/teams speaks the small interface below (TeamsConnector, TeamsTurn, TeamsBotLogic) in
 * plain data, so moving to another SDK replaces this file only.
 *
 * Inbound: the real CloudAdapter with ConfigurationBotFrameworkAuthentication, JWT validation on:
 * the token's signature against the keys behind TEAMS_OPENID_METADATA_URL (endorsed for msteams),
 * `iss` = TEAMS_TOKEN_ISSUER, `aud` = TEAMS_APP_ID, `serviceurl` = the activity's serviceUrl. Every
 * failure is answered 401 (botbuilder 4.23 lets jsonwebtoken's own errors, such as a bad signature
 * under a known key id, through as a 500: StrictAuthentication maps them).
 *
 * Outbound: replies, updates and proactive messages go to the activity's (or the stored reference's)
 * serviceUrl with a token the bot gets from TEAMS_TOKEN_URL by the OAuth 2.0 client-credentials grant
 * (scope https://api.botframework.com/.default), through a ServiceClientCredentialsFactory.
 */
import {
  ActivityTypes,
  CardFactory,
  CloudAdapter,
  ConfigurationBotFrameworkAuthentication,
  MessageFactory,
  TeamsActivityHandler,
  TeamsInfo,
  TurnContext,
  type Activity,
  type AdaptiveCardInvokeResponse,
  type AdaptiveCardInvokeValue,
  type ConversationReference,
} from 'botbuilder';
import {
  AuthenticationError,
  BotFrameworkAuthentication,
  ServiceClientCredentialsFactory,
  TokenCredentials,
  type AuthenticateRequestResult,
  type ClaimsIdentity,
  type ConnectorFactory,
  type ServiceClientCredentials,
  type UserTokenClient,
} from 'botframework-connector';
import type { Request, Response } from 'express';
import type { Logger } from 'pino';
import { BOT_CONNECTOR_SCOPE, type TeamsSettings } from './settings';

/** An Adaptive Card, as JSON. */
export type AdaptiveCard = Record<string, unknown>;

/** What p0 reads of an inbound activity. */
export interface InboundActivity {
  type: string;
  /** Invokes: `adaptiveCard/action`. */
  name?: string;
  id?: string;
  /** The message's text with the mention of the bot taken out, trimmed. */
  text: string;
  channelId: string;
  serviceUrl: string;
  /** The sender's Teams user id (`29:...`): the only thing about the sender that p0 takes from the activity. */
  fromId: string;
  conversationId: string;
  /** `personal` (1:1 with the bot), `groupChat` or `channel`. */
  conversationType?: string;
  /** The tenant the activity says it comes from (channelData.tenant.id, else conversation.tenantId). */
  tenantId?: string;
  /** conversationUpdate / installationUpdate: the bot was added (or the app installed). */
  botAdded: boolean;
}

/** A Teams member as the Bot Connector's member lookup answers (TeamsInfo.getMember). */
export interface TeamsMember {
  id: string;
  aadObjectId?: string;
  email?: string;
  userPrincipalName?: string;
  tenantId?: string;
  /** `user`, `guest` or `anonymous`. */
  userRole?: string;
}

/** A stored conversation reference (Bot Framework's ConversationReference), as plain JSON. */
export type StoredReference = Record<string, unknown> & { serviceUrl: string; conversation: { id: string } };

/** An Action.Execute as the bot receives it: its verb, and its data with the card's input values merged in. */
export interface CardAction {
  verb: string;
  data: Record<string, unknown>;
}

/** One turn: the activity, and what the bot may do in its conversation. */
export interface TeamsTurn {
  activity: InboundActivity;
  /** The member lookup through the Bot Connector (GET .../members/{userId}). */
  member(userId: string): Promise<TeamsMember>;
  /** This conversation's reference, to message it later. */
  reference(): StoredReference;
  /** Sends a card into this conversation (a reply when the turn answers a message); answers its activity id. */
  send(card: AdaptiveCard, summary: string): Promise<string>;
  sendText(text: string): Promise<void>;
  /** Replaces an activity of this conversation with a new card (PUT .../activities/{id}). */
  update(activityId: string, card: AdaptiveCard, summary: string): Promise<void>;
}

/** What the bot does with each authenticated activity. */
export interface TeamsBotLogic {
  /** Messages, installs and conversation updates. */
  onActivity(turn: TeamsTurn): Promise<void>;
  /** An Action.Execute (a click, or a `refresh` asking for this person's view); answers the card to show. */
  onCardAction(turn: TeamsTurn, action: CardAction): Promise<AdaptiveCard>;
}

export interface TeamsConnector {
  /** Authenticates an HTTP request from the Bot Connector and runs the bot on it (401 on any authentication failure). */
  process(req: Request, res: Response, logic: TeamsBotLogic): Promise<void>;
  /** Runs `work` in a stored conversation (a proactive message or update). */
  continueConversation(reference: StoredReference, work: (turn: TeamsTurn) => Promise<void>): Promise<void>;
}

/** The adaptive card content type of an invoke answer and an attachment. */
const ADAPTIVE_CARD_TYPE = 'application/vnd.microsoft.card.adaptive';
/** Refresh the bot's token this long before it expires. */
const TOKEN_EARLY_REFRESH_MS = 5 * 60_000;
const TOKEN_TIMEOUT_MS = 10_000;

export function createTeamsConnector(settings: TeamsSettings, logger: Logger): TeamsConnector {
  const credentials = new ClientCredentialsFactory(settings);
  const authentication = new StrictAuthentication(
    new ConfigurationBotFrameworkAuthentication(
      {
        // Set together: the SDK takes them as a whole, and one left unset turns every request into a 401.
        MicrosoftAppId: settings.appId,
        MicrosoftAppTenantId: settings.tenantId,
        ToBotFromChannelOpenIdMetadataUrl: settings.openIdMetadataUrl,
        ToBotFromChannelTokenIssuer: settings.tokenIssuer,
        // Teams only: a token claiming the Emulator's issuers must still be signed by the channel's keys.
        ToBotFromEmulatorOpenIdMetadataUrl: settings.openIdMetadataUrl,
        ToChannelFromBotOAuthScope: 'https://api.botframework.com',
        ToChannelFromBotLoginUrl: settings.tokenUrl,
        OAuthUrl: 'https://api.botframework.com',
        CallerId: 'urn:botframework:azure',
        ValidateAuthority: true,
      },
      credentials,
    ),
    logger,
  );
  const adapter = new CloudAdapter(authentication);
  adapter.onTurnError = (context, error) => {
    logger.error({ err: error, activityType: context.activity.type }, 'Teams turn failed');
    return Promise.resolve();
  };

  return {
    async process(req, res, logic) {
      await adapter.process(req, res, (context) => new BotHandler(logic).run(context));
    },
    async continueConversation(reference, work) {
      await adapter.continueConversationAsync(settings.appId, reference as Partial<ConversationReference>, (context) => work(turnOf(context)));
    },
  };
}

/** Routes each activity to the logic: onAdaptiveCardInvoke for Action.Execute, onActivity for the rest. */
class BotHandler extends TeamsActivityHandler {
  constructor(private readonly logic: TeamsBotLogic) {
    super();
    this.onMessage(async (context, next) => {
      await logic.onActivity(turnOf(context));
      await next();
    });
    this.onConversationUpdate(async (context, next) => {
      await logic.onActivity(turnOf(context));
      await next();
    });
    this.onInstallationUpdate(async (context, next) => {
      await logic.onActivity(turnOf(context));
      await next();
    });
  }

  protected override async onAdaptiveCardInvoke(context: TurnContext, invokeValue: AdaptiveCardInvokeValue): Promise<AdaptiveCardInvokeResponse> {
    const data = invokeValue.action?.data;
    const card = await this.logic.onCardAction(turnOf(context), {
      verb: typeof invokeValue.action?.verb === 'string' ? invokeValue.action.verb : '',
      data: data && typeof data === 'object' ? data : {},
    });
    return { statusCode: 200, type: ADAPTIVE_CARD_TYPE, value: card };
  }
}

function turnOf(context: TurnContext): TeamsTurn {
  const activity = context.activity;
  const channelData = (activity.channelData ?? {}) as { tenant?: { id?: string } };
  const added = (activity.membersAdded ?? []).some((member) => member.id === activity.recipient?.id);
  const inbound: InboundActivity = {
    type: activity.type,
    name: activity.name,
    id: activity.id,
    text: activity.type === (ActivityTypes.Message as string) ? TurnContext.removeRecipientMention(activity).trim() : '',
    channelId: activity.channelId,
    serviceUrl: activity.serviceUrl,
    fromId: activity.from?.id ?? '',
    conversationId: activity.conversation?.id ?? '',
    conversationType: activity.conversation?.conversationType,
    tenantId: channelData.tenant?.id ?? activity.conversation?.tenantId,
    botAdded: added || (activity.type === (ActivityTypes.InstallationUpdate as string) && activity.action === 'add'),
  };
  const cardActivity = (card: AdaptiveCard, summary: string): Partial<Activity> => ({ ...MessageFactory.attachment(CardFactory.adaptiveCard(card)), summary });
  return {
    activity: inbound,
    async member(userId) {
      const member = await TeamsInfo.getMember(context, userId);
      return {
        id: member.id,
        aadObjectId: member.aadObjectId,
        email: member.email,
        userPrincipalName: member.userPrincipalName,
        tenantId: member.tenantId,
        userRole: member.userRole,
      };
    },
    reference() {
      return JSON.parse(JSON.stringify(TurnContext.getConversationReference(activity))) as StoredReference;
    },
    async send(card, summary) {
      const sent = await context.sendActivity(cardActivity(card, summary));
      if (!sent?.id) throw new Error('the Bot Connector gave the sent card no activity id');
      return sent.id;
    },
    async sendText(text) {
      await context.sendActivity(MessageFactory.text(text));
    },
    async update(activityId, card, summary) {
      await context.updateActivity({ ...cardActivity(card, summary), id: activityId });
    },
  };
}

/**
 * The configured authentication, with every token refusal a 401: jsonwebtoken's errors (bad
 * signature, audience, not yet valid, malformed) come out of botbuilder 4.23 as plain errors, which
 * CloudAdapter answers with 500.
 */
class StrictAuthentication extends BotFrameworkAuthentication {
  constructor(
    private readonly inner: BotFrameworkAuthentication,
    private readonly logger: Logger,
  ) {
    super();
  }

  override async authenticateRequest(activity: Activity, authHeader: string): Promise<AuthenticateRequestResult> {
    try {
      return await this.inner.authenticateRequest(activity, authHeader);
    } catch (error) {
      throw this.refusal(error);
    }
  }

  override async authenticateStreamingRequest(authHeader: string, channelIdHeader: string): Promise<AuthenticateRequestResult> {
    try {
      return await this.inner.authenticateStreamingRequest(authHeader, channelIdHeader);
    } catch (error) {
      throw this.refusal(error);
    }
  }

  override async authenticateChannelRequest(authHeader: string): Promise<ClaimsIdentity> {
    try {
      return await this.inner.authenticateChannelRequest(authHeader);
    } catch (error) {
      throw this.refusal(error);
    }
  }

  override createConnectorFactory(claimsIdentity: ClaimsIdentity): ConnectorFactory {
    return this.inner.createConnectorFactory(claimsIdentity);
  }

  override createUserTokenClient(claimsIdentity: ClaimsIdentity): Promise<UserTokenClient> {
    return this.inner.createUserTokenClient(claimsIdentity);
  }

  override getOriginatingAudience(): string {
    return this.inner.getOriginatingAudience();
  }

  private refusal(error: unknown): Error {
    const name = (error as { name?: unknown } | undefined)?.name;
    const tokenError = name === 'JsonWebTokenError' || name === 'TokenExpiredError' || name === 'NotBeforeError';
    const refused = error instanceof AuthenticationError && error.statusCode === 401;
    if (!tokenError && !refused) {
      // The keys could not be read (metadata endpoint down): the caller's token was not judged.
      this.logger.error({ err: error }, 'Teams request could not be authenticated');
      return error instanceof Error ? error : new Error(String(error));
    }
    this.logger.warn({ reason: (error as Error).message }, 'Teams request refused: its token is not valid');
    return new AuthenticationError('Unauthorized: the request carries no valid Bot Framework token', 401);
  }
}

/** The bot's outbound credentials: a client-credentials token from TEAMS_TOKEN_URL, cached until shortly before it expires. */
class ClientCredentialsFactory extends ServiceClientCredentialsFactory {
  private token: { value: string; refreshAtMs: number } | undefined;
  private pending: Promise<string> | undefined;

  constructor(private readonly settings: TeamsSettings) {
    super();
  }

  override isValidAppId(appId: string): Promise<boolean> {
    return Promise.resolve(appId === this.settings.appId);
  }

  /** Never: an empty app id would turn validation off both ways, and settings refuse one. */
  override isAuthenticationDisabled(): Promise<boolean> {
    return Promise.resolve(false);
  }

  override createCredentials(appId: string): Promise<ServiceClientCredentials> {
    if (appId !== this.settings.appId) return Promise.reject(new Error(`Teams: no credentials for app id "${appId}"`));
    return Promise.resolve({ signRequest: async (webResource) => new TokenCredentials(await this.accessToken()).signRequest(webResource) });
  }

  private accessToken(): Promise<string> {
    if (this.token && Date.now() < this.token.refreshAtMs) return Promise.resolve(this.token.value);
    this.pending ??= this.fetchToken().finally(() => {
      this.pending = undefined;
    });
    return this.pending;
  }

  private async fetchToken(): Promise<string> {
    const response = await fetch(this.settings.tokenUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'client_credentials',
        client_id: this.settings.appId,
        client_secret: this.settings.appPassword,
        scope: BOT_CONNECTOR_SCOPE,
      }),
      signal: AbortSignal.timeout(TOKEN_TIMEOUT_MS),
    });
    const body = (await response.json().catch(() => ({}))) as { access_token?: unknown; expires_in?: unknown; error?: unknown; error_description?: unknown };
    if (!response.ok || typeof body.access_token !== 'string') {
      // The endpoint's own words (e.g. invalid_client: wrong TEAMS_APP_PASSWORD), never the secret.
      const reason = typeof body.error === 'string' ? `${body.error}${typeof body.error_description === 'string' ? `: ${body.error_description.split('\n')[0]}` : ''}` : `HTTP ${response.status}`;
      throw new Error(`Teams: the bot's token request to TEAMS_TOKEN_URL was refused (${reason})`);
    }
    const lifetimeMs = (typeof body.expires_in === 'number' ? body.expires_in : Number(body.expires_in) || 3600) * 1000;
    this.token = { value: body.access_token, refreshAtMs: Date.now() + Math.max(lifetimeMs - TOKEN_EARLY_REFRESH_MS, lifetimeMs / 2) };
    return body.access_token;
  }
}
