import { sql } from 'kysely';
import type { Database } from './open-database.js';
import { splitTableName } from './table-name.js';

export interface ColumnSchema {
  name: string;
  /**
   * The type's name, lower case, without its length: PostgreSQL's (`varchar`,
   * `int8`, `uuid`, `timestamptz`, usable in a cast), MySQL's data type
   * (`varchar`, `bigint`, `datetime`), SQLite's declared type (`varchar`,
   * `integer`, or '' when none).
   */
  type: string;
  /** The declared length of a character type (`varchar(64)`: 64); null when none. */
  maxLength: number | null;
  nullable: boolean;
}

export interface TableSchema {
  columns: Set<string>;
  /** Each column's type and nullability, by name. */
  columnTypes: Map<string, ColumnSchema>;
  /** Each index as its ordered column list. */
  indexes: string[][];
}

interface ColumnRow {
  column_name: string;
  data_type: string;
  max_length: number | string | null;
  nullable: number | string | boolean;
}

/**
 * The columns (and indexes, unless told not to) of the named tables, each
 * looked up in its own schema only (`app.accounts` in schema app; an
 * unqualified name in the connection's current schema), so that a table of
 * the same name elsewhere is never taken for it. A table that does not
 * exist is absent from the map, whose keys are the names as given.
 */
export async function readSchema(
  database: Database,
  tables: string[],
  options: { indexes: boolean } = { indexes: true },
): Promise<Map<string, TableSchema>> {
  const found = new Map<string, TableSchema>();
  for (const name of new Set(tables)) {
    const columns = await readColumns(database, name);
    if (columns.length === 0) continue;
    found.set(name, {
      columns: new Set(columns.map((c) => c.name)),
      columnTypes: new Map(columns.map((c) => [c.name, c])),
      indexes: options.indexes ? await readIndexes(database, name) : [],
    });
  }
  return found;
}

async function readColumns(database: Database, name: string): Promise<ColumnSchema[]> {
  const { schema, table } = splitTableName(name);
  let rows: ColumnRow[];
  switch (database.dialect) {
    case 'sqlite':
      // A primary key counts as NOT NULL (SQLite reports an INTEGER PRIMARY KEY, the rowid, as nullable).
      rows = (
        await sql<ColumnRow>`
          SELECT name AS column_name, type AS data_type, NULL AS max_length, "notnull" = 0 AND pk = 0 AS nullable
          FROM pragma_table_info(${table}, ${schema ?? 'main'}) ORDER BY cid`.execute(database.db)
      ).rows;
      break;
    case 'mysql':
      rows = (
        await sql<ColumnRow>`
          SELECT column_name AS column_name, data_type AS data_type, character_maximum_length AS max_length,
            is_nullable = 'YES' AS nullable
          FROM information_schema.columns
          WHERE table_schema = ${schema === null ? sql`DATABASE()` : schema} AND table_name = ${table}
          ORDER BY ordinal_position`.execute(database.db)
      ).rows;
      break;
    case 'postgres':
      rows = (
        await sql<ColumnRow>`
          SELECT column_name AS column_name, udt_name AS data_type, character_maximum_length AS max_length,
            is_nullable = 'YES' AS nullable
          FROM information_schema.columns
          WHERE table_schema = ${schema === null ? sql`current_schema()` : schema} AND table_name = ${table}
          ORDER BY ordinal_position`.execute(database.db)
      ).rows;
      break;
  }
  return rows.map((row) => {
    const declared = String(row.data_type ?? '').toLowerCase();
    // SQLite keeps the declared type as written: `varchar(64)` carries its length.
    const sqliteLength = /\((\d+)\)/.exec(declared)?.[1];
    return {
      name: row.column_name,
      type: declared.replace(/\s*\(.*$/, ''),
      maxLength: row.max_length !== null ? Number(row.max_length) : sqliteLength !== undefined ? Number(sqliteLength) : null,
      nullable: row.nullable === true || Number(row.nullable) === 1,
    };
  });
}

interface IndexColumnRow {
  index_name: string;
  column_name: string;
}

async function readIndexes(database: Database, name: string): Promise<string[][]> {
  return [...(await readIndexColumns(database, name)).values()];
}

/** The indexes of a table (schema-qualified or not): name → columns in index order. */
export async function readIndexColumns(database: Pick<Database, 'db' | 'dialect'>, name: string): Promise<Map<string, string[]>> {
  const { schema, table } = splitTableName(name);
  let rows: IndexColumnRow[];
  switch (database.dialect) {
    case 'sqlite':
      rows = (
        await sql<IndexColumnRow>`
          SELECT il.name AS index_name, ii.name AS column_name
          FROM pragma_index_list(${table}, ${schema ?? 'main'}) AS il, pragma_index_info(il.name, ${schema ?? 'main'}) AS ii
          ORDER BY il.name, ii.seqno`.execute(database.db)
      ).rows;
      break;
    case 'mysql':
      rows = (
        await sql<IndexColumnRow>`
          SELECT index_name AS index_name, column_name AS column_name
          FROM information_schema.statistics
          WHERE table_schema = ${schema === null ? sql`DATABASE()` : schema} AND table_name = ${table}
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
          WHERE t.relname = ${table} AND n.nspname = ${schema === null ? sql`current_schema()` : schema}
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
  return byIndex;
}
