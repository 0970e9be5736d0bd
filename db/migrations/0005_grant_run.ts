/**
 * The Temporal run that first provisioned each grant. Anyone who reaches the namespace can terminate
 * an active request's workflow and start it again under the same id with the signed input copied
 * from its history (or reset it to before provisioning): a new run of the same request. `provision`
 * grants only to the run that made the grant first, so a re-run never gets a fresh full duration.
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('grant_leases', (table) => {
    // Null on leases recorded before this migration: the first run to provision after it claims the lease.
    table.string('run_id', 128).nullable();
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('grant_leases', (table) => {
    table.dropColumn('run_id');
  });
}
