/**
 * The Teams notifier: runs in the worker, one of the channels `recordEvent` tells. For every
 * recorded state change of a request it sends, or updates in place, the requester's card (in their
 * 1:1 chat with the bot) and the approvers' cards (each approver's 1:1 chat, and the approvals
 * channel when TEAMS_APPROVALS_CONVERSATION_ID is set), through the conversation references the
 * API stored, so everyone sees the same state. Each copy is rendered for its reader (their actions
 * on it); a channel's copy carries none, and Teams asks the bot (refresh) for each approver's own.
 *
 * A person the bot has never met (no 1:1 chat with it: they have not installed the app) is skipped,
 * not an error.
 */
import type { Logger } from 'pino';
import type { Notification, Notifier } from '../../activities';
import { deliverChatMessage, onePerRequest, type ChatMessageRecords, type ChatMessageRef, type ChatPoster } from '../../service/chatDelivery';
import { concernsApprovers } from '../../shared/requestWords';
import type { RequestView } from '../../shared/request';
import type { TeamsRecords } from './bot';
import { createTeamsConnector, type AdaptiveCard, type TeamsConnector } from './botFramework';
import { requestCard, statusLine, type CardAudience } from './cards';
import type { TeamsSettings } from './settings';

export const TEAMS_PLATFORM = 'teams';

export interface TeamsNotifierOptions {
  settings: TeamsSettings;
  /** The card records (activity ids); a promise is fine (the store is opened asynchronously). */
  messages: ChatMessageRecords | PromiseLike<ChatMessageRecords>;
  records: TeamsRecords;
  logger: Logger;
  /** Built from `settings` otherwise. */
  connector?: TeamsConnector;
}

interface Recipient {
  conversation: string;
  /** The person of a 1:1 chat; none for a channel. */
  email?: string;
}

interface CardMessage {
  card: AdaptiveCard;
  summary: string;
}

export function createTeamsNotifier(options: TeamsNotifierOptions): Notifier {
  const { records, settings } = options;
  const logger = options.logger.child({ component: 'teams' });
  const connector = options.connector ?? createTeamsConnector(settings, logger);

  async function referenceOf(conversation: string) {
    const stored = await records.conversation(conversation);
    if (!stored) throw new Error(`Teams: no stored reference for conversation ${conversation}`);
    return stored.reference;
  }

  const poster: ChatPoster<CardMessage> = {
    post: async (key, { card, summary }) => {
      let activityId = '';
      await connector.continueConversation(await referenceOf(key.conversation), async (turn) => {
        activityId = await turn.send(card, summary);
      });
      return activityId;
    },
    update: async (key, activityId, { card, summary }) => {
      await connector.continueConversation(await referenceOf(key.conversation), (turn) => turn.update(activityId, card, summary));
    },
  };

  async function notify({ event, view }: Notification): Promise<void> {
    const messages = await options.messages;
    const render = async (audience: CardAudience, viewer: string | undefined): Promise<() => CardMessage> => {
      const people = audience === 'requester' ? [view.requester] : view.approvers.filter((approver) => approver !== view.requester);
      const userIds = [...(await records.userIds(people)).values()];
      const card = requestCard(view, { audience, viewer, userIds, event });
      return () => ({ card, summary: `${view.id}: ${statusLine(event, view)}` });
    };
    const deliver = async (audience: CardAudience, recipient: Recipient) => {
      const key: ChatMessageRef = { platform: TEAMS_PLATFORM, requestId: view.id, audience, conversation: recipient.conversation };
      await deliverChatMessage(messages, key, view.version, recipient.email, await render(audience, recipient.email), poster);
    };

    const requester = await records.personalConversation(view.requester);
    const deliveries: Array<Promise<void>> = [];
    if (requester) deliveries.push(deliver('requester', { conversation: requester.conversationId, email: view.requester }));
    for (const recipient of await approverRecipients(messages, view)) deliveries.push(deliver('approvers', recipient));
    const results = await Promise.allSettled(deliveries);
    const failed = results.find((result) => result.status === 'rejected');
    if (failed) throw failed.reason;
  }

  /** Who sees the approvers' card: those already sent one, and while a decision waits, each approver and the approvals channel. */
  async function approverRecipients(messages: ChatMessageRecords, view: RequestView): Promise<Recipient[]> {
    const existing = await messages.list(TEAMS_PLATFORM, view.id, 'approvers');
    if (existing.length === 0 && !concernsApprovers(view)) return [];
    const recipients = new Map<string, Recipient>(existing.map((message) => [message.conversation, { conversation: message.conversation, email: message.recipient }]));
    if (!concernsApprovers(view)) return [...recipients.values()];
    // The requester follows the request in their own card, never as its approver.
    for (const email of view.approvers.filter((approver) => approver !== view.requester)) {
      const personal = await records.personalConversation(email);
      if (personal && !recipients.has(personal.conversationId)) recipients.set(personal.conversationId, { conversation: personal.conversationId, email });
    }
    const channel = settings.approvalsConversationId;
    if (channel && !recipients.has(channel)) {
      if (await records.conversation(channel)) recipients.set(channel, { conversation: channel });
      else logger.warn({ conversation: channel }, 'TEAMS_APPROVALS_CONVERSATION_ID names a conversation the bot has not seen yet: mention the bot there once');
    }
    return [...recipients.values()];
  }

  return { name: 'teams', notify: onePerRequest(notify) };
}
