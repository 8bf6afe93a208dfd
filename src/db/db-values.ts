import type { DialectName } from './database-url.js';
import { ExactTime } from './exact-time.js';

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

/**
 * Two flag times as read back (db-values and exact-time.ts): ISO strings in
 * SQLite, compared as SQLite compares text; Dates on the servers, to the
 * microsecond where the value holds one (ExactTime). Undefined for values of
 * any other kind, which the master never writes.
 */
export function compareDbTimes(a: unknown, b: unknown): number | undefined {
  if (typeof a === 'string' && typeof b === 'string') return a < b ? -1 : a > b ? 1 : 0;
  if (!(a instanceof Date) || !(b instanceof Date)) return undefined;
  const difference = a.getTime() - b.getTime();
  if (Number.isNaN(difference)) return undefined;
  if (difference !== 0) return Math.sign(difference);
  const [x, y] = [microsecondIso(a), microsecondIso(b)];
  return x < y ? -1 : x > y ? 1 : 0;
}

function microsecondIso(time: Date): string {
  return time instanceof ExactTime ? time.iso : time.toISOString().replace(/Z$/, '000Z');
}
