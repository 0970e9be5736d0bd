/**
 * The Slack notifier: runs in the worker, one of the channels `recordEvent` tells. For every
 * recorded state change of a request it posts, or updates in place, the requester's direct message
 * and the approvers' messages (each approver's direct message, or one post in the configured
 * approval channel), so everyone sees the same state: "Approved by bob", "Active until 14:32",
 * "Relinquished". The buttons on these messages come back to the Slack app (bots/slack/app.ts).
 *
 * A person who is not in the Slack workspace (no user with their email) is skipped, not an error.
 */
import type { webApi } from '@slack/bolt';
import type { Notification, Notifier } from '../../activities';
import type { AuditEventType } from '../../shared/events';
import type { RequestView } from '../../shared/request';
import type { ChatMessage } from './blockKit';
import { approverMessage, concernsApprovers, requesterMessage } from './messages';
import { SlackDirectory } from './directory';
import { createWebClient, type SlackSettings } from './settings';

export const SLACK_PLATFORM = 'slack';

/** What the notifier keeps about posted messages (db/chatMessageStore.ts implements it). */
export interface ChatMessageRecords {
  list(platform: string, requestId: string, audience: string): Promise<StoredChatMessage[]>;
  get(key: ChatMessageRef): Promise<StoredChatMessage | undefined>;
  claim(key: ChatMessageRef, options: { recipient?: string; version: number }): Promise<{ claimed: true; token: string } | { claimed: false; existing: StoredChatMessage }>;
  posted(key: ChatMessageRef, token: string, messageId: string, version: number): Promise<void>;
  release(key: ChatMessageRef, token: string): Promise<void>;
  advance(key: ChatMessageRef, version: number): Promise<boolean>;
}

export interface ChatMessageRef {
  platform: string;
  requestId: string;
  audience: string;
  conversation: string;
}

export interface StoredChatMessage extends ChatMessageRef {
  recipient?: string;
  messageId?: string;
  version: number;
}

export interface SlackNotifierOptions {
  settings: SlackSettings;
  /** The message records; a promise is fine (the store is opened asynchronously). */
  messages: ChatMessageRecords | PromiseLike<ChatMessageRecords>;
  /** The channel id approvers are asked in (config `slack.approvalChannel`); their direct messages when undefined. */
  approvalChannel?: () => string | undefined;
  /** Injected in tests; built from `settings` otherwise. */
  client?: webApi.WebClient;
}

/** How long a notification waits for another worker that is posting the same message. */
const WAIT_FOR_OTHER_POSTER_MS = 10_000;

interface Recipient {
  conversation: string;
  /** The person, for a direct message. */
  email?: string;
  timeZone?: string;
}

export function createSlackNotifier(options: SlackNotifierOptions): Notifier {
  // The activity retries a failed notification itself: keep each Slack call's own retries short.
  const client = options.client ?? createWebClient(options.settings, { retries: 1 });
  const directory = new SlackDirectory(client);
  const approvalChannel = options.approvalChannel ?? (() => undefined);
  /** One notification per request at a time in this process, in the order they arrive. */
  const queues = new Map<string, Promise<void>>();

  async function notify({ event, view }: Notification): Promise<void> {
    const messages = await options.messages;
    await Promise.all([notifyRequester(messages, event, view), notifyApprovers(messages, event, view)]);
  }

  async function notifyRequester(messages: ChatMessageRecords, event: AuditEventType, view: RequestView): Promise<void> {
    const person = await directory.findByEmail(view.requester);
    if (!person) return;
    const conversation = await directory.directMessageChannel(person.id);
    await deliver(messages, { platform: SLACK_PLATFORM, requestId: view.id, audience: 'requester', conversation }, view.version, person.email, () =>
      requesterMessage(event, view, { timeZone: person.timeZone }),
    );
  }

  async function notifyApprovers(messages: ChatMessageRecords, event: AuditEventType, view: RequestView): Promise<void> {
    const existing = await messages.list(SLACK_PLATFORM, view.id, 'approvers');
    // Approvers hear about a request when they have something to do; once told, they see how it ends.
    if (existing.length === 0 && !concernsApprovers(view)) return;
    const recipients = new Map<string, Recipient>();
    for (const message of existing) {
      const person = message.recipient ? await directory.findByEmail(message.recipient) : undefined;
      recipients.set(message.conversation, { conversation: message.conversation, email: message.recipient, timeZone: person?.timeZone });
    }
    if (concernsApprovers(view)) {
      for (const recipient of await approverRecipients(view)) {
        if (!recipients.has(recipient.conversation)) recipients.set(recipient.conversation, recipient);
      }
    }
    await Promise.all(
      [...recipients.values()].map((recipient) =>
        deliver(messages, { platform: SLACK_PLATFORM, requestId: view.id, audience: 'approvers', conversation: recipient.conversation }, view.version, recipient.email, () =>
          approverMessage(event, view, { timeZone: recipient.timeZone }),
        ),
      ),
    );
  }

  async function approverRecipients(view: RequestView): Promise<Recipient[]> {
    const channel = approvalChannel();
    if (channel) return [{ conversation: channel }];
    const recipients: Recipient[] = [];
    // The requester follows the request in their own message, never as its approver.
    for (const email of view.approvers.filter((approver) => approver !== view.requester)) {
      const person = await directory.findByEmail(email);
      if (!person) continue;
      recipients.push({ conversation: await directory.directMessageChannel(person.id), email, timeZone: person.timeZone });
    }
    return recipients;
  }

  /** Posts the message the first time, updates it afterwards; never shows an older state over a newer one. */
  async function deliver(messages: ChatMessageRecords, key: ChatMessageRef, version: number, recipient: string | undefined, render: () => ChatMessage): Promise<void> {
    let current = await messages.get(key);
    if (!current?.messageId) {
      const claim = await messages.claim(key, { recipient, version });
      if (claim.claimed) {
        try {
          const { text, blocks } = render();
          const posted = await client.chat.postMessage({ channel: key.conversation, text, blocks, unfurl_links: false });
          if (!posted.ts) throw new Error('chat.postMessage returned no ts');
          await messages.posted(key, claim.token, posted.ts, version);
          return;
        } catch (error) {
          await messages.release(key, claim.token);
          throw error;
        }
      }
      current = await waitForPost(messages, key, claim.existing);
    }
    if (current.version >= version) return;
    const { text, blocks } = render();
    await client.chat.update({ channel: key.conversation, ts: current.messageId!, text, blocks });
    await messages.advance(key, version);
  }

  async function waitForPost(messages: ChatMessageRecords, key: ChatMessageRef, seen: StoredChatMessage): Promise<StoredChatMessage> {
    const deadline = Date.now() + WAIT_FOR_OTHER_POSTER_MS;
    let current: StoredChatMessage | undefined = seen;
    while (!current?.messageId) {
      if (Date.now() > deadline) throw new Error(`another worker is still posting the Slack message for ${key.requestId} (${key.audience})`);
      await new Promise((resolve) => setTimeout(resolve, 200));
      current = await messages.get(key);
    }
    return current;
  }

  return {
    name: 'slack',
    notify(notification: Notification): Promise<void> {
      const id = notification.view.id;
      const previous = queues.get(id) ?? Promise.resolve();
      const run = previous.catch(() => undefined).then(() => notify(notification));
      queues.set(id, run);
      const settled = run.then(
        () => undefined,
        () => undefined,
      );
      void settled.then(() => {
        if (queues.get(id) === run) queues.delete(id);
      });
      return run;
    },
  };
}
