import { sql } from 'kysely';
import type { Database } from './open-database.js';

export interface TableSchema {
  columns: Set<string>;
  /** Each index as its ordered column list. */
  indexes: string[][];
}

/** The columns (and indexes, unless told not to) of the named tables; a table that does not exist is absent from the map. */
export async function readSchema(
  database: Database,
  tables: string[],
  options: { indexes: boolean } = { indexes: true },
): Promise<Map<string, TableSchema>> {
  const wanted = new Set(tables);
  const found = new Map<string, TableSchema>();
  const introspected = await database.db.introspection.getTables();
  for (const table of introspected) {
    if (!wanted.has(table.name)) continue;
    found.set(table.name, { columns: new Set(table.columns.map((c) => c.name)), indexes: [] });
  }
  if (options.indexes) for (const [table, schema] of found) schema.indexes = await readIndexes(database, table);
  return found;
}

interface IndexColumnRow {
  index_name: string;
  column_name: string;
}

async function readIndexes(database: Database, table: string): Promise<string[][]> {
  let rows: IndexColumnRow[];
  switch (database.dialect) {
    case 'sqlite':
      rows = (
        await sql<IndexColumnRow>`
          SELECT il.name AS index_name, ii.name AS column_name
          FROM pragma_index_list(${table}) AS il, pragma_index_info(il.name) AS ii
          ORDER BY il.name, ii.seqno`.execute(database.db)
      ).rows;
      break;
    case 'mysql':
      rows = (
        await sql<IndexColumnRow>`
          SELECT index_name AS index_name, column_name AS column_name
          FROM information_schema.statistics
          WHERE table_schema = DATABASE() AND table_name = ${table}
          ORDER BY index_name, seq_in_index`.execute(database.db)
      ).rows;
      break;
    case 'postgres':
      rows = (
        await sql<IndexColumnRow>`
          SELECT ic.relname AS index_name, a.attname AS column_name
          FROM pg_index x
          JOIN pg_class t ON t.oid = x.indrelid
          JOIN pg_class ic ON ic.oid = x.indexrelid
          JOIN pg_namespace n ON n.oid = t.relnamespace
          CROSS JOIN LATERAL unnest(x.indkey) WITH ORDINALITY AS k(attnum, ord)
          JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum
          WHERE t.relname = ${table} AND n.nspname = current_schema()
          ORDER BY ic.relname, k.ord`.execute(database.db)
      ).rows;
      break;
  }
  const byIndex = new Map<string, string[]>();
  for (const row of rows) {
    const columns = byIndex.get(row.index_name) ?? [];
    columns.push(row.column_name);
    byIndex.set(row.index_name, columns);
  }
  return [...byIndex.values()];
}
