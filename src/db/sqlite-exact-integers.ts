import type { SqliteDatabase, SqliteStatement } from 'kysely';

/**
 * better-sqlite3 behind Kysely, with integers read exactly: a number where
 * it is a safe integer, else its decimal string, as mysql2 and pg return
 * 64-bit integers. better-sqlite3 returns every integer as a JS number and
 * so rounds those beyond 2^53 (9007199254740993 read as …992: a record id
 * that then matches no row, is never flagged and is sent on every run).
 *
 * Reading every integer as a BigInt and converting it costs an allocation
 * per value on the hot path; instead a plain read (SELECT, PRAGMA, EXPLAIN)
 * runs as usual and is looked at once: only a batch holding a number beyond
 * 2^53 (which a rounded integer always is) is read again with safe integers.
 * Other statements that return rows (INSERT … RETURNING, WITH) cannot be run
 * twice and are always read with safe integers. Bound values need nothing:
 * a BigInt binds as an integer, and an integer's decimal string compared with
 * or stored in an INTEGER column is converted to the integer by its affinity.
 */
export function withExactIntegers(database: SqliteDatabase): SqliteDatabase {
  const wrapped = new WeakMap<SqliteStatement, SqliteStatement>();
  return {
    close: () => database.close(),
    prepare(sql) {
      const statement = database.prepare(sql);
      if (!statement.reader) return statement;
      let exact = wrapped.get(statement);
      if (exact === undefined) {
        exact = exactStatement(statement as BetterStatement, /^\s*(select|pragma|explain)\b/i.test(sql));
        wrapped.set(statement, exact);
      }
      return exact;
    },
  };
}

/** The part of a better-sqlite3 statement used here (Kysely's SqliteStatement lacks safeIntegers). */
interface BetterStatement extends SqliteStatement {
  safeIntegers(toggle?: boolean): unknown;
}

function exactStatement(statement: BetterStatement, rereadable: boolean): SqliteStatement {
  if (!rereadable) statement.safeIntegers(true);
  return {
    reader: true,
    all(parameters) {
      if (!rereadable) return exactRows(statement.all(parameters));
      const rows = statement.all(parameters);
      if (!hasRoundedInteger(rows)) return rows;
      statement.safeIntegers(true);
      try {
        return exactRows(statement.all(parameters));
      } finally {
        statement.safeIntegers(false);
      }
    },
    run: (parameters) => statement.run(parameters),
    *iterate(parameters) {
      statement.safeIntegers(true);
      try {
        for (const row of statement.iterate(parameters)) yield exactRow(row);
      } finally {
        if (rereadable) statement.safeIntegers(false);
      }
    },
  };
}

const MIN_SAFE = BigInt(Number.MIN_SAFE_INTEGER);
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

function hasRoundedInteger(rows: unknown[]): boolean {
  for (const row of rows as Record<string, unknown>[]) {
    for (const column in row) {
      const value = row[column];
      if (typeof value === 'number' && (value > Number.MAX_SAFE_INTEGER || value < Number.MIN_SAFE_INTEGER)) return true;
    }
  }
  return false;
}

function exactRows(rows: unknown[]): unknown[] {
  for (const row of rows) exactRow(row);
  return rows;
}

/** Converts the row's BigInts in place. */
function exactRow(row: unknown): unknown {
  const record = row as Record<string, unknown>;
  for (const column in record) {
    const value = record[column];
    if (typeof value === 'bigint') {
      record[column] = value >= MIN_SAFE && value <= MAX_SAFE ? Number(value) : value.toString();
    }
  }
  return row;
}
