/**
 * A small fake of Microsoft's side of a Teams bot, for the Teams bot's tests, all on one loopback
 * server:
 *
 * - the Bot Connector's OpenID metadata and signing keys (JWKS, the key endorsed for `msteams`),
 *   and tokens for inbound activities signed with that key as the Bot Connector signs them
 *   (`iss` https://api.botframework.com, `aud` the app id, `serviceurl` the activity's serviceUrl),
 *   plus every way of getting one wrong (another key under the same kid, an unknown kid, `alg: none`,
 *   expired, another audience or issuer);
 * - the token endpoint the bot gets its outbound token from (OAuth 2.0 client credentials, checking
 *   the app id, password and scope);
 * - the Bot Connector at serviceUrl: new activities, replies, updates (PUT), member lookups. Every
 *   call must carry a token this fake issued; it records the cards it was given so tests can read
 *   them and click their actions.
 */
import { createSign, generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export const FAKE_TENANT_ID = '00000000-0000-4000-8000-00000000a11c';
export const BOT_CONNECTOR_ISSUER = 'https://api.botframework.com';
export const BOT_CONNECTOR_SCOPE = 'https://api.botframework.com/.default';

export interface FakeTeamsUser {
  /** Teams user id, `29:...`. */
  id: string;
  email?: string;
  userPrincipalName?: string;
  aadObjectId?: string;
  /** Default FAKE_TENANT_ID. */
  tenantId?: string;
  userRole?: 'user' | 'guest' | 'anonymous';
}

/** An activity the bot sent (or updated) in a conversation. */
export interface SentActivity {
  id: string;
  conversationId: string;
  replyToId?: string;
  type: string;
  text?: string;
  summary?: string;
  attachments?: Array<{ contentType: string; content: Card }>;
  /** How many times it was replaced (PUT). */
  updates: number;
}

/** An Adaptive Card as JSON. */
export type Card = Record<string, unknown> & { body?: CardElement[]; actions?: CardElement[]; refresh?: { action: CardElement; userIds: string[] } };
export type CardElement = Record<string, unknown> & { type: string; id?: string; verb?: string; title?: string; data?: Record<string, unknown>; card?: Card; choices?: Array<{ title: string; value: string }>; text?: string };

export type TokenFlaw = 'forged' | 'unknownKid' | 'algNone' | 'expired' | 'wrongAudience' | 'wrongIssuer' | 'wrongServiceUrl';

export class FakeTeams {
  readonly sent: SentActivity[] = [];
  /** Outbound calls refused for a missing or unknown token. */
  readonly refusedCalls: string[] = [];
  readonly tokenRequests: Array<Record<string, string>> = [];
  readonly memberLookups: string[] = [];
  private readonly users = new Map<string, FakeTeamsUser>();
  private readonly issuedTokens = new Set<string>();
  private counter = 0;

  private constructor(
    private readonly server: http.Server,
    readonly baseUrl: string,
    readonly appId: string,
    private readonly appPassword: string,
    private readonly signingKey: KeyObject,
    private readonly otherKey: KeyObject,
    private readonly keyId: string,
    private readonly publicJwk: Record<string, unknown>,
  ) {}

  static async start(options: { appId: string; appPassword: string; users: FakeTeamsUser[] }): Promise<FakeTeams> {
    const signing = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const other = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const server = http.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const fake = new FakeTeams(server, `http://127.0.0.1:${port}`, options.appId, options.appPassword, signing.privateKey, other.privateKey, `key-${randomBytes(4).toString('hex')}`, signing.publicKey.export({ format: 'jwk' }));
    for (const user of options.users) fake.users.set(user.id, user);
    server.on('request', (req, res) => {
      fake.handle(req, res).catch((error: unknown) => {
        res.writeHead(500, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { code: 'FakeFailed', message: String(error) } }));
      });
    });
    return fake;
  }

  /** TEAMS_OPENID_METADATA_URL. */
  get openIdMetadataUrl(): string {
    return `${this.baseUrl}/openid/v1/.well-known/openidconfiguration`;
  }

  /** TEAMS_TOKEN_URL. */
  get tokenUrl(): string {
    return `${this.baseUrl}/oauth2/v2.0/token`;
  }

  /** The activities' serviceUrl (with its trailing slash, as Teams sends it). */
  get serviceUrl(): string {
    return `${this.baseUrl}/connector/`;
  }

  stop(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  // ---- inbound: tokens and activities ------------------------------------------------------------

  /** A Bot Connector token for an activity, or one with the given flaw. */
  token(flaw?: TokenFlaw): string {
    const now = Math.floor(Date.now() / 1000);
    const claims = {
      iss: flaw === 'wrongIssuer' ? 'https://api.botframework.example' : BOT_CONNECTOR_ISSUER,
      aud: flaw === 'wrongAudience' ? '11111111-2222-4333-8444-555555555555' : this.appId,
      serviceurl: flaw === 'wrongServiceUrl' ? 'https://smba.trafficmanager.net/amer/' : this.serviceUrl,
      nbf: now - 60,
      iat: now - 60,
      exp: flaw === 'expired' ? now - 3600 : now + 3600,
    };
    const kid = flaw === 'unknownKid' ? 'no-such-key' : this.keyId;
    if (flaw === 'algNone') return `${base64url({ alg: 'none', typ: 'JWT', kid })}.${base64url(claims)}.`;
    const header = { alg: 'RS256', typ: 'JWT', kid };
    const input = `${base64url(header)}.${base64url(claims)}`;
    const key = flaw === 'forged' || flaw === 'unknownKid' ? this.otherKey : this.signingKey;
    return `${input}.${createSign('RSA-SHA256').update(input).sign(key).toString('base64url')}`;
  }

  personalConversationId(user: FakeTeamsUser): string {
    return `a:personal-${user.id}`;
  }

  /** The fields every activity from Teams carries. */
  private envelope(user: FakeTeamsUser, conversation: ConversationSpec): Record<string, unknown> {
    this.counter += 1;
    return {
      id: `in-${this.counter}`,
      channelId: 'msteams',
      serviceUrl: this.serviceUrl,
      timestamp: new Date().toISOString(),
      from: { id: user.id, aadObjectId: user.aadObjectId, name: user.email ?? user.id },
      recipient: { id: `28:${this.appId}`, name: 'P0' },
      conversation: { id: conversation.id, conversationType: conversation.type, tenantId: conversation.tenantId ?? FAKE_TENANT_ID, ...(conversation.type === 'personal' ? {} : { isGroup: true }) },
      channelData: {
        tenant: { id: conversation.tenantId ?? FAKE_TENANT_ID },
        ...(conversation.teamId ? { team: { id: conversation.teamId }, channel: { id: conversation.id } } : {}),
      },
    };
  }

  personal(user: FakeTeamsUser): ConversationSpec {
    return { id: this.personalConversationId(user), type: 'personal' };
  }

  /** The app installed in a person's scope: the bot is added to their 1:1 chat. */
  install(user: FakeTeamsUser, conversation: ConversationSpec = this.personal(user)): Record<string, unknown> {
    return { ...this.envelope(user, conversation), type: 'conversationUpdate', membersAdded: [{ id: `28:${this.appId}` }] };
  }

  /** A message to the bot; outside a 1:1 chat it mentions the bot, as Teams requires. */
  message(user: FakeTeamsUser, conversation: ConversationSpec, text: string): Record<string, unknown> {
    const mention = conversation.type === 'personal' ? undefined : '<at>P0</at>';
    return {
      ...this.envelope(user, conversation),
      type: 'message',
      text: mention ? `${mention} ${text}` : text,
      textFormat: 'plain',
      ...(mention ? { entities: [{ type: 'mention', text: mention, mentioned: { id: `28:${this.appId}`, name: 'P0' } }] } : {}),
    };
  }

  /** A click on a card's Action.Execute (or Teams' refresh of it), with the card's input values merged into its data. */
  execute(user: FakeTeamsUser, sent: SentActivity, action: CardElement, inputs: Record<string, string> = {}): Record<string, unknown> {
    const conversation = this.conversationOf(sent);
    return {
      ...this.envelope(user, conversation),
      type: 'invoke',
      name: 'adaptiveCard/action',
      replyToId: sent.id,
      value: { action: { type: 'Action.Execute', verb: action.verb, data: { ...(action.data ?? {}), ...inputs } }, trigger: 'manual' },
    };
  }

  private readonly conversations = new Map<string, ConversationSpec>();

  /** Registers a channel (or group chat) conversation the tests use. */
  channel(id: string, teamId?: string): ConversationSpec {
    const spec: ConversationSpec = { id, type: teamId ? 'channel' : 'groupChat', teamId };
    this.conversations.set(id, spec);
    return spec;
  }

  private conversationOf(sent: SentActivity): ConversationSpec {
    return this.conversations.get(sent.conversationId) ?? { id: sent.conversationId, type: 'personal' };
  }

  // ---- what the bot sent -----------------------------------------------------------------------

  in(conversationId: string): SentActivity[] {
    return this.sent.filter((activity) => activity.conversationId === conversationId);
  }

  /** Polls until `probe` returns something truthy. */
  async waitFor<T>(what: string, probe: () => T | undefined | false, timeoutMs = 20_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = probe();
      if (value) return value;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  // ---- the HTTP side -----------------------------------------------------------------------------

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.baseUrl);
    const body = await readBody(req);
    const json = (status: number, value: unknown): void => {
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(value));
    };
    if (req.method === 'GET' && url.pathname === '/openid/v1/.well-known/openidconfiguration') {
      return json(200, { issuer: BOT_CONNECTOR_ISSUER, jwks_uri: `${this.baseUrl}/openid/v1/keys`, id_token_signing_alg_values_supported: ['RS256'] });
    }
    if (req.method === 'GET' && url.pathname === '/openid/v1/keys') {
      return json(200, { keys: [{ ...this.publicJwk, kid: this.keyId, use: 'sig', endorsements: ['msteams'] }] });
    }
    if (req.method === 'POST' && url.pathname === '/oauth2/v2.0/token') {
      const form = Object.fromEntries(new URLSearchParams(body));
      this.tokenRequests.push(form);
      if (form.grant_type !== 'client_credentials' || form.client_id !== this.appId || form.client_secret !== this.appPassword) {
        return json(401, { error: 'invalid_client', error_description: 'AADSTS7000215: Invalid client secret provided.' });
      }
      if (form.scope !== BOT_CONNECTOR_SCOPE) return json(400, { error: 'invalid_scope', error_description: `unexpected scope ${form.scope}` });
      const token = randomBytes(24).toString('base64url');
      this.issuedTokens.add(token);
      return json(200, { token_type: 'Bearer', expires_in: 3599, ext_expires_in: 3599, access_token: token });
    }
    const connector = /^\/connector\/v3\/conversations\/([^/]+)(?:\/(activities|members)(?:\/([^/]+))?)?$/.exec(url.pathname);
    if (!connector) return json(404, { error: { code: 'NotFound', message: `${req.method} ${url.pathname}` } });
    const bearer = /^Bearer (\S+)$/.exec(req.headers.authorization ?? '')?.[1];
    if (!bearer || !this.issuedTokens.has(bearer)) {
      this.refusedCalls.push(`${req.method} ${url.pathname}`);
      return json(401, { message: 'Authorization has been denied for this request.' });
    }
    const conversationId = decodeURIComponent(connector[1]!);
    const [kind, itemId] = [connector[2], connector[3] === undefined ? undefined : decodeURIComponent(connector[3])];
    if (req.method === 'GET' && kind === 'members' && itemId) {
      this.memberLookups.push(itemId);
      const user = this.users.get(itemId);
      if (!user) return json(404, { error: { code: 'MemberNotFoundInConversation', message: 'The member was not found in the conversation' } });
      return json(200, {
        id: user.id,
        name: user.email ?? user.id,
        aadObjectId: user.aadObjectId,
        email: user.email,
        userPrincipalName: user.userPrincipalName ?? user.email,
        tenantId: user.tenantId ?? FAKE_TENANT_ID,
        userRole: user.userRole ?? 'user',
      });
    }
    if (kind !== 'activities') return json(404, { error: { code: 'NotFound', message: `${req.method} ${url.pathname}` } });
    const activity = JSON.parse(body) as Omit<SentActivity, 'id' | 'conversationId' | 'updates'>;
    if (req.method === 'POST') {
      this.counter += 1;
      const id = `out-${this.counter}`;
      this.sent.push({ ...pick(activity), id, conversationId, ...(itemId ? { replyToId: itemId } : {}), updates: 0 });
      return json(200, { id });
    }
    if (req.method === 'PUT' && itemId) {
      const existing = this.sent.find((candidate) => candidate.id === itemId && candidate.conversationId === conversationId);
      if (!existing) return json(404, { error: { code: 'ActivityNotFoundInConversation', message: `no activity ${itemId}` } });
      Object.assign(existing, pick(activity), { updates: existing.updates + 1 });
      return json(200, { id: itemId });
    }
    return json(405, { error: { code: 'MethodNotAllowed', message: String(req.method) } });
  }
}

