import { sql } from 'kysely';
import type { Database } from '../../src/db/open-database.js';
import { benchRecord, digestOf, type DeliveryRow } from './bench-record.js';

export interface ResultCheck {
  records: number;
  /** Rows with no digest stored. */
  missing: number;
  /** Rows whose digest differs from the record's. */
  wrong: number;
  /** Rows without a processing sequence number, so no order can be judged. */
  unsequenced: number;
  /**
   * Records processed before the record preceding them in their entity's
   * (sort, id) order: adjacent inversions of the processing sequence, per entity.
   */
  inversions: number;
}

/** Recomputes every digest and counts per-entity order inversions of `processed_seq`. */
export async function checkResults(database: Database): Promise<ResultCheck> {
  const { rows } = await sql<DeliveryRow & { result_hash: string | null; processed_seq: string | null }>`
    select id, id_account, create_time, subject, result_hash, processed_seq from delivery`.execute(database.db);
  let missing = 0;
  let wrong = 0;
  let unsequenced = 0;
  for (const row of rows) {
    if (row.processed_seq === null) unsequenced++;
    if (row.result_hash === null) missing++;
    else if (row.result_hash !== digestOf(benchRecord(row))) wrong++;
  }
  const inverted = await sql<{ n: string }>`
    select count(*) as n from (
      select processed_seq < lag(processed_seq) over (partition by id_account order by create_time, id) as inverted from delivery
    ) t where inverted`.execute(database.db);
  return { records: rows.length, missing, wrong, unsequenced, inversions: Number(inverted.rows[0]?.n ?? 0) };
}
