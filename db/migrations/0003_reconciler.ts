/**
 * What the reconciler needs: the grant each lease stands for (so a shared grant such as a group
 * membership can be read back and removed after its request ended), and the reconciler's own audit
 * trail (orphans found and what was done about them, grants found missing).
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('grant_leases', (table) => {
    // JSON GrantSpec of the request's grant; null on leases recorded before this migration.
    table.text('spec').nullable();
  });
  await knex.schema.createTable('reconcile_events', (table) => {
    table.increments('id');
    // The reconcile run (its workflow id) that found it.
    table.string('run_id', 128).notNullable();
    table.string('at', 32).notNullable();
    // `orphan`: granted at the provider, no request holds it. `missing`: an active request's grant is absent.
    table.string('finding', 16).notNullable();
    table.string('provider', 32).notNullable();
    table.string('request_id', 64).nullable();
    table.text('description').notNullable();
    // `revoked`, `reported`, `revoke_failed`, `reprovision_requested`.
    table.string('action', 32).notNullable();
    table.text('error').nullable();
    table.index(['request_id'], 'reconcile_events_request_idx');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('reconcile_events');
  await knex.schema.alterTable('grant_leases', (table) => {
    table.dropColumn('spec');
  });
}
