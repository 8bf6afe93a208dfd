/**
 * Whether a database error is about the data a statement tried to write
 * (too long for its column, bad encoding, a NUL byte in PostgreSQL text, a
 * value of the wrong type, a constraint), rather than about the connection
 * or the server. A data error concerns one batch: that batch fails and the
 * run goes on. Anything else (a lost connection, a server going away, a
 * deadlock) is left to end the run.
 */
export function isDataError(error: unknown): boolean {
  if (error === null || typeof error !== 'object') return false;
  const { code, sqlState, errno } = error as { code?: unknown; sqlState?: unknown; errno?: unknown };
  // PostgreSQL: SQLSTATE classes 22 (data exception) and 23 (integrity constraint), 42804 (datatype mismatch).
  if (typeof code === 'string' && /^(22|23)[0-9A-Z]{3}$|^42804$/.test(code)) return true;
  // MySQL and MariaDB: the same SQLSTATE classes, and the strict-mode conversions that report HY000.
  if (typeof sqlState === 'string' && /^(22|23)/.test(sqlState)) return true;
  if (typeof errno === 'number' && MYSQL_DATA_ERRORS.has(errno)) return true;
  // SQLite (better-sqlite3): constraints, a value over the size limit, a type mismatch.
  if (typeof code === 'string' && /^SQLITE_(CONSTRAINT|TOOBIG|MISMATCH)/.test(code)) return true;
  return false;
}

/** ER_TRUNCATED_WRONG_VALUE_FOR_FIELD, ER_TRUNCATED_WRONG_VALUE, WARN_DATA_TRUNCATED, ER_DATA_TOO_LONG, ER_WARN_DATA_OUT_OF_RANGE, ER_INVALID_JSON_TEXT, ER_BAD_NULL_ERROR. */
const MYSQL_DATA_ERRORS = new Set([1366, 1292, 1265, 1406, 1264, 3140, 1048]);

/** A database error's message, as a pull or push error flag stores it. */
export function dataErrorText(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return `database refused the batch: ${message.slice(0, 1000)}`;
}
