import type { Kysely } from 'kysely';

/**
 * workmesh_node_health: one row per node that has failed by its own fault
 * (node contract v1.1), shared by push and pull, by cron runs and by several
 * masters: when it failed first, its last error, how many failures in a row,
 * and the time before which no master calls it again (the back-off). The
 * first success resets it.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('workmesh_node_health')
    .addColumn('node', 'varchar(191)', (col) => col.primaryKey())
    // Epoch milliseconds, like workmesh_lease.
    .addColumn('failing_since', 'bigint')
    .addColumn('failures', 'integer', (col) => col.notNull().defaultTo(0))
    .addColumn('last_error', 'text')
    .addColumn('next_try_at', 'bigint')
    .addColumn('last_success_at', 'bigint')
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('workmesh_node_health').execute();
}
