import type { MeshConfig } from '../config/mesh-config.js';
import type { Database } from './open-database.js';
import { planSchemaChanges } from './plan-schema-changes.js';
import { readSchema } from './read-schema.js';
import { SchemaNotReadyError } from './schema-not-ready-error.js';

export { SchemaNotReadyError };

const OWN_TABLES = [
  'workmesh_state',
  'workmesh_lease',
  'workmesh_run',
  'workmesh_node_health',
  'workmesh_stream_history',
  'workmesh_stream_totals',
  'workmesh_record_counts',
];

/**
 * Checks, before any work, what can only be checked against the database:
 * that the configured tables (each in its own schema) and columns exist,
 * pull.columns targets included; that flag and node columns can hold what
 * mesh writes and are nullable; that `mesh migrate` has added the package's
 * tables, the flag columns and the indexes the passes read through (without
 * them push and pull sort every batch). So a command fails at once with the
 * service, protocol and column, and what to do, instead of an SQL error
 * midway. Warnings (a nullable sort, a short result column) are `mesh
 * migrate`'s to print.
 */
export async function checkSchema(database: Database, config: MeshConfig): Promise<void> {
  const tables = [...new Set(config.services.flatMap((s) => [s.entity.table, ...s.protocols.map((p) => p.table)]))];
  const schema = await readSchema(database, tables);
  const own = await readSchema(database, OWN_TABLES, { indexes: false });
  const plan = planSchemaChanges(config, database.dialect, schema);
  if (plan.problems.length > 0) throw new SchemaNotReadyError(plan.problems.join('; '));
  const missing = [
    ...OWN_TABLES.filter((t) => !own.has(t)).map((t) => `table ${t}`),
    ...plan.changes.map((c) =>
      c.kind === 'add-column' ? `column ${c.table}.${c.column}` : `index ${c.name} on ${c.table}(${c.columns.join(', ')})`,
    ),
  ];
  if (missing.length > 0) {
    throw new SchemaNotReadyError(`the database is not prepared: missing ${missing.join(', ')}; run mesh migrate`);
  }
}
