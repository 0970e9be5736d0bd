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
import { deliverChatMessage, onePerRequest, type ChatMessageRecords, type ChatMessageRef, type ChatPoster } from '../../service/chatDelivery';

export type { ChatMessageRecords } from '../../service/chatDelivery';
import type { AuditEventType } from '../../shared/events';
import type { RequestView } from '../../shared/request';
import type { ChatMessage } from './blockKit';
import { approverMessage, concernsApprovers, requesterMessage } from './messages';
import { SlackDirectory } from './directory';
import { createWebClient, type SlackSettings } from './settings';

export const SLACK_PLATFORM = 'slack';

export interface SlackNotifierOptions {
  settings: SlackSettings;
  /** The message records; a promise is fine (the store is opened asynchronously). */
  messages: ChatMessageRecords | PromiseLike<ChatMessageRecords>;
  /** The channel id approvers are asked in (config `slack.approvalChannel`); their direct messages when undefined. */
  approvalChannel?: () => string | undefined;
  /** Injected in tests; built from `settings` otherwise. */
  client?: webApi.WebClient;
}

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
  const poster: ChatPoster<ChatMessage> = {
    post: async (key, { text, blocks }) => {
      const posted = await client.chat.postMessage({ channel: key.conversation, text, blocks, unfurl_links: false });
      if (!posted.ts) throw new Error('chat.postMessage returned no ts');
      return posted.ts;
    },
    update: async (key, messageId, { text, blocks }) => {
      await client.chat.update({ channel: key.conversation, ts: messageId, text, blocks });
    },
  };

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

  function deliver(messages: ChatMessageRecords, key: ChatMessageRef, version: number, recipient: string | undefined, render: () => ChatMessage): Promise<void> {
    return deliverChatMessage(messages, key, version, recipient, render, poster);
  }

  return { name: 'slack', notify: onePerRequest(notify) };
}
