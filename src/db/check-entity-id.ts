import { sql } from 'kysely';
import type { Database } from './open-database.js';

// Same signature as the values-schema branch's checkEntityId (src/db/check-entity-id.ts there, built on its
// readSchema column types); either one serves reassign and status.

const UUID = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i;
const INTEGER = /^[+-]?\d+$/;
const DECIMAL = /^[+-]?(\d+(\.\d*)?|\.\d+)$/;

/** Signed bits of each integer type, by the names information_schema (MySQL, PostgreSQL) and SQLite declarations use. */
const INTEGER_BITS: Record<string, number> = {
  tinyint: 8, smallint: 16, int2: 16, mediumint: 24, int: 32, integer: 32, int4: 32, bigint: 64, int8: 64,
};

interface ColumnType {
  /** Lower case: `int`, `bigint`, `varchar`, `uuid`, `integer`, … */
  type: string;
  unsigned: boolean;
  maxLength: number | null;
}

/**
 * Whether `value` (an entity id typed on the command line, `--entity X`) can
 * be an id of `table.column`, from the column's type: an integer column takes
 * an integer in its range, a uuid column a uuid, a decimal column a decimal
 * number, a character column a string no longer than its length. Returns the
 * problem in words, or undefined when it fits. Checked before any statement:
 * MySQL compares `'3 is not an id'` with an integer column as 3, so without
 * this `mesh reassign --entity "3 is not an id"` moved entity 3; PostgreSQL
 * answers a bad integer or uuid with a bare driver error.
 */
export async function checkEntityId(database: Database, table: string, column: string, value: string): Promise<string | undefined> {
  const info = await readColumnType(database, table, column);
  if (info === undefined) return `column "${table}.${column}" does not exist`;
  const where = `column ${table}.${column} is ${info.type}${info.unsigned ? ' unsigned' : ''}${info.maxLength !== null ? `(${info.maxLength})` : ''}`;
  const shown = JSON.stringify(value);
  if (info.type === 'uuid') return UUID.test(value) ? undefined : `entity id ${shown} is not a uuid (${where})`;
  // SQLite gives any type naming INT integer affinity; an INTEGER PRIMARY KEY is 64-bit.
  const bits = database.dialect === 'sqlite' ? (info.type.includes('int') ? 64 : undefined) : INTEGER_BITS[info.type];
  if (bits !== undefined) {
    if (!INTEGER.test(value)) return `entity id ${shown} is not an integer (${where})`;
    const number = BigInt(value);
    const half = 1n << BigInt(bits - 1);
    const [min, max] = info.unsigned ? [0n, half * 2n - 1n] : [-half, half - 1n];
    if (number < min || number > max) return `entity id ${shown} is out of range (${where})`;
    return undefined;
  }
  if (['decimal', 'numeric', 'real', 'double', 'double precision', 'float', 'float4', 'float8'].includes(info.type)) {
    return DECIMAL.test(value) ? undefined : `entity id ${shown} is not a number (${where})`;
  }
  if (info.maxLength !== null && [...value].length > info.maxLength) {
    return `entity id ${shown} is longer than ${info.maxLength} characters (${where})`;
  }
  return undefined;
}

/** `schema.table` (PostgreSQL schema, MySQL database) or a plain name, in the connection's own schema. */
function splitTable(table: string): { schema: string | undefined; name: string } {
  const dot = table.indexOf('.');
  return dot === -1 ? { schema: undefined, name: table } : { schema: table.slice(0, dot), name: table.slice(dot + 1) };
}

async function readColumnType(database: Database, table: string, column: string): Promise<ColumnType | undefined> {
  const { schema, name } = splitTable(table);
  switch (database.dialect) {
    case 'sqlite': {
      const rows = (
        await sql<{ name: string; type: string }>`SELECT name, type FROM pragma_table_info(${name})`.execute(database.db)
      ).rows;
      const row = rows.find((r) => r.name.toLowerCase() === column.toLowerCase());
      if (row === undefined) return undefined;
      const length = /\((\d+)\)/.exec(row.type);
      return { type: row.type.toLowerCase().replace(/\(.*$/, '').trim(), unsigned: false, maxLength: length ? Number(length[1]) : null };
    }
    case 'mysql': {
      const rows = (
        await sql<{ data_type: string; column_type: string; max_length: number | string | null }>`
          SELECT data_type AS data_type, column_type AS column_type, character_maximum_length AS max_length
          FROM information_schema.columns
          WHERE table_schema = ${schema === undefined ? sql`DATABASE()` : schema} AND table_name = ${name} AND column_name = ${column}`.execute(
          database.db,
        )
      ).rows;
      const row = rows[0];
      if (row === undefined) return undefined;
      return {
        type: String(row.data_type).toLowerCase(),
        unsigned: /unsigned/i.test(String(row.column_type)),
        maxLength: row.max_length === null ? null : Number(row.max_length),
      };
    }
    case 'postgres': {
      const rows = (
        await sql<{ udt_name: string; data_type: string; max_length: number | null }>`
          SELECT udt_name AS udt_name, data_type AS data_type, character_maximum_length AS max_length
          FROM information_schema.columns
          WHERE table_schema = ${schema === undefined ? sql`current_schema()` : schema} AND table_name = ${name} AND column_name = ${column}`.execute(
          database.db,
        )
      ).rows;
      const row = rows[0];
      if (row === undefined) return undefined;
      const type = row.data_type === 'numeric' || row.data_type === 'double precision' || row.data_type === 'real' ? row.data_type : row.udt_name;
      return { type: type.toLowerCase(), unsigned: false, maxLength: row.max_length === null ? null : Number(row.max_length) };
    }
  }
}
