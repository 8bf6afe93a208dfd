import { sql, type RawBuilder } from 'kysely';
import type { DialectName } from '../src/db/database-url.js';

/** Where an ordered pass stands: the last `(sort, id)` read. */
export interface Key {
  sort: unknown;
  id: unknown;
}

/**
 * `(sort, id) > key` in the form each planner reads as an index range
 * (row values; MariaDB/MySQL reads `sort >= ?` as the range). Written
 * independently of src/db/record-source.ts: the floor is a reference.
 */
export function afterKey(dialect: DialectName, sort: string, id: string, key: Key): RawBuilder<unknown> {
  const s = sql.ref(sort);
  const i = sql.ref(id);
  return dialect === 'mysql'
    ? sql`${s} >= ${key.sort} and (${s} > ${key.sort} or ${i} > ${key.id})`
    : sql`(${s}, ${i}) > (${key.sort}, ${key.id})`;
}

/** The sort column as text, so the key keeps the exact value the database holds. */
export function sortText(dialect: DialectName, sort: string): RawBuilder<unknown> {
  const s = sql.ref(sort);
  return dialect === 'postgres' ? sql`cast(${s} as text)` : dialect === 'mysql' ? sql`cast(${s} as char)` : sql`${s}`;
}
