/**
 * Sign-in (docs/authentication.md): browser sessions, one-time login links, sign-ins in progress
 * (OpenID Connect's state, nonce and PKCE verifier), device codes for `p0 login --device`, and an
 * end to API tokens. Every secret a browser or the CLI holds is stored as its sha256 only.
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('api_tokens', (table) => {
    // Null: never expires (tokens from before this migration, and `npm run token` without --lifetime).
    table.string('expires_at', 32).nullable();
    // What the token is for, shown by `GET /v1/tokens` ("p0 login", "npm run token").
    table.string('label', 200).nullable();
  });

  await knex.schema.createTable('sessions', (table) => {
    // sha256 hex of the cookie's value.
    table.string('id_hash', 64).primary();
    table.string('email', 320).notNullable();
    table.string('created_at', 32).notNullable();
    table.string('last_seen_at', 32).notNullable();
    // The absolute end; the idle end is last_seen_at plus the configured idle timeout.
    table.string('expires_at', 32).notNullable();
    table.index(['email'], 'sessions_email_idx');
  });

  await knex.schema.createTable('login_links', (table) => {
    table.string('token_hash', 64).primary();
    table.string('email', 320).notNullable();
    table.string('created_at', 32).notNullable();
    table.string('expires_at', 32).notNullable();
    table.string('used_at', 32).nullable();
  });

  await knex.schema.createTable('sign_in_attempts', (table) => {
    // sha256 hex of the OAuth state; the browser holds the state itself in a cookie.
    table.string('state_hash', 64).primary();
    table.text('code_verifier').notNullable();
    table.text('nonce').notNullable();
    table.text('return_to').notNullable();
    table.string('created_at', 32).notNullable();
    table.string('expires_at', 32).notNullable();
  });

  await knex.schema.createTable('device_codes', (table) => {
    // sha256 hex of the code the CLI polls with.
    table.string('device_code_hash', 64).primary();
    // What the person types (upper case, no separator), unique while it lives.
    table.string('user_code', 16).notNullable().unique({ indexName: 'device_codes_user_code_unique' });
    table.string('created_at', 32).notNullable();
    table.string('expires_at', 32).notNullable();
    table.string('approved_by', 320).nullable();
    table.string('consumed_at', 32).nullable();
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('device_codes');
  await knex.schema.dropTable('sign_in_attempts');
  await knex.schema.dropTable('login_links');
  await knex.schema.dropTable('sessions');
  await knex.schema.alterTable('api_tokens', (table) => {
    table.dropColumn('label');
    table.dropColumn('expires_at');
  });
}
