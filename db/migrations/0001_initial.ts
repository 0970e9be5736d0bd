/**
 * The first schema: the request projection, the audit trail, API tokens and grant leases.
 * Timestamps are ISO-8601 UTC strings (`toISOString()`), stored as text, so SQLite and PostgreSQL
 * order and compare them the same way. JSON documents are text for the same reason.
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('requests', (table) => {
    table.string('id', 64).primary();
    table.string('status', 32).notNullable();
    table.string('requester', 320).notNullable();
    table.string('provider', 64).notNullable();
    table.string('kind', 64).notNullable();
    table.text('target').notNullable();
    table.text('reason').notNullable();
    table.string('duration', 32).notNullable();
    table.integer('duration_seconds').notNullable();
    table.string('created_at', 32).notNullable();
    table.string('active_at', 32).nullable();
    table.string('expires_at', 32).nullable();
    table.string('ended_at', 32).nullable();
    table.text('error').nullable();
    table.integer('version').notNullable();
    // JSON array of approver emails, matched as `"email"` for "pending my approval".
    table.text('approvers').notNullable();
    // JSON of the whole RequestView: the columns above are only for filtering and ordering.
    table.text('view').notNullable();
    table.index(['requester'], 'requests_requester_idx');
    table.index(['status'], 'requests_status_idx');
    table.index(['created_at'], 'requests_created_at_idx');
  });

  await knex.schema.createTable('audit_events', (table) => {
    table.increments('id');
    table.string('request_id', 64).notNullable();
    table.integer('seq').notNullable();
    table.string('type', 64).notNullable();
    table.string('actor', 320).notNullable();
    table.string('at', 32).notNullable();
    table.text('details').nullable();
    // A retried recordEvent activity writes the same (request_id, seq): the second insert is ignored.
    table.unique(['request_id', 'seq'], { indexName: 'audit_events_request_seq_unique' });
  });

  await knex.schema.createTable('api_tokens', (table) => {
    table.increments('id');
    // sha256 hex of the token: the plaintext is shown once and never stored.
    table.string('token_hash', 64).notNullable().unique({ indexName: 'api_tokens_token_hash_unique' });
    table.string('email', 320).notNullable();
    table.boolean('admin').notNullable().defaultTo(false);
    table.string('created_at', 32).notNullable();
    table.string('revoked_at', 32).nullable();
    table.index(['email'], 'api_tokens_email_idx');
  });

  await knex.schema.createTable('grant_leases', (table) => {
    table.string('request_id', 64).primary();
    table.text('resource_key').notNullable();
    // True when the access existed before the product granted it: the product never removes it.
    table.boolean('standing').notNullable();
    table.string('acquired_at', 32).notNullable();
    table.string('released_at', 32).nullable();
    // The decision taken at release, kept so a retried release answers the same way.
    table.boolean('remove_at_provider').nullable();
    table.text('release_reason').nullable();
    // Set when the provider confirmed the removal. Until then a released lease that decided to remove
    // still counts as the product's: access seen at the provider meanwhile is not "standing".
    table.string('removed_at', 32).nullable();
    table.index(['resource_key'], 'grant_leases_resource_key_idx');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('grant_leases');
  await knex.schema.dropTable('api_tokens');
  await knex.schema.dropTable('audit_events');
  await knex.schema.dropTable('requests');
}
