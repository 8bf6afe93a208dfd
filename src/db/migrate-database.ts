import { Migrator, sql, type CompiledQuery, type Kysely, type MigrationProvider } from 'kysely';
import { OWN_MIGRATIONS } from '../../migrations/index.js';
import type { MeshConfig } from '../config/mesh-config.js';
import { compileSchemaChanges } from './apply-schema-changes.js';
import type { DialectName } from './database-url.js';
import type { Database } from './open-database.js';
import { planSchemaChanges, type SchemaChange } from './plan-schema-changes.js';
import { rebuildRecordCounts } from './rebuild-record-counts.js';
import { recordCountsBuilt } from './record-counts.js';
import { readSchema } from './read-schema.js';
import { recordingKysely } from './recording-kysely.js';

export interface MigrationStep {
  description: string;
  sql: string[];
}

export interface MigrateResult {
  /** What was done (or, in a dry run, would be); empty when the database is up to date. */
  steps: MigrationStep[];
  /** Configured tables or columns that do not exist, or cannot hold what mesh writes; when any, nothing was written. */
  problems: string[];
  /** What works but may surprise (a nullable sort column, a short result column); printed, not fatal. */
  warnings: string[];
  dryRun: boolean;
}

const provider: MigrationProvider = { getMigrations: async () => OWN_MIGRATIONS };

function ownMigrator(db: Kysely<unknown>, options: { inTransaction?: boolean } = {}): Migrator {
  return new Migrator({
    db,
    provider,
    migrationTableName: 'workmesh_migration',
    migrationLockTableName: 'workmesh_migration_lock',
    // Inside migrate's own transaction: the Migrator must not open one of its own.
    ...(options.inTransaction && { disableTransactions: true }),
  });
}

/**
 * `mesh migrate`: the package's own tables (Kysely migrations), then the
 * entity node columns, flag columns and indexes the configuration needs,
 * then ANALYZE of the tables it indexed, then the report counters of the
 * protocols that have none yet (rebuild-record-counts.ts).
 *
 * Checks everything first (every configured table, in its own schema, and
 * column) and writes nothing when anything is missing. On PostgreSQL and
 * SQLite, whose DDL is transactional, all of it runs in one transaction:
 * a failure leaves the database as it was. MySQL commits each DDL statement
 * on its own, so there the checks before the first statement are what keep
 * it whole: a missing table is found before anything is created, and a
 * statement that fails later (the server's fault) leaves steps that a second
 * run, which skips what exists, completes. Idempotent: a second run finds
 * nothing to do.
 *
 * ANALYZE, because planners choose from statistics: after a bulk load
 * PostgreSQL's estimate of `flag IS NULL` came from an empty table, it
 * sorted every batch (86,900 rows) instead of reading the new index in
 * order, and push ran at 250 records/s until an ANALYZE.
 */
export async function migrateDatabase(database: Database, config: MeshConfig, options: { dryRun: boolean }): Promise<MigrateResult> {
  const db = database.db as unknown as Kysely<unknown>;
  const tables = [...new Set(config.services.flatMap((s) => [s.entity.table, ...s.protocols.map((p) => p.table)]))];
  const plan = planSchemaChanges(config, database.dialect, await readSchema(database, tables));
  const { warnings } = plan;
  if (plan.problems.length > 0) return { steps: [], problems: plan.problems, warnings, dryRun: options.dryRun };

  const migrator = ownMigrator(db);
  const pending = (await migrator.getMigrations()).filter((m) => m.executedAt === undefined);
  const steps: MigrationStep[] = [];
  for (const migration of pending) {
    const recorded: CompiledQuery[] = [];
    await migration.migration.up(recordingKysely(database.dialect, recorded));
    steps.push({ description: `own migration ${migration.name}`, sql: recorded.map((q) => q.sql) });
  }
  const compiled = compileSchemaChanges(db, database.dialect, plan.changes);
  if (plan.changes.length > 0) {
    steps.push({ description: describeChanges(plan.changes), sql: compiled.map((q) => q.sql) });
  }
  const indexed = [...new Set(plan.changes.flatMap((c) => (c.kind === 'create-index' ? [c.table] : [])))];
  const analyze = indexed.map((table) => analyzeQuery(database.dialect, table).compile(db));
  if (analyze.length > 0) {
    steps.push({
      description: `statistics of the ${indexed.length === 1 ? 'table' : 'tables'} indexed: ${indexed.join(', ')}`,
      sql: analyze.map((q) => q.sql),
    });
  }
  // On a database without the package's tables yet, every protocol's counters are still to be built.
  const fresh = pending.some((m) => m.name === '0001-own-tables');
  const unbuilt: string[] = [];
  for (const service of config.services) {
    for (const protocol of service.protocols) {
      if (fresh || !(await recordCountsBuilt(database.db, service, protocol))) unbuilt.push(`${service.name} ${protocol.name}`);
    }
  }
  if (unbuilt.length > 0) {
    steps.push({ description: `report counters counted from the records (mesh recount): ${unbuilt.join(', ')}`, sql: [] });
  }
  if (options.dryRun || steps.length === 0) return { steps, problems: [], warnings, dryRun: options.dryRun };

  const run = async (on: Kysely<unknown>, inTransaction: boolean) => {
    if (pending.length > 0) {
      const { error } = await ownMigrator(on, { inTransaction }).migrateToLatest();
      if (error) throw error instanceof Error ? error : new Error(String(error));
    }
    for (const query of [...compiled, ...analyze]) await on.executeQuery(query);
  };
  if (database.dialect === 'mysql') {
    await run(db, false);
  } else {
    // One connection, one transaction around the Migrator's work and ours (Kysely's own transactions
    // cannot hold the Migrator, which asks for a connection of its own).
    await db.connection().execute(async (connection) => {
      await sql.raw(database.dialect === 'sqlite' ? 'begin immediate' : 'begin').execute(connection);
      try {
        await run(connection, true);
      } catch (error) {
        await sql`rollback`.execute(connection).catch(() => undefined);
        throw error;
      }
      await sql`commit`.execute(connection);
    });
  }
  // After the flag columns exist: their counters are counted from them, one transaction per protocol.
  if (unbuilt.length > 0) await rebuildRecordCounts(database, config, { onlyUnbuilt: true });
  return { steps, problems: [], warnings, dryRun: false };
}

/** ANALYZE of one table, in each dialect's words. */
function analyzeQuery(dialect: DialectName, table: string) {
  return dialect === 'mysql' ? sql`analyze table ${sql.table(table)}` : sql`analyze ${sql.table(table)}`;
}

function describeChanges(changes: SchemaChange[]): string {
  const columns = changes.filter((c) => c.kind === 'add-column').length;
  const indexes = changes.length - columns;
  return `configured tables: ${columns} column${columns === 1 ? '' : 's'}, ${indexes} index${indexes === 1 ? '' : 'es'}`;
}
