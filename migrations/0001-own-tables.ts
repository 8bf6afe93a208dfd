import type { Kysely } from 'kysely';

/**
 * The package's own tables:
 * - workmesh_state: small persisted values, such as each service's round-robin position;
 * - workmesh_lease: one row per (stage, service, node, protocol) stream being worked, so that
 *   overlapping runs and several masters never work the same stream at once;
 * - workmesh_run: a log of runs (command, start, end, outcome, summary).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('workmesh_state')
    .addColumn('key', 'varchar(191)', (col) => col.primaryKey())
    .addColumn('value', 'text', (col) => col.notNull())
    .execute();

  await db.schema
    .createTable('workmesh_lease')
    .addColumn('stream', 'varchar(191)', (col) => col.primaryKey())
    .addColumn('owner', 'varchar(100)', (col) => col.notNull())
    // Epoch milliseconds of the master's clock: a lease a dead master held expires on its own.
    .addColumn('expires_at', 'bigint', (col) => col.notNull())
    .execute();

  await db.schema
    .createTable('workmesh_run')
    .addColumn('id', 'varchar(36)', (col) => col.primaryKey())
    .addColumn('command', 'varchar(50)', (col) => col.notNull())
    .addColumn('owner', 'varchar(100)', (col) => col.notNull())
    .addColumn('started_at', 'bigint', (col) => col.notNull())
    .addColumn('finished_at', 'bigint')
    .addColumn('status', 'varchar(20)', (col) => col.notNull())
    .addColumn('summary', 'text')
    .execute();
  await db.schema.createIndex('workmesh_run_started_at').on('workmesh_run').column('started_at').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('workmesh_run').execute();
  await db.schema.dropTable('workmesh_lease').execute();
  await db.schema.dropTable('workmesh_state').execute();
}
