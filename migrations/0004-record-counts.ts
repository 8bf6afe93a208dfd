import type { Kysely } from 'kysely';

/**
 * workmesh_record_counts: the records whose work is done, per (service,
 * protocol, node, state), so that the reports read a few rows instead of
 * counting every record (src/db/record-counts.ts). `state` is `processed`
 * or `failed` (a result the node reported as a processing error); the node
 * is the one the records were delivered to. Every flag write that moves
 * records into or out of these states changes the row in its own
 * transaction; pending, in-flight and undelivered failures are counted live
 * from the push and pull index ranges instead. `mesh recount` rebuilds it.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('workmesh_record_counts')
    .addColumn('service', 'varchar(191)', (col) => col.notNull())
    .addColumn('protocol', 'varchar(191)', (col) => col.notNull())
    .addColumn('node', 'varchar(191)', (col) => col.notNull())
    .addColumn('state', 'varchar(16)', (col) => col.notNull())
    .addColumn('records', 'bigint', (col) => col.notNull())
    .addPrimaryKeyConstraint('workmesh_record_counts_pk', ['service', 'protocol', 'node', 'state'])
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('workmesh_record_counts').execute();
}
