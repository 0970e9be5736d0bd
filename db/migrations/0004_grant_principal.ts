/**
 * The principal each grant was made to, resolved once at grant time (an IAM user's name, ARN and
 * unique id, an Identity Center user id, a Google Cloud member, a Kubernetes subject), so that the
 * removal and every read-back act on exactly that principal instead of looking the email up again.
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('grant_leases', (table) => {
    // JSON PrincipalRef; null on leases recorded before this migration (those fall back to the look-up).
    table.text('principal').nullable();
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('grant_leases', (table) => {
    table.dropColumn('principal');
  });
}
