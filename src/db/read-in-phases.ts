import type { Row } from '../config/service-config.js';
import { phaseAfter, type Cursor, type KeysetPhase } from './record-source.js';

/** One keyset read of at most `limit` rows after `after`, within one phase. */
export type PhaseRead = (after: Cursor | null, limit: number, phase: KeysetPhase) => Promise<Row[]>;

/**
 * The next `limit` rows of an ordered pass whose NULL sorts come first
 * (record-source.ts): one read in the phase the cursor is in, and, when a pass
 * still among the NULL sorts runs out of them, a second read from the start
 * of the sorted ones to fill the batch.
 */
export async function readInPhases(after: Cursor | null, limit: number, read: PhaseRead): Promise<Row[]> {
  const phase = phaseAfter(after);
  const rows = await read(after, limit, phase);
  if (phase === 'sorted' || rows.length >= limit) return rows;
  const more = await read(null, limit - rows.length, 'sorted');
  return more.length === 0 ? rows : [...rows, ...more];
}
