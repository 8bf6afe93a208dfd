import type { DialectName } from './database-url.js';

/** better-sqlite3 binds neither booleans nor dates; the servers take both. */
export function toDbBoolean(dialect: DialectName, value: boolean): boolean | number {
  return dialect === 'sqlite' ? (value ? 1 : 0) : value;
}

/** Flag times: a Date on the servers, an ISO 8601 string in SQLite. */
export function toDbTime(dialect: DialectName, value: Date): Date | string {
  return dialect === 'sqlite' ? value.toISOString() : value;
}

/** Counts come back as number, bigint or string depending on the driver. */
export function toCount(value: unknown): number {
  if (value === null || value === undefined) return 0;
  return Number(value);
}
