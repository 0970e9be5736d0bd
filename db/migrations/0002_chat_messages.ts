/**
 * Chat messages about requests (the requester's direct message, the approvers' messages), so each
 * state change updates the message already posted instead of posting a new one. Shared by every
 * chat platform (Slack today).
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('chat_messages', (table) => {
    table.increments('id');
    table.string('platform', 32).notNullable();
    table.string('request_id', 64).notNullable();
    // Who the message is for: `requester` or `approvers`.
    table.string('audience', 32).notNullable();
    // Where it is: a channel id (a direct message's or a shared channel's).
    table.string('conversation', 128).notNullable();
    // The person it was sent to, when it is a direct message (their time zone shapes the text).
    table.string('recipient', 320).nullable();
    // The platform's id for the message (Slack: its ts); null while it is being posted.
    table.string('message_id', 64).nullable();
    // The request view version the message shows: an older state never overwrites a newer one.
    table.integer('version').notNullable();
    // Whoever is posting it (a random token), so two workers never post the same message twice.
    table.string('claim', 64).notNullable();
    table.string('updated_at', 32).notNullable();
    table.unique(['platform', 'request_id', 'audience', 'conversation'], { indexName: 'chat_messages_key_unique' });
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('chat_messages');
}
