/**
 * The chat messages posted about each request (the requester's direct message, the approvers'
 * messages), keyed by platform, request, audience and conversation, so that every state change
 * updates the message already there (Slack's chat.update) rather than posting another.
 *
 * Notifications run concurrently and may finish out of order, on one worker or several. Two guards
 * keep the messages right: a message is posted by whoever claims its row first (the others wait for
 * it and then update it), and a message only moves to a higher request view version.
 */
import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';

interface ChatMessageRow {
  id: number;
  platform: string;
  request_id: string;
  audience: string;
  conversation: string;
  recipient: string | null;
  message_id: string | null;
  version: number;
  claim: string;
  updated_at: string;
}

/** Which message: one per platform, request, audience and conversation. */
export interface ChatMessageKey {
  platform: string;
  requestId: string;
  /** `requester` or `approvers`. */
  audience: string;
  /** Where it is posted: a channel id (a direct message's or a shared channel's). */
  conversation: string;
}

export interface ChatMessage extends ChatMessageKey {
  /** The person it was sent to, for a direct message. */
  recipient?: string;
  /** The platform's id for it (Slack: ts); undefined while it is being posted. */
  messageId?: string;
  /** The request view version it shows. */
  version: number;
  updatedAt: string;
}

/** The answer to a claim: post it yourself (with this token), or it is already someone else's. */
export type ChatMessageClaim = { claimed: true; token: string } | { claimed: false; existing: ChatMessage };

const TABLE = 'chat_messages';
/** A claim this old whose message never got posted was left by a crashed poster: it may be taken over. */
const STALE_CLAIM_MS = 60_000;

export class ChatMessageStore {
  /** Migrations have already run: openDatabase applies them before any store is made. */
  constructor(private readonly database: Knex) {}

  /** The request's messages for an audience (posted or being posted), oldest first. */
  async list(platform: string, requestId: string, audience: string): Promise<ChatMessage[]> {
    const rows = await this.database<ChatMessageRow>(TABLE).where({ platform, request_id: requestId, audience }).orderBy('id', 'asc');
    return rows.map(toMessage);
  }

  async get(key: ChatMessageKey): Promise<ChatMessage | undefined> {
    const row = await this.database<ChatMessageRow>(TABLE).where(whereKey(key)).first();
    return row ? toMessage(row) : undefined;
  }

  /**
   * Claims the right to post this message. Exactly one caller gets `claimed: true` (also when a
   * previous claimant crashed before posting); the others get the row as it stands.
   */
  async claim(key: ChatMessageKey, options: { recipient?: string; version: number }): Promise<ChatMessageClaim> {
    const token = randomUUID();
    const now = new Date();
    const row: Omit<ChatMessageRow, 'id'> = {
      platform: key.platform,
      request_id: key.requestId,
      audience: key.audience,
      conversation: key.conversation,
      recipient: options.recipient ?? null,
      message_id: null,
      version: options.version,
      claim: token,
      updated_at: now.toISOString(),
    };
    await this.database<ChatMessageRow>(TABLE).insert(row).onConflict(['platform', 'request_id', 'audience', 'conversation']).ignore();
    await this.database<ChatMessageRow>(TABLE)
      .where(whereKey(key))
      .whereNull('message_id')
      .where('updated_at', '<', new Date(now.getTime() - STALE_CLAIM_MS).toISOString())
      .update({ claim: token, version: options.version, updated_at: now.toISOString() });
    const current = await this.database<ChatMessageRow>(TABLE).where(whereKey(key)).first();
    if (!current) throw new Error(`chat message ${describeKey(key)} vanished while being claimed`);
    return current.claim === token && current.message_id === null ? { claimed: true, token } : { claimed: false, existing: toMessage(current) };
  }

  /** Records the posted message's id (and the version it shows) for the claim that posted it. */
  async posted(key: ChatMessageKey, token: string, messageId: string, version: number): Promise<void> {
    const updated = await this.database<ChatMessageRow>(TABLE)
      .where({ ...whereKey(key), claim: token })
      .whereNull('message_id')
      .update({ message_id: messageId, version, updated_at: new Date().toISOString() });
    if (updated === 0) throw new Error(`chat message ${describeKey(key)} was not claimed by this poster`);
  }

  /** Gives up a claim whose post failed, so the next notification tries again. */
  async release(key: ChatMessageKey, token: string): Promise<void> {
    await this.database<ChatMessageRow>(TABLE).where({ ...whereKey(key), claim: token }).whereNull('message_id').delete();
  }

  /**
   * Records that the message now shows `version`; false (and nothing changes) when it already
   * shows that version or a newer one.
   */
  async advance(key: ChatMessageKey, version: number): Promise<boolean> {
    const updated = await this.database<ChatMessageRow>(TABLE)
      .where(whereKey(key))
      .whereNotNull('message_id')
      .where('version', '<', version)
      .update({ version, updated_at: new Date().toISOString() });
    return updated > 0;
  }
}

function whereKey(key: ChatMessageKey): Pick<ChatMessageRow, 'platform' | 'request_id' | 'audience' | 'conversation'> {
  return { platform: key.platform, request_id: key.requestId, audience: key.audience, conversation: key.conversation };
}

function describeKey(key: ChatMessageKey): string {
  return `${key.platform}/${key.requestId}/${key.audience}/${key.conversation}`;
}

function toMessage(row: ChatMessageRow): ChatMessage {
  return {
    platform: row.platform,
    requestId: row.request_id,
    audience: row.audience,
    conversation: row.conversation,
    recipient: row.recipient ?? undefined,
    messageId: row.message_id ?? undefined,
    version: row.version,
    updatedAt: row.updated_at,
  };
}
