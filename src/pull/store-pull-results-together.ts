import { sql } from 'kysely';
import type { ResolvedProtocol, ResolvedService } from '../config/mesh-config.js';
import type { Db, Row } from '../config/service-config.js';
import { toDbBoolean, toDbTime } from '../db/db-values.js';
import { addRecordCounts, type CountChange } from '../db/record-counts.js';
import { stillDeliveredTo } from '../db/record-guards.js';
import { valuesQuery, writeInIdOrder } from '../stream/write-in-id-order.js';
import { pullFlagColumns, sqliteValue, storePullFailures, type PullBatchResults, type StoredPull } from './write-pull-results.js';

/** One answered pull batch of those stored together. */
export interface PulledBatch {
  node: string;
  answered: PullBatchResults;
  at: Date;
}

/** The ids of the records a batch's answer covers, results and errors. */
export function pulledIds(batch: PulledBatch, idColumn: string): unknown[] {
  const { succeeded, failed } = batch.answered;
  return [...succeeded.map((s) => s.record[idColumn]), ...failed.map((f) => f.record[idColumn])];
}

/**
 * Parameters one statement binds at most (a thousand records of one result
 * column, as a push's): every full statement has the same text and is
 * prepared once. At 30,000 (near SQLite's 32,766) each group's statements
 * were prepared anew, and the 200,000 records of a 1,000-node pull took
 * 827–977 ms of SQLite's time against 757–818 ms.
 */
const PARAMETERS_PER_STATEMENT = 5_000;

/**
 * Whether a protocol's results can be stored together (SQLite only: on
 * PostgreSQL, with each value cast to its column's type, it was no faster at
 * 1,000 nodes, 64.4 against 61.9 µs a record, and peaked 170 MB higher): into
 * `pull.columns`, none of them a flag column, and no `pull.fn` (which sees
 * each batch's records alone).
 */
export function storableTogether(protocol: ResolvedProtocol): boolean {
  const pull = protocol.pull;
  if (!pull?.columns || pull.fn) return false;
  const flagColumns = pullFlagColumns(protocol);
  return !Object.values(pull.columns).some((column) => flagColumns.includes(column));
}

/**
 * storePullResults for several batches, whatever their nodes (SQLite, a
 * protocol storableTogether): the successes of all in id order, each row
 * joined by primary key to its batch's node, time and results, guarded as
 * storePullResults guards it, and returned, so that each batch counts its
 * own; the errors per batch, as before. With many nodes a batch's records
 * are scattered over the table, and a statement per batch cost four times
 * as much a record as the same records in id order (write-push-flags.ts).
 * The counters change in the same transaction. Returns each batch's
 * StoredPull, in the order given.
 */
export async function storePullResultsTogether(
  trx: Db,
  service: ResolvedService,
  protocol: ResolvedProtocol,
  batches: PulledBatch[],
): Promise<StoredPull[]> {
  const dialect = 'sqlite';
  const { flags } = protocol;
  const table = sql.table(protocol.table);
  const id = sql.ref(protocol.id);
  // Only the columns some result has a field for.
  const columns = Object.entries(protocol.pull!.columns!).filter(([field]) =>
    batches.some((b) => b.answered.succeeded.some((s) => field in s.result)),
  );
  const records = batches.flatMap((batch, index) => {
    const at = toDbTime(dialect, batch.at);
    return batch.answered.succeeded.map(({ record, result }) => {
      const params: unknown[] = [record[protocol.id], batch.node, at];
      for (const [field] of columns) {
        if (field in result) params.push(sqliteValue(result[field]), 1);
        else params.push(null, 0);
      }
      return { id: record[protocol.id], batch: index, params };
    });
  });
  const names = ['__wm_id', '__wm_node', '__wm_at', ...columns.flatMap((_, i) => [`__wm_v${i}`, `__wm_p${i}`])];
  const set = [
    ...columns.map(
      ([, column], i) =>
        sql`${sql.ref(column)} = case when v.${sql.ref(`__wm_p${i}`)} then v.${sql.ref(`__wm_v${i}`)} else ${table}.${sql.ref(column)} end`,
    ),
    sql`${sql.ref(flags.pullSuccess)} = ${toDbBoolean(dialect, true)}`,
    sql`${sql.ref(flags.pullTime)} = v.${sql.ref('__wm_at')}`,
    sql`${sql.ref(flags.pullError)} = null`,
  ];
  const still = stillDeliveredTo(dialect, service, protocol, sql`v.${sql.ref('__wm_node')}`);
  const head = sql`with v(${sql.join(names.map((n) => sql.ref(n)))}) as (values `.compile(trx);
  const tail = sql`)
    update ${table} set ${sql.join(set, sql`, `)}
    from v where ${table}.${id} = v.${sql.ref('__wm_id')} and ${still}
    returning ${table}.${id} as id`.compile(trx);
  const perStatement = Math.max(1, Math.floor(PARAMETERS_PER_STATEMENT / names.length));
  const pulled = await writeInIdOrder(records, batches.length, perStatement, async (chunk) => {
    const { rows } = await trx.executeQuery<Row>(
      valuesQuery(
        head,
        tail,
        names.length,
        chunk.map((row) => row.params),
      ),
    );
    return rows;
  });
  const stored: StoredPull[] = [];
  const counts = new Map<string, { processed: number; failed: number }>();
  for (const [index, batch] of batches.entries()) {
    const failed = await storePullFailures(trx, dialect, { service, node: batch.node }, protocol, batch.answered, batch.at);
    const total = batch.answered.succeeded.length + batch.answered.failed.length;
    stored.push({ pulled: pulled[index]!, failed, skipped: total - pulled[index]! - failed });
    const count = counts.get(batch.node) ?? { processed: 0, failed: 0 };
    counts.set(batch.node, { processed: count.processed + pulled[index]!, failed: count.failed + failed });
  }
  const changes: CountChange[] = [...counts].flatMap(([node, c]) => [
    { node, state: 'processed' as const, records: c.processed },
    { node, state: 'failed' as const, records: c.failed },
  ]);
  await addRecordCounts(trx, dialect, service, protocol, changes);
  return stored;
}
