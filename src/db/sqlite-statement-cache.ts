import type BetterSqlite3 from 'better-sqlite3';
import type { SqliteDatabase, SqliteStatement } from 'kysely';

/**
 * Distinct statements kept prepared. A push or pull cycles through a handful
 * of shapes, but a flag UPDATE's text depends on its batch's length: with
 * many nodes the batches are partial, of any length up to the batch size,
 * and 64 let every one of them be prepared anew.
 */
const DEFAULT_CAPACITY = 1024;

/**
 * better-sqlite3 behind Kysely, with prepared statements reused by their SQL
 * text. Kysely prepares every query anew; a push or pull runs the same few
 * statements thousands of times (the next batch after a cursor, the flags of
 * a full batch), and preparing one costs about as much as reading a batch of
 * 50 records. Least recently used statements are dropped past `capacity`.
 * Safe because Kysely runs one query at a time on a SQLite connection.
 */
export function withStatementCache(database: BetterSqlite3.Database, capacity = DEFAULT_CAPACITY): SqliteDatabase {
  const statements = new Map<string, SqliteStatement>();
  return {
    close: () => {
      statements.clear();
      database.close();
    },
    prepare(sql) {
      const cached = statements.get(sql);
      if (cached !== undefined) {
        // Re-inserted to mark it as the most recently used one.
        statements.delete(sql);
        statements.set(sql, cached);
        return cached;
      }
      const statement = database.prepare(sql);
      statements.set(sql, statement);
      if (statements.size > capacity) statements.delete(statements.keys().next().value!);
      return statement;
    },
  };
}
