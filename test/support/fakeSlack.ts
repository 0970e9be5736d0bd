/**
 * A small fake of Slack for the Slack app's tests, both directions:
 *
 * - the Web API the app and the notifier call (`SLACK_API_URL` / `clientOptions.slackApiUrl` point
 *   here): users.info, users.lookupByEmail, conversations.open, views.open/update,
 *   chat.postMessage/update/postEphemeral, auth.test. It checks the bot token as Slack does (HTTP
 *   200 with `ok: false, error: invalid_auth`), records every call, and keeps the views and messages
 *   it was given so tests can read them and click their buttons;
 * - Slack's side of /slack/events: slash commands and interactions (block_actions,
 *   view_submission) built the way Slack builds them, form-encoded and signed with the signing
 *   secret (HMAC-SHA256 of `v0:<timestamp>:<body>`), plus the `response_url`s Slack hands out.
 */
import { createHmac } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakeSlackUser {
  id: string;
  email: string;
  name?: string;
  tz?: string;
  /** The workspace the account belongs to (users.info `team_id`); default FAKE_TEAM_ID. */
  teamId?: string;
  /** Multi-channel guest (`is_restricted`). */
  isRestricted?: boolean;
  /** Single-channel guest (`is_ultra_restricted`). */
  isUltraRestricted?: boolean;
  /** Someone from another organization in a Slack Connect channel (`is_stranger`). */
  isStranger?: boolean;
}

export interface RecordedCall {
  method: string;
  args: Record<string, unknown>;
  /** What the fake answered (`ok: false` with `error` for refusals). */
  answer: Record<string, unknown>;
  at: number;
}

/** The parts of Block Kit JSON the fake and the tests read. */
export interface SlackText {
  type: string;
  text: string;
}

export interface SlackOption {
  text: SlackText;
  value: string;
  description?: SlackText;
}

export interface SlackElement {
  type: string;
  action_id?: string;
  value?: string;
  text?: SlackText;
  options?: SlackOption[];
  initial_option?: SlackOption;
  initial_options?: SlackOption[];
  initial_value?: string;
}

export interface SlackBlock {
  type: string;
  block_id?: string;
  text?: SlackText;
  hint?: SlackText;
  optional?: boolean;
  element?: SlackElement;
  elements?: SlackElement[];
  accessory?: SlackElement;
}

export interface SlackView {
  type: string;
  callback_id?: string;
  private_metadata?: string;
  title?: SlackText;
  blocks: SlackBlock[];
}

/** One input's value in a view's state, as Slack reports it. */
export interface SlackStateValue {
  type: string;
  selected_option?: SlackOption | null;
  selected_options?: SlackOption[];
  value?: string | null;
}

export type SlackStateValues = Record<string, Record<string, SlackStateValue>>;

/** What the app answers in an HTTP response to Slack (an ack with a body), or posts to a response_url. */
export interface SlackAck {
  response_type?: string;
  replace_original?: boolean;
  text?: string;
  response_action?: string;
  errors?: Record<string, string>;
  view?: SlackView;
}

/** An interaction payload, as Slack posts it (`payload=<json>`). */
export interface InteractionPayload {
  type: 'block_actions' | 'view_submission';
  trigger_id: string;
  user: { id: string; [field: string]: unknown };
  actions?: Array<{ action_id: string; [field: string]: unknown }>;
  view?: SlackView & { id: string };
  [field: string]: unknown;
}

export interface FakeMessage {
  channel: string;
  ts: string;
  text: string;
  blocks: SlackBlock[];
  /** How many times chat.update changed it. */
  updates: number;
}

export interface FakeView {
  id: string;
  hash: string;
  view: SlackView;
  /** What the person has entered: block id -> action id -> Slack's state value. */
  values: SlackStateValues;
}

export interface ResponseUrlPost {
  path: string;
  body: SlackAck;
}

export const FAKE_TEAM_ID = 'T0P0TEST';

