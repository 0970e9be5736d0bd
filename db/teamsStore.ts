/**
 * What the Teams bot remembers (db/migrations/0007_teams.ts): the conversations it may message
 * later, with their Bot Framework conversation references (learned on install and on every message,
 * so a moved serviceUrl is picked up), and each person's Teams user id by email. The API writes them
 * as people use the bot; the worker's notifier reads them to send and update cards.
 */
import type { Knex } from 'knex';

interface ConversationRow {
  conversation_id: string;
  conversation_type: string | null;
  personal_email: string | null;
  reference: string;
  updated_at: string;
}

interface UserRow {
  email: string;
  user_id: string;
  aad_object_id: string | null;
  updated_at: string;
}

/** A conversation reference as JSON: at least where to send (serviceUrl) and which conversation. */
export type ConversationReferenceJson = Record<string, unknown> & { serviceUrl: string; conversation: { id: string } };

export interface TeamsConversation {
  conversationId: string;
  conversationType?: string;
  /** The person of a 1:1 chat with the bot. */
  personalEmail?: string;
  reference: ConversationReferenceJson;
}

export class TeamsStore {
  /** Migrations have already run: openDatabase applies them before any store is made. */
  constructor(private readonly database: Knex) {}

  /** Remembers a conversation, replacing what was known of it (its reference may have moved). */
  async saveConversation(conversation: TeamsConversation): Promise<void> {
    const row: ConversationRow = {
      conversation_id: conversation.conversationId,
      conversation_type: conversation.conversationType ?? null,
      personal_email: conversation.personalEmail ?? null,
      reference: JSON.stringify(conversation.reference),
      updated_at: new Date().toISOString(),
    };
    await this.database<ConversationRow>('teams_conversations').insert(row).onConflict('conversation_id').merge();
  }

  async conversation(conversationId: string): Promise<TeamsConversation | undefined> {
    const row = await this.database<ConversationRow>('teams_conversations').where({ conversation_id: conversationId }).first();
    return row ? toConversation(row) : undefined;
  }

  /** The person's 1:1 chat with the bot, the most recently seen one if they have several. */
  async personalConversation(email: string): Promise<TeamsConversation | undefined> {
    const row = await this.database<ConversationRow>('teams_conversations').where({ personal_email: email }).orderBy('updated_at', 'desc').first();
    return row ? toConversation(row) : undefined;
  }

  async saveUser(user: { email: string; userId: string; aadObjectId?: string }): Promise<void> {
    const row: UserRow = { email: user.email, user_id: user.userId, aad_object_id: user.aadObjectId ?? null, updated_at: new Date().toISOString() };
    await this.database<UserRow>('teams_users').insert(row).onConflict('email').merge();
  }

  /** The Teams user ids of those of these people the bot has met, by email. */
  async userIds(emails: readonly string[]): Promise<Map<string, string>> {
    if (emails.length === 0) return new Map();
    const rows = await this.database<UserRow>('teams_users').whereIn('email', [...emails]);
    return new Map(rows.map((row) => [row.email, row.user_id]));
  }
}

function toConversation(row: ConversationRow): TeamsConversation {
  return {
    conversationId: row.conversation_id,
    conversationType: row.conversation_type ?? undefined,
    personalEmail: row.personal_email ?? undefined,
    reference: JSON.parse(row.reference) as ConversationReferenceJson,
  };
}
