/**
 * Microsoft Teams (bots/teams, docs/teams.md): the conversations the bot may message later (their
 * Bot Framework conversation references, learned when a person installs the app or messages the
 * bot), and who is who (a person's email and their Teams user id, for the cards' per-user refresh).
 * The cards' activity ids live in chat_messages (platform `teams`), whose conversation and message
 * ids become text: Teams' are longer than Slack's.
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('teams_conversations', (table) => {
    // Teams' conversation id: `a:...` (1:1), `19:...@thread.v2` (group chat), `19:...@thread.tacv2` (channel).
    table.text('conversation_id').primary();
    // `personal`, `groupChat` or `channel`.
    table.string('conversation_type', 32).nullable();
    // A 1:1 chat's person (normalised email): where their cards go.
    table.string('personal_email', 320).nullable();
    // Bot Framework's ConversationReference as JSON (serviceUrl, conversation, bot, user...).
    table.text('reference').notNullable();
    table.string('updated_at', 32).notNullable();
    table.index(['personal_email'], 'teams_conversations_personal_email_idx');
  });

  await knex.schema.createTable('teams_users', (table) => {
    // Normalised email: who the person is in p0.
    table.string('email', 320).primary();
    // Their Teams user id (`29:...`): what a card's refresh.userIds names.
    table.text('user_id').notNullable();
    table.string('aad_object_id', 64).nullable();
    table.string('updated_at', 32).notNullable();
  });

  if ((knex.client as Knex.Client).config.client === 'pg') {
    // SQLite never enforced the lengths; PostgreSQL does.
    await knex.schema.alterTable('chat_messages', (table) => {
      table.text('conversation').notNullable().alter();
      table.text('message_id').nullable().alter();
    });
  }
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('teams_users');
  await knex.schema.dropTable('teams_conversations');
}
