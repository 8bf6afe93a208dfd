import type { Row } from '../config/service-config.js';
import { chunksOf } from '../db/statement-chunks.js';
import { compareIds } from './flag-write-group.js';

/** One record of the batches written together: its id, and which batch it came in. */
export interface BatchedRecord {
  id: unknown;
  batch: number;
}

/**
 * Writes the records of several batches in id order, `perStatement` at a
 * time, by `write` (an UPDATE … RETURNING of their ids), and counts the ids
 * each statement returns by the batch they came in: the rows each batch
 * changed, in the order of the batches.
 */
export async function writeInIdOrder<R extends BatchedRecord>(
  records: R[],
  batches: number,
  perStatement: number,
  write: (chunk: R[]) => Promise<Row[]>,
): Promise<number[]> {
  const batchOf = new Map(records.map((record) => [String(record.id), record.batch]));
  const changed = Array.from({ length: batches }, () => 0);
  const ordered = [...records].sort((a, b) => compareIds(a.id, b.id));
  for (const chunk of chunksOf(ordered, perStatement)) {
    for (const row of await write(chunk)) {
      const batch = batchOf.get(String(row.id));
      if (batch !== undefined) changed[batch]!++;
    }
  }
  return changed;
}
