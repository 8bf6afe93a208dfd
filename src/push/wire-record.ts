import type { Row } from '../config/service-config.js';
import { ExactTime } from '../db/exact-time.js';

/**
 * A record as the node contract sends it: columns as the driver returns
 * them, but dates as ISO 8601 strings in UTC with every digit the database
 * holds (microseconds from DATETIME(6) and timestamptz, see exact-time.ts), 64-bit integers that do not fit a
 * JSON number as strings, binary as base64; the given columns (flags, the
 * master's own) left out.
 */
export function toWireRecord(row: Row, omitted: ReadonlySet<string>): Row {
  const record: Row = {};
  // for...in over the driver's plain row objects, and strings, numbers and nulls
  // passed through untouched: this runs for every record pushed.
  for (const column in row) {
    if (omitted.has(column)) continue;
    const value = row[column];
    record[column] = value === null || (typeof value !== 'object' && typeof value !== 'bigint') ? value : toWireValue(value);
  }
  return record;
}

function toWireValue(value: unknown): unknown {
  if (value instanceof ExactTime) return value.iso;
  if (value instanceof Date) return value.toISOString();
  if (typeof value === 'bigint') return Number.isSafeInteger(Number(value)) ? Number(value) : value.toString();
  if (Buffer.isBuffer(value)) return value.toString('base64');
  if (value instanceof Uint8Array) return Buffer.from(value).toString('base64');
  return value;
}
