import type { Kysely } from 'kysely';

/**
 * What the dashboard and the metrics read about the runs, written by every
 * push and pull run at its end (src/db/stream-history.ts):
 * - workmesh_stream_history: one row per (run, service, protocol, node)
 *   stream worked: when, how many records went through, how many failed, the
 *   error that ended it. Kept 7 days, pruned by the runs, so it stays small
 *   enough to chart throughput from.
 * - workmesh_stream_totals: records pushed and pulled per stream since the
 *   table was made, never pruned, for Prometheus counters (which must never
 *   go down, as a sum over a pruned history would).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('workmesh_stream_history')
    .addColumn('run_id', 'varchar(36)', (col) => col.notNull())
    .addColumn('stage', 'varchar(10)', (col) => col.notNull())
    .addColumn('service', 'varchar(191)', (col) => col.notNull())
    .addColumn('protocol', 'varchar(191)', (col) => col.notNull())
    .addColumn('node', 'varchar(191)', (col) => col.notNull())
    // Epoch milliseconds, like workmesh_run.
    .addColumn('started_at', 'bigint', (col) => col.notNull())
    .addColumn('finished_at', 'bigint', (col) => col.notNull())
    .addColumn('records', 'integer', (col) => col.notNull())
    .addColumn('failed', 'integer', (col) => col.notNull())
    .addColumn('error', 'text')
    .execute();
  await db.schema.createIndex('workmesh_stream_history_finished_at').on('workmesh_stream_history').column('finished_at').execute();

  await db.schema
    .createTable('workmesh_stream_totals')
    .addColumn('stage', 'varchar(10)', (col) => col.notNull())
    .addColumn('service', 'varchar(191)', (col) => col.notNull())
    .addColumn('protocol', 'varchar(191)', (col) => col.notNull())
    .addColumn('node', 'varchar(191)', (col) => col.notNull())
    .addColumn('records', 'bigint', (col) => col.notNull())
    .addColumn('failed', 'bigint', (col) => col.notNull())
    .addPrimaryKeyConstraint('workmesh_stream_totals_pk', ['stage', 'service', 'protocol', 'node'])
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('workmesh_stream_totals').execute();
  await db.schema.dropTable('workmesh_stream_history').execute();
}
