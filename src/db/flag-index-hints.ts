import { sql, type RawBuilder } from 'kysely';
import type { ResolvedProtocol } from '../config/mesh-config.js';
import type { Db } from '../config/service-config.js';
import type { DialectName } from './database-url.js';
import { readIndexColumns } from './read-schema.js';

/** Index hints for the reads of a flag range: ` force index (...)` after the records table's alias, or nothing. */
export interface FlagIndexHints {
  /** For a range of push_success: the `(push_success, sort, id)` index. */
  push: RawBuilder<unknown>;
  /** For a range of pull_success and push_success: the `(pull_success, push_success, sort, id)` index. */
  pull: RawBuilder<unknown>;
}

export const NO_HINTS: FlagIndexHints = { push: sql``, pull: sql`` };

const known = new WeakMap<Db, Map<string, Promise<FlagIndexHints>>>();

/**
 * MySQL and MariaDB estimate `flag IS NULL` from the index's cardinality
 * alone (two values: half the table) and, without an ORDER BY ... LIMIT to
 * lean on, scan the whole table for the reports' counts of the work in
 * flight, at 10 million records as at a thousand. They are told the index
 * the flags range lives in, found by its leading columns (the one migrate
 * made, or the user's own); SQLite and PostgreSQL plan these ranges well by
 * themselves. Read once per database and table: migrate only ever adds indexes.
 */
export function flagIndexHints(db: Db, dialect: DialectName, protocol: ResolvedProtocol): Promise<FlagIndexHints> {
  if (dialect !== 'mysql') return Promise.resolve(NO_HINTS);
  let tables = known.get(db);
  if (!tables) known.set(db, (tables = new Map()));
  const key = JSON.stringify([protocol.table, protocol.flags.pushSuccess, protocol.flags.pullSuccess]);
  let hints = tables.get(key);
  if (!hints) {
    hints = readHints(db, dialect, protocol);
    tables.set(key, hints);
    // A failed read is not kept: the next report asks again.
    hints.catch(() => tables.delete(key));
  }
  return hints;
}

async function readHints(db: Db, dialect: DialectName, protocol: ResolvedProtocol): Promise<FlagIndexHints> {
  const indexes = await readIndexColumns({ db, dialect }, protocol.table);
  const same = (a: string | undefined, b: string) => a !== undefined && a.toLowerCase() === b.toLowerCase();
  const { pushSuccess, pullSuccess } = protocol.flags;
  const find = (first: string, second?: string) =>
    [...indexes].find(([, columns]) => same(columns[0], first) && (second === undefined || same(columns[1], second)))?.[0];
  const hint = (name: string | undefined) => (name === undefined ? sql`` : sql` force index (${sql.id(name)})`);
  return { push: hint(find(pushSuccess)), pull: hint(find(pullSuccess, pushSuccess)) };
}