export class FakeSlack {
  readonly calls: RecordedCall[] = [];
  readonly responses: ResponseUrlPost[] = [];
  readonly views = new Map<string, FakeView>();
  readonly messages = new Map<string, FakeMessage>();
  private readonly users = new Map<string, FakeSlackUser>();
  private counter = 0;

  private constructor(
    private readonly server: http.Server,
    readonly baseUrl: string,
    readonly botToken: string,
  ) {}

  static async start(options: { botToken: string; users?: FakeSlackUser[] }): Promise<FakeSlack> {
    const handlers: { fake?: FakeSlack } = {};
    const server = http.createServer((req, res) => {
      void handlers.fake!.handle(req, res);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    const { port } = server.address() as AddressInfo;
    const fake = new FakeSlack(server, `http://127.0.0.1:${port}`, options.botToken);
    handlers.fake = fake;
    for (const user of options.users ?? []) fake.addUser(user);
    return fake;
  }

  /** The Web API base URL, for SLACK_API_URL. */
  get apiUrl(): string {
    return `${this.baseUrl}/api/`;
  }

  addUser(user: FakeSlackUser): void {
    this.users.set(user.id, user);
  }

  /** The bot's direct-message channel with a user (what conversations.open answers). */
  dmChannelOf(userId: string): string {
    return `D${userId}`;
  }

  /** A fresh response_url, as Slack sends with each command and interaction. */
  newResponseUrl(): string {
    this.counter += 1;
    return `${this.baseUrl}/respond/${this.counter}`;
  }

  callsTo(method: string): RecordedCall[] {
    return this.calls.filter((call) => call.method === method);
  }

  messagesIn(channel: string): FakeMessage[] {
    return [...this.messages.values()].filter((message) => message.channel === channel);
  }

  /** Polls until `probe` returns something (not undefined/false), or fails naming `what`. */
  async waitFor<T>(what: string, probe: () => T | undefined | false, timeoutMs = 20_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = probe();
      if (found !== undefined && found !== false) return found;
      if (Date.now() > deadline) throw new Error(`fake Slack: timed out waiting for ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  stop(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  // ---- what Slack sends to the app ---------------------------------------------------------------

  /** The form fields of a slash command typed by `user` (in workspace `team`). */
  slashCommand(user: FakeSlackUser, text: string, channel = 'C0GENERAL', team = FAKE_TEAM_ID): Record<string, string> {
    this.counter += 1;
    return {
      token: 'deprecated-verification-token',
      team_id: team,
      team_domain: 'p0-test',
      channel_id: channel,
      channel_name: 'general',
      user_id: user.id,
      user_name: user.name ?? user.id,
      command: '/p0',
      text,
      api_app_id: 'A0P0TEST',
      response_url: this.newResponseUrl(),
      trigger_id: `trigger.${this.counter}`,
    };
  }

  /** `user` clicks the button `actionId` on a message the app posted (in workspace `team`). */
  clickButton(user: FakeSlackUser, message: FakeMessage, actionId: string, team = FAKE_TEAM_ID): InteractionPayload {
    const found = findElement(message.blocks, actionId);
    if (!found) throw new Error(`fake Slack: no button ${actionId} on message ${message.channel}/${message.ts}: ${JSON.stringify(message.blocks)}`);
    this.counter += 1;
    return {
      type: 'block_actions',
      user: { id: user.id, username: user.name ?? user.id, name: user.name ?? user.id, team_id: user.teamId ?? team },
      api_app_id: 'A0P0TEST',
      token: 'deprecated-verification-token',
      container: { type: 'message', message_ts: message.ts, channel_id: message.channel, is_ephemeral: false },
      trigger_id: `trigger.${this.counter}`,
      team: { id: team, domain: 'p0-test' },
      channel: { id: message.channel, name: message.channel.startsWith('D') ? 'directmessage' : 'approvals' },
      message: { type: 'message', ts: message.ts, text: message.text, blocks: message.blocks },
      response_url: this.newResponseUrl(),
      actions: [{ type: 'button', action_id: actionId, block_id: found.blockId, value: found.element.value, text: found.element.text, action_ts: `${Date.now() / 1000}` }],
    };
  }

  /** `user` picks `value` in the select `actionId` of an open modal (a dispatching input). */
  selectInView(user: FakeSlackUser, viewId: string, actionId: string, value: string): InteractionPayload {
    const stored = this.requireView(viewId);
    const found = findElement(stored.view.blocks, actionId);
    if (!found) throw new Error(`fake Slack: no element ${actionId} in view ${viewId}: ${JSON.stringify(stored.view.blocks)}`);
    const option = (found.element.options ?? []).find((candidate) => candidate.value === value);
    if (!option) throw new Error(`fake Slack: ${actionId} offers no option ${value}: ${JSON.stringify(found.element.options)}`);
    stored.values[found.blockId] = { ...stored.values[found.blockId], [actionId]: { type: 'static_select', selected_option: option } };
    this.counter += 1;
    return {
      type: 'block_actions',
      user: { id: user.id, username: user.name ?? user.id, name: user.name ?? user.id, team_id: FAKE_TEAM_ID },
      api_app_id: 'A0P0TEST',
      token: 'deprecated-verification-token',
      container: { type: 'view', view_id: viewId },
      trigger_id: `trigger.${this.counter}`,
      team: { id: FAKE_TEAM_ID, domain: 'p0-test' },
      view: this.viewPayload(stored),
      actions: [{ type: 'static_select', action_id: actionId, block_id: found.blockId, selected_option: option, action_ts: `${Date.now() / 1000}` }],
    };
  }

  /** `user` types into the modal: plain text inputs by action id (`p0_reason`), checkboxes by a list of values. */
  fillInView(viewId: string, inputs: Record<string, string | string[]>): void {
    const stored = this.requireView(viewId);
    for (const [actionId, value] of Object.entries(inputs)) {
      const found = findElement(stored.view.blocks, actionId);
      if (!found) throw new Error(`fake Slack: no input ${actionId} in view ${viewId}`);
      const options = found.element.options ?? [];
      let state: SlackStateValue;
      if (found.element.type === 'checkboxes') {
        state = { type: 'checkboxes', selected_options: options.filter((candidate) => [value].flat().includes(candidate.value)) };
      } else if (found.element.type === 'static_select') {
        state = { type: 'static_select', selected_option: options.find((candidate) => candidate.value === value) ?? null };
      } else {
        state = { type: found.element.type, value: [value].flat().join('') };
      }
      stored.values[found.blockId] = { ...stored.values[found.blockId], [actionId]: state };
    }
  }

  /** `user` presses the modal's submit button. */
  submitView(user: FakeSlackUser, viewId: string): InteractionPayload {
    const stored = this.requireView(viewId);
    this.counter += 1;
    return {
      type: 'view_submission',
      team: { id: FAKE_TEAM_ID, domain: 'p0-test' },
      user: { id: user.id, username: user.name ?? user.id, name: user.name ?? user.id, team_id: FAKE_TEAM_ID },
      api_app_id: 'A0P0TEST',
      token: 'deprecated-verification-token',
      trigger_id: `trigger.${this.counter}`,
      view: this.viewPayload(stored),
      response_urls: [],
    };
  }

  /** The modal opened with this trigger id. */
  viewOpenedWith(triggerId: string): FakeView | undefined {
    const call = this.callsTo('views.open').find((candidate) => candidate.args.trigger_id === triggerId && candidate.answer.ok === true);
    const id = (call?.answer.view as { id?: string } | undefined)?.id;
    return id === undefined ? undefined : this.views.get(id);
  }

  private requireView(viewId: string): FakeView {
    const stored = this.views.get(viewId);
    if (!stored) throw new Error(`fake Slack: no view ${viewId}`);
    return stored;
  }

  private viewPayload(stored: FakeView): SlackView & { id: string; [field: string]: unknown } {
    return {
      ...stored.view,
      id: stored.id,
      team_id: FAKE_TEAM_ID,
      app_id: 'A0P0TEST',
      bot_id: 'B0P0TEST',
      hash: stored.hash,
      private_metadata: stored.view.private_metadata ?? '',
      state: { values: structuredClone(stored.values) },
      root_view_id: stored.id,
      previous_view_id: null,
      clear_on_close: false,
      notify_on_close: false,
    };
  }

  // ---- the Web API ---------------------------------------------------------------------------

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    const url = new URL(req.url ?? '/', this.baseUrl);
    if (url.pathname.startsWith('/respond/')) {
      this.responses.push({ path: url.pathname, body: raw ? (JSON.parse(raw) as SlackAck) : {} });
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
      return;
    }
    const method = url.pathname.startsWith('/api/') ? url.pathname.slice('/api/'.length) : '';
    const args = parseArgs(raw, req.headers['content-type']);
    const token = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '')?.[1] ?? (typeof args.token === 'string' ? args.token : undefined);
    let answer: Record<string, unknown>;
    if (!method) {
      res.writeHead(404).end();
      return;
    }
    // Slack refuses a missing or wrong token with HTTP 200 and ok: false, like every other refusal.
    if (token === undefined) answer = { ok: false, error: 'not_authed' };
    else if (token !== this.botToken) answer = { ok: false, error: 'invalid_auth' };
    else answer = this.answer(method, args);
    this.calls.push({ method, args, answer, at: Date.now() });
    res.writeHead(200, { 'content-type': 'application/json; charset=utf-8' }).end(JSON.stringify(answer));
  }

  private answer(method: string, args: Record<string, unknown>): Record<string, unknown> {
    switch (method) {
      case 'auth.test':
        return { ok: true, url: 'https://p0-test.slack.com/', team: 'p0 test', user: 'p0', team_id: FAKE_TEAM_ID, user_id: 'U0P0BOT', bot_id: 'B0P0TEST' };
      case 'users.info': {
        const user = this.users.get(text(args.user));
        return user ? { ok: true, user: slackUser(user) } : { ok: false, error: 'user_not_found' };
      }
      case 'users.lookupByEmail': {
        const user = [...this.users.values()].find((candidate) => candidate.email.toLowerCase() === text(args.email).toLowerCase());
        return user ? { ok: true, user: slackUser(user) } : { ok: false, error: 'users_not_found' };
      }
      case 'conversations.open': {
        const userId = text(args.users);
        if (!this.users.has(userId)) return { ok: false, error: 'user_not_found' };
        return { ok: true, channel: { id: this.dmChannelOf(userId) } };
      }
      case 'views.open': {
        if (!args.trigger_id) return { ok: false, error: 'invalid_arguments' };
        this.counter += 1;
        const view = args.view as SlackView;
        const stored: FakeView = { id: `V${String(this.counter).padStart(8, '0')}`, hash: `hash.${this.counter}`, view, values: initialValues(view, {}) };
        this.views.set(stored.id, stored);
        return { ok: true, view: this.viewPayload(stored) };
      }
      case 'views.update': {
        const stored = this.views.get(text(args.view_id));
        if (!stored) return { ok: false, error: 'not_found' };
        if (args.hash !== undefined && args.hash !== stored.hash) return { ok: false, error: 'hash_conflict' };
        this.counter += 1;
        stored.view = args.view as SlackView;
        stored.hash = `hash.${this.counter}`;
        // Slack keeps what was entered in blocks whose block id (and action id) survive the update.
        stored.values = initialValues(stored.view, stored.values);
        return { ok: true, view: this.viewPayload(stored) };
      }
      case 'chat.postMessage': {
        if (!args.channel) return { ok: false, error: 'channel_not_found' };
        this.counter += 1;
        const ts = `${Math.floor(Date.now() / 1000)}.${String(this.counter).padStart(6, '0')}`;
        const message: FakeMessage = { channel: text(args.channel), ts, text: text(args.text), blocks: (args.blocks as SlackBlock[] | undefined) ?? [], updates: 0 };
        this.messages.set(messageKey(message.channel, ts), message);
        return { ok: true, channel: message.channel, ts, message: { type: 'message', ts, text: message.text, blocks: message.blocks } };
      }
      case 'chat.update': {
        const message = this.messages.get(messageKey(text(args.channel), text(args.ts)));
        if (!message) return { ok: false, error: 'message_not_found' };
        message.text = typeof args.text === 'string' ? args.text : message.text;
        message.blocks = (args.blocks as SlackBlock[] | undefined) ?? message.blocks;
        message.updates += 1;
        return { ok: true, channel: message.channel, ts: message.ts, text: message.text };
      }
      case 'chat.postEphemeral':
        if (!args.channel || !args.user) return { ok: false, error: 'invalid_arguments' };
        this.counter += 1;
        return { ok: true, message_ts: `${Math.floor(Date.now() / 1000)}.${String(this.counter).padStart(6, '0')}` };
      default:
        return { ok: false, error: 'unknown_method' };
    }
  }
}

/** The ephemeral texts a user was sent with chat.postEphemeral. */
export function ephemeralTexts(fake: FakeSlack, user: FakeSlackUser): string[] {
  return fake.callsTo('chat.postEphemeral').filter((call) => call.args.user === user.id && call.answer.ok === true).map((call) => String(call.args.text));
}

/** Every text in a message's blocks, flattened (for assertions). */
export function messageText(message: { blocks: readonly object[] }): string {
  const texts: string[] = [];
  const walk = (node: unknown) => {
    if (Array.isArray(node)) node.forEach(walk);
    else if (node && typeof node === 'object') {
      const { text } = node as { text?: unknown };
      if (typeof text === 'string') texts.push(text);
      Object.values(node).forEach(walk);
    }
  };
  walk(message.blocks);
  return texts.join('\n');
}

/** The action ids of a message's buttons. */
export function buttonsOf(message: { blocks: readonly object[] }): string[] {
  return (message.blocks as SlackBlock[]).flatMap((block) => (block.type === 'actions' ? (block.elements ?? []).map((element) => element.action_id ?? '') : []));
}

/** The values the buttons carry back when clicked, in order. */
export function buttonValuesOf(message: { blocks: readonly object[] }): string[] {
  return (message.blocks as SlackBlock[]).flatMap((block) => (block.type === 'actions' ? (block.elements ?? []).map((element) => element.value ?? '') : []));
}

/** An input element of a view or message by its action id, with its block id. */
export function findElement(blocks: readonly SlackBlock[], actionId: string): { blockId: string; element: SlackElement } | undefined {
  for (const block of blocks) {
    const blockId = block.block_id ?? '';
    if (block.element?.action_id === actionId) return { blockId, element: block.element };
    for (const element of block.elements ?? []) {
      if (element.action_id === actionId) return { blockId, element };
    }
    if (block.accessory?.action_id === actionId) return { blockId, element: block.accessory };
  }
  return undefined;
}

// ---- signed requests to the app ----------------------------------------------------------------

export interface SignedAnswer {
  status: number;
  /** The response body as text ('' for a bare acknowledgement). */
  raw: string;
  /** The response body parsed ({} when it is not JSON). */
  body: SlackAck;
  elapsedMs: number;
}

/**
 * Posts to the app's /slack/events as Slack does: form-encoded, with `X-Slack-Request-Timestamp`
 * and `X-Slack-Signature` (`v0=` + HMAC-SHA256 of `v0:<timestamp>:<body>` with the signing secret).
 */
export class SlackEventsClient {
  /** How long each answered request took, for the 3-second rule. */
  readonly timings: Array<{ what: string; elapsedMs: number }> = [];

  constructor(
    private readonly url: string,
    private readonly signingSecret: string,
  ) {}

  command(fields: Record<string, string>, options: SignOptions = {}): Promise<SignedAnswer> {
    return this.post(`command ${fields.text}`, new URLSearchParams(fields).toString(), options);
  }

  interaction(payload: InteractionPayload, options: SignOptions = {}): Promise<SignedAnswer> {
    const what = payload.type === 'block_actions' ? `block_actions ${payload.actions?.[0]?.action_id}` : `${payload.type} ${payload.view?.callback_id}`;
    return this.post(what, new URLSearchParams({ payload: JSON.stringify(payload) }).toString(), options);
  }

  private async post(what: string, body: string, options: SignOptions): Promise<SignedAnswer> {
    const timestamp = options.timestamp ?? Math.floor(Date.now() / 1000);
    const signature = options.signature ?? signSlackRequest(options.secret ?? this.signingSecret, timestamp, body);
    const started = performance.now();
    const response = await fetch(this.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        'x-slack-request-timestamp': String(timestamp),
        'x-slack-signature': signature,
      },
      body,
    });
    const text = await response.text();
    const elapsedMs = performance.now() - started;
    this.timings.push({ what, elapsedMs });
    let parsed: SlackAck = {};
    try {
      if (text) parsed = JSON.parse(text) as SlackAck;
    } catch {
      // not JSON: the text is in `raw`
    }
    return { status: response.status, raw: text, body: parsed, elapsedMs };
  }
}

export interface SignOptions {
  /** Unix seconds; default now. */
  timestamp?: number;
  /** A signature to send instead of the right one. */
  signature?: string;
  /** Sign with another secret. */
  secret?: string;
}

export function signSlackRequest(signingSecret: string, timestamp: number, body: string): string {
  return `v0=${createHmac('sha256', signingSecret).update(`v0:${timestamp}:${body}`).digest('hex')}`;
}

function slackUser(user: FakeSlackUser): Record<string, unknown> {
  return {
    id: user.id,
    team_id: user.teamId ?? FAKE_TEAM_ID,
    name: user.name ?? user.id,
    deleted: false,
    is_bot: false,
    is_restricted: user.isRestricted ?? false,
    is_ultra_restricted: user.isUltraRestricted ?? false,
    ...(user.isStranger ? { is_stranger: true } : {}),
    tz: user.tz ?? 'UTC',
    profile: { email: user.email, real_name: user.name ?? user.id },
  };
}

/** A Web API argument that should be a string ('' when it is not). */
function text(value: unknown): string {
  return typeof value === 'string' ? value : '';
}

function messageKey(channel: string, ts: string): string {
  return `${channel}/${ts}`;
}

/** Web API arguments: form fields (objects arrive JSON-encoded, as the Slack client sends them) or JSON. */
function parseArgs(raw: string, contentType: string | undefined): Record<string, unknown> {
  if (!raw) return {};
  if (contentType?.includes('application/json')) return JSON.parse(raw) as Record<string, unknown>;
  const args: Record<string, unknown> = {};
  for (const [key, value] of new URLSearchParams(raw)) {
    args[key] = /^[[{]/.test(value) ? tryJson(value) : value;
  }
  return args;
}

function tryJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

/** The state Slack starts a view with: initial options and values, kept entries where block and action ids survive. */
function initialValues(view: SlackView, kept: SlackStateValues): SlackStateValues {
  const values: SlackStateValues = {};
  for (const block of view.blocks) {
    const element = block.element;
    if (block.type !== 'input' || !element?.action_id || !block.block_id) continue;
    const previous = kept[block.block_id]?.[element.action_id];
    let state: SlackStateValue;
    if (previous !== undefined) state = previous;
    else if (element.type === 'static_select') state = { type: 'static_select', selected_option: element.initial_option ?? null };
    else if (element.type === 'checkboxes') state = { type: 'checkboxes', selected_options: element.initial_options ?? [] };
    else state = { type: element.type, value: element.initial_value ?? null };
    values[block.block_id] = { [element.action_id]: state };
  }
  return values;
}
