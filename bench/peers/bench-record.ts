import { createHash } from 'node:crypto';

/** A delivery row as the bench reads it. */
export interface DeliveryRow {
  id: number;
  id_account: number;
  create_time: Date | string;
  subject: string | null;
}

/**
 * The record every system hashes: exactly what `mesh push` sends a node for a
 * pending delivery (its columns, dates as ISO strings, the result columns still
 * null), so that the digest is the same whichever system computed it.
 */
export function benchRecord(row: DeliveryRow): Record<string, unknown> {
  const createTime = row.create_time instanceof Date ? row.create_time.toISOString() : row.create_time;
  return { id: row.id, id_account: row.id_account, create_time: createTime, subject: row.subject, result_hash: null, processed_seq: null };
}

/** The digest the kit's demo node computes (examples/demo-node.ts): SHA-256 of the record's JSON. */
export function digestOf(record: unknown): string {
  return createHash('sha256').update(JSON.stringify(record)).digest('hex');
}

/** The statement a peer's worker writes a digest back with; the sequence records the order the writes ran in. */
export const WRITE_DIGEST_SQL = `update delivery set result_hash = $1, processed_seq = nextval('bench_seq') where id = $2`;

/** Keyset page of the table in (sort, id) order, as an enqueuer reads it. */
export const READ_PAGE_SQL = `select id, id_account, create_time, subject from delivery
  where (create_time, id) > ($1::timestamptz, $2::integer) order by create_time, id limit $3`;
