import type { InsertQueryBuilder } from 'kysely';
import type { DialectName } from './database-url.js';

/**
 * The insert, skipping the rows whose key exists already (another master
 * wrote them first): `insert ignore` on MySQL/MariaDB, `on conflict do
 * nothing` on PostgreSQL and SQLite.
 */
export function ignoringConflicts<DB, TB extends keyof DB, O>(
  insert: InsertQueryBuilder<DB, TB, O>,
  dialect: DialectName,
): InsertQueryBuilder<DB, TB, O> {
  return dialect === 'mysql' ? insert.ignore() : insert.onConflict((oc) => oc.doNothing());
}
