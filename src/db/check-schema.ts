import type { MeshConfig } from '../config/mesh-config.js';
import type { Database } from './open-database.js';
import { planSchemaChanges } from './plan-schema-changes.js';
import { readSchema } from './read-schema.js';
import { SchemaNotReadyError } from './schema-not-ready-error.js';

export { SchemaNotReadyError };

const OWN_TABLES = ['workmesh_state', 'workmesh_lease', 'workmesh_run', 'workmesh_node_health', 'workmesh_stream_history', 'workmesh_stream_totals'];

/**
 * Checks, before any work, that the configured tables and columns exist and
 * that `mesh migrate` has added the package's tables and the flag columns,
 * so that a command fails with what to do instead of an SQL error midway.
 * Missing indexes only slow things down and are not checked here.
 */
export async function checkSchema(database: Database, config: MeshConfig): Promise<void> {
  const tables = [...new Set(config.services.flatMap((s) => [s.entity.table, ...s.protocols.map((p) => p.table)]))];
  const schema = await readSchema(database, [...tables, ...OWN_TABLES], { indexes: false });
  const plan = planSchemaChanges(config, database.dialect, schema);
  if (plan.problems.length > 0) throw new SchemaNotReadyError(plan.problems.join('; '));
  const missing = [
    ...OWN_TABLES.filter((t) => !schema.has(t)).map((t) => `table ${t}`),
    ...plan.changes.flatMap((c) => (c.kind === 'add-column' ? [`column ${c.table}.${c.column}`] : [])),
  ];
  if (missing.length > 0) {
    throw new SchemaNotReadyError(`the database is not prepared: missing ${missing.join(', ')}; run mesh migrate`);
  }
}
