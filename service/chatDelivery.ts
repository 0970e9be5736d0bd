/**
 * How a chat notifier (Slack's, Teams') keeps one message per person and request, updated in place:
 * the first notification posts it, later ones update it, and an older state never replaces a newer
 * one. Notifications run concurrently and may finish out of order, on one worker or several: a
 * message is posted by whoever claims its record first (the others wait for it, then update it), and
 * a record only moves to a higher request view version. The records are db/chatMessageStore.ts;
 * each chat gives its own post and update calls.
 */
import type { Notification } from '../activities';

/** What a notifier keeps about posted messages (db/chatMessageStore.ts implements it). */
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

/** A chat's two calls: post a new message (answering its id), update one in place. */
export interface ChatPoster<Message> {
  post(key: ChatMessageRef, message: Message): Promise<string>;
  update(key: ChatMessageRef, messageId: string, message: Message): Promise<void>;
}

/** How long a notification waits for another worker that is posting the same message. */
const WAIT_FOR_OTHER_POSTER_MS = 10_000;

/** Posts the message the first time, updates it afterwards; never shows an older state over a newer one. */
export async function deliverChatMessage<Message>(
  records: ChatMessageRecords,
  key: ChatMessageRef,
  version: number,
  recipient: string | undefined,
  render: () => Message,
  poster: ChatPoster<Message>,
): Promise<void> {
  let current = await records.get(key);
  if (!current?.messageId) {
    const claim = await records.claim(key, { recipient, version });
    if (claim.claimed) {
      try {
        const messageId = await poster.post(key, render());
        await records.posted(key, claim.token, messageId, version);
        return;
      } catch (error) {
        await records.release(key, claim.token);
        throw error;
      }
    }
    current = await waitForPost(records, key, claim.existing);
  }
  if (current.version >= version) return;
  await poster.update(key, current.messageId!, render());
  await records.advance(key, version);
}

async function waitForPost(records: ChatMessageRecords, key: ChatMessageRef, seen: StoredChatMessage): Promise<StoredChatMessage> {
  const deadline = Date.now() + WAIT_FOR_OTHER_POSTER_MS;
  let current: StoredChatMessage | undefined = seen;
  while (!current?.messageId) {
    if (Date.now() > deadline) throw new Error(`another worker is still posting the ${key.platform} message for ${key.requestId} (${key.audience})`);
    await new Promise((resolve) => setTimeout(resolve, 200));
    current = await records.get(key);
  }
  return current;
}

/**
 * Runs `notify` for one request at a time in this process, in the order notifications arrive
 * (a later state's message waits for the earlier one's post, so it updates rather than posts twice).
 */
export function onePerRequest(notify: (notification: Notification) => Promise<void>): (notification: Notification) => Promise<void> {
  const queues = new Map<string, Promise<void>>();
  return (notification) => {
    const id = notification.view.id;
    const previous = queues.get(id) ?? Promise.resolve();
    const run = previous.catch(() => undefined).then(() => notify(notification));
    queues.set(id, run);
    void run.then(
      () => (queues.get(id) === run ? queues.delete(id) : undefined),
      () => (queues.get(id) === run ? queues.delete(id) : undefined),
    );
    return run;
  };
}
