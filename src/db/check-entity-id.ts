import type { Database } from './open-database.js';
import { readSchema } from './read-schema.js';

const UUID_PLAIN = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i;
const INTEGER = /^[+-]?\d+$/;

/** The range of each integer type, by the names PostgreSQL (udt), MySQL (data_type) and SQLite (declared) use. */
const INTEGER_BITS: Record<string, number> = {
  int2: 16,
  smallint: 16,
  tinyint: 8,
  mediumint: 24,
  int4: 32,
  int: 32,
  integer: 32,
  int8: 64,
  bigint: 64,
};

/**
 * Whether `value` (an entity id typed on the command line, `--entity X`)
 * can be an id of `table.column`, from the column's type: a uuid column
 * takes a uuid, an integer column an integer in its range, a character
 * column a string no longer than its length. Returns the problem in words,
 * naming the table and column, or undefined when it fits; the database is
 * never asked with a value it would refuse (PostgreSQL answers a bad uuid
 * with a bare driver error). SQLite's INTEGER PRIMARY KEY is 64-bit.
 */
export async function checkEntityId(database: Database, table: string, column: string, value: string): Promise<string | undefined> {
  const schema = (await readSchema(database, [table], { indexes: false })).get(table);
  const info = schema && [...schema.columnTypes.values()].find((c) => c.name.toLowerCase() === column.toLowerCase());
  if (!info) return `column "${table}.${column}" does not exist`;
  const where = `column ${table}.${column} is ${info.type}${info.maxLength !== null ? `(${info.maxLength})` : ''}`;
  const shown = JSON.stringify(value);
  if (info.type === 'uuid') return UUID_PLAIN.test(value) ? undefined : `entity id ${shown} is not a uuid (${where})`;
  const bits = database.dialect === 'sqlite' && info.type === 'integer' ? 64 : INTEGER_BITS[info.type];
  if (bits !== undefined) {
    if (!INTEGER.test(value)) return `entity id ${shown} is not an integer (${where})`;
    const number = BigInt(value);
    const limit = 1n << BigInt(bits - 1);
    // Unsigned MySQL columns reach twice as far; the bound here is the signed one, doubled, so none is refused wrongly.
    const max = database.dialect === 'mysql' ? limit * 2n - 1n : limit - 1n;
    if (number < -limit || number > max) return `entity id ${shown} is out of range (${where})`;
    return undefined;
  }
  if (info.maxLength !== null && [...value].length > info.maxLength)
    return `entity id ${shown} is longer than ${info.maxLength} characters (${where})`;
  return undefined;
}