export interface ConversationSpec {
  id: string;
  type: 'personal' | 'groupChat' | 'channel';
  teamId?: string;
  tenantId?: string;
}

function pick(activity: Partial<SentActivity>): Omit<SentActivity, 'id' | 'conversationId' | 'updates'> {
  return { type: activity.type ?? 'message', text: activity.text, summary: activity.summary, attachments: activity.attachments };
}

function base64url(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

function readBody(req: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/** The card an activity carries. */
export function cardOf(activity: SentActivity | undefined): Card | undefined {
  return activity?.attachments?.find((attachment) => attachment.contentType === 'application/vnd.microsoft.card.adaptive')?.content;
}

/** Every element of a card, nested containers and show-cards included. */
export function elementsOf(card: Card | undefined): CardElement[] {
  const found: CardElement[] = [];
  const visit = (element: CardElement) => {
    found.push(element);
    for (const child of [...((element.items as CardElement[] | undefined) ?? []), ...(element.card ? [...(element.card.body ?? []), ...(element.card.actions ?? [])] : [])]) visit(child);
  };
  for (const element of [...(card?.body ?? []), ...(card?.actions ?? [])]) visit(element);
  return found;
}

/** The verbs of a card's Action.Execute actions (those inside a Deny show-card included), in order. */
export function verbsOf(card: Card | undefined): string[] {
  return elementsOf(card).filter((element) => element.type === 'Action.Execute' && element.verb).map((element) => element.verb!);
}

export function actionOf(card: Card | undefined, verb: string): CardElement {
  const action = elementsOf(card).find((element) => element.type === 'Action.Execute' && element.verb === verb);
  if (!action) throw new Error(`the card has no ${verb} action: ${JSON.stringify(card)}`);
  return action;
}

export function inputOf(card: Card | undefined, id: string): CardElement | undefined {
  return elementsOf(card).find((element) => element.id === id);
}

/** Everything a card says, as one string. */
export function textOf(card: Card | undefined): string {
  return elementsOf(card)
    .flatMap((element) => [element.text, ...((element.facts as Array<{ title: string; value: string }> | undefined) ?? []).map((fact) => `${fact.title}: ${fact.value}`)])
    .filter((part): part is string => typeof part === 'string')
    .join('\n');
}

/** The bot's HTTP endpoint, as the Bot Connector calls it. */
export async function postActivity(url: string, activity: Record<string, unknown>, token: string | undefined): Promise<{ status: number; body: { statusCode?: number; type?: string; value?: Card } & Record<string, unknown>; raw: string }> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token === undefined ? {} : { authorization: `Bearer ${token}` }) },
    body: JSON.stringify(activity),
  });
  const raw = await response.text();
  let body: Record<string, unknown> = {};
  try {
    body = raw ? (JSON.parse(raw) as Record<string, unknown>) : {};
  } catch {
    // a plain-text answer (an error message)
  }
  return { status: response.status, body, raw };
}
