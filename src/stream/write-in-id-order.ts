import { CompiledQuery } from 'kysely';
import type { Row } from '../config/service-config.js';
import { chunksOf } from '../db/statement-chunks.js';
import { compareIds } from './flag-write-group.js';

/**
 * Numeric ids spread over this many times their number, or more, are
 * scattered: a statement over them touches about a page for each record
 * (a page holds tens of short records).
 */
export const SCATTERED_SPREAD = 16;

/** Whether a batch's ids are scattered over the table (SCATTERED_SPREAD); ids that are not numbers never are. */
export function idsScattered(ids: readonly unknown[]): boolean {
  if (ids.length < 2) return false;
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  for (const id of ids) {
    if (typeof id !== 'number' && typeof id !== 'bigint') return false;
    const value = Number(id);
    if (value < min) min = value;
    if (value > max) max = value;
  }
  return max - min + 1 >= SCATTERED_SPREAD * ids.length;
}

/** One record of the batches written together: its id, and which batch it came in. */
export interface BatchedRecord {
  id: unknown;
  batch: number;
}

/**
 * Writes the records of several batches in id order, `perStatement` at a
 * time, by `write` (an UPDATE … RETURNING of their ids), and counts the ids
 * each statement returns by the batch they came in: the rows each batch
 * changed, in the order of the batches. Numeric ids (the usual) are sorted
 * as numbers, and each statement's are matched to the ids it returned by
 * walking both in order: keyed by their text in a map and compared by
 * compareIds, 200,000 records cost 0.2 s of a 1,000-node push's profile.
 */
export async function writeInIdOrder<R extends BatchedRecord>(
  records: R[],
  batches: number,
  perStatement: number,
  write: (chunk: R[]) => Promise<Row[]>,
): Promise<number[]> {
  const changed = Array.from({ length: batches }, () => 0);
  if (records.every((record) => typeof record.id === 'number')) {
    const ordered = records.slice().sort((a, b) => (a.id as number) - (b.id as number));
    for (const chunk of chunksOf(ordered, perStatement)) {
      // A driver may return a number it was given as a bigint (a 64-bit column): Number() matches it.
      const returned = Float64Array.from(await write(chunk), (row) => Number(row.id)).sort();
      let at = 0;
      for (const id of returned) {
        while (at < chunk.length && (chunk[at]!.id as number) < id) at++;
        if (at < chunk.length && chunk[at]!.id === id) changed[chunk[at++]!.batch]!++;
      }
    }
    return changed;
  }
  const batchOf = new Map(records.map((record) => [String(record.id), record.batch]));
  const ordered = [...records].sort((a, b) => compareIds(a.id, b.id));
  for (const chunk of chunksOf(ordered, perStatement)) {
    for (const row of await write(chunk)) {
      const batch = batchOf.get(String(row.id));
      if (batch !== undefined) changed[batch]!++;
    }
  }
  return changed;
}

/** The placeholders of a VALUES list, by its shape: a pass writes chunks of one length, and builds the text once. */
const placeholdersByShape = new Map<string, string>();

/**
 * `head (?, ?, …), (?, …) tail` binding each row's values, `width` a row:
 * the VALUES list as text and one flat parameter list, because thousands
 * of Kysely nodes a statement (or spreading 30,000 parameters) cost more
 * than the statement itself (0.9 µs a record in a pull's profile).
 */
export function valuesQuery(head: CompiledQuery, tail: CompiledQuery, width: number, rows: readonly (readonly unknown[])[]): CompiledQuery {
  const shape = `${width}x${rows.length}`;
  let placeholders = placeholdersByShape.get(shape);
  if (placeholders === undefined) {
    const row = `(${Array.from({ length: width }, () => '?').join(', ')})`;
    placeholders = Array.from({ length: rows.length }, () => row).join(', ');
    if (placeholdersByShape.size < 64) placeholdersByShape.set(shape, placeholders);
  }
  const parameters: unknown[] = [];
  for (const value of head.parameters) parameters.push(value);
  for (const row of rows) for (const value of row) parameters.push(value);
  for (const value of tail.parameters) parameters.push(value);
  return CompiledQuery.raw(`${head.sql}${placeholders}${tail.sql}`, parameters);
}
