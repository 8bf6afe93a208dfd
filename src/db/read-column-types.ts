import type { Database } from './open-database.js';
import { readSchema } from './read-schema.js';

const TYPE_NAME = /^[A-Za-z_][A-Za-z0-9_ ]*$/;

/**
 * PostgreSQL: the type of each column of a table, by name, for casts of the
 * values bound to it (PostgreSQL infers none inside CASE or VALUES). Only
 * plain type names (`bigint`, `timestamp with time zone`): a name with
 * parentheses or quotes is left out, and its column gets no cast. Empty on
 * the other dialects, which convert on their own.
 */
export async function readColumnTypes(database: Database, table: string): Promise<Map<string, string>> {
  const types = new Map<string, string>();
  if (database.dialect !== 'postgres') return types;
  // The table in its own schema (read-schema.ts), never a namesake elsewhere.
  const schema = (await readSchema(database, [table], { indexes: false })).get(table);
  for (const column of schema?.columnTypes.values() ?? []) {
    if (TYPE_NAME.test(column.type)) types.set(column.name, column.type);
  }
  return types;
}
