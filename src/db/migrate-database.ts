import { Migrator, type CompiledQuery, type Kysely, type MigrationProvider } from 'kysely';
import { OWN_MIGRATIONS } from '../../migrations/index.js';
import type { MeshConfig } from '../config/mesh-config.js';
import { compileSchemaChanges } from './apply-schema-changes.js';
import type { Database } from './open-database.js';
import { planSchemaChanges, type SchemaChange } from './plan-schema-changes.js';
import { readSchema } from './read-schema.js';
import { recordingKysely } from './recording-kysely.js';

export interface MigrationStep {
  description: string;
  sql: string[];
}

export interface MigrateResult {
  /** What was done (or, in a dry run, would be); empty when the database is up to date. */
  steps: MigrationStep[];
  /** Configured tables or columns that do not exist; when any, nothing was written. */
  problems: string[];
  dryRun: boolean;
}

const provider: MigrationProvider = { getMigrations: async () => OWN_MIGRATIONS };

function ownMigrator(db: Kysely<unknown>): Migrator {
  return new Migrator({
    db,
    provider,
    migrationTableName: 'workmesh_migration',
    migrationLockTableName: 'workmesh_migration_lock',
  });
}

/**
 * `mesh migrate`: the package's own tables (Kysely migrations), then the
 * entity node columns, flag columns and indexes the configuration needs.
 * Checks everything first and writes nothing when a configured table or
 * column is missing. Idempotent: a second run finds nothing to do.
 */
export async function migrateDatabase(database: Database, config: MeshConfig, options: { dryRun: boolean }): Promise<MigrateResult> {
  const db = database.db as unknown as Kysely<unknown>;
  const tables = [...new Set(config.services.flatMap((s) => [s.entity.table, ...s.protocols.map((p) => p.table)]))];
  const plan = planSchemaChanges(config, database.dialect, await readSchema(database, tables));
  if (plan.problems.length > 0) return { steps: [], problems: plan.problems, dryRun: options.dryRun };

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
  if (options.dryRun) return { steps, problems: [], dryRun: true };

  if (pending.length > 0) {
    const { error } = await migrator.migrateToLatest();
    if (error) throw error instanceof Error ? error : new Error(String(error));
  }
  if (compiled.length > 0) {
    // MySQL commits each DDL statement on its own; PostgreSQL and SQLite can take them all or none.
    if (database.dialect === 'mysql') {
      for (const query of compiled) await db.executeQuery(query);
    } else {
      await db.transaction().execute(async (trx) => {
        for (const query of compiled) await trx.executeQuery(query);
      });
    }
  }
  return { steps, problems: [], dryRun: false };
}

function describeChanges(changes: SchemaChange[]): string {
  const columns = changes.filter((c) => c.kind === 'add-column').length;
  const indexes = changes.length - columns;
  return `configured tables: ${columns} column${columns === 1 ? '' : 's'}, ${indexes} index${indexes === 1 ? '' : 'es'}`;
}
