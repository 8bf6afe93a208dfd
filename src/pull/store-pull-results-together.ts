import { CompiledQuery, sql, type RawBuilder } from 'kysely';
import type { ResolvedProtocol, ResolvedService } from '../config/mesh-config.js';
import type { Db, PullResult, Row } from '../config/service-config.js';
import type { DialectName } from '../db/database-url.js';
import { toDbBoolean, toDbTime } from '../db/db-values.js';
import { addRecordCounts, type CountChange } from '../db/record-counts.js';
import { stillDeliveredTo } from '../db/record-guards.js';
import { compareIds } from '../stream/flag-write-group.js';
import { bindValue, sqliteValue, storePullFailures, type PullBatchResults, type StoredPull } from './write-pull-results.js';

/** One answered pull batch of those stored together. */
export interface PulledBatch {
  node: string;
  answered: PullBatchResults;
  at: Date;
}

/** Parameters one statement binds at most: under SQLite's 32,766 and PostgreSQL's 65,535. */
const PARAMETERS_PER_STATEMENT = 30_000;

/**
 * Where a protocol's results can be stored together: into `pull.columns`,
 * none of them a flag column, and no `pull.fn` (which sees each batch's
 * records alone); on SQLite, or on PostgreSQL with the types of the id,
 * the pull time and every result column (each value is cast to its
 * column's type: PostgreSQL types a VALUES column by its values). MySQL has
 * no UPDATE ... RETURNING to count each batch's rows.
 */
export type StoreTogether = { dialect: 'sqlite' } | { dialect: 'postgres'; columnTypes: Map<string, string> };

export function storeTogether(
  dialect: DialectName,
  protocol: ResolvedProtocol,
  columnTypes: Map<string, string>,
): StoreTogether | undefined {
  const pull = protocol.pull;
  if (!pull?.columns || pull.fn) return undefined;
  const flagColumns = [protocol.flags.pullSuccess, protocol.flags.pullTime, protocol.flags.pullError];
  if (Object.values(pull.columns).some((column) => flagColumns.includes(column))) return undefined;
  if (dialect === 'sqlite') return { dialect };
  const typed = [protocol.id, protocol.flags.pullTime, ...Object.values(pull.columns)].every((column) => columnTypes.has(column));
  return dialect === 'postgres' && typed ? { dialect, columnTypes } : undefined;
}

/**
 * storePullResults for several batches, whatever their nodes (where
 * storeTogether says it can be): the successes of all in id order, each row
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
  together: StoreTogether,
): Promise<StoredPull[]> {
  const { dialect } = together;
  const { flags } = protocol;
  const table = sql.table(protocol.table);
  const id = sql.ref(protocol.id);
  // Only the columns some result has a field for.
  const columns = Object.entries(protocol.pull!.columns!).filter(([field]) =>
    batches.some((b) => b.answered.succeeded.some((s) => field in s.result)),
  );
  const batchOf = new Map<string, number>();
  const rows: { id: unknown; node: string; at: unknown; result: PullResult }[] = [];
  batches.forEach((batch, index) => {
    const at = toDbTime(dialect, batch.at);
    for (const { record, result } of batch.answered.succeeded) {
      batchOf.set(String(record[protocol.id]), index);
      rows.push({ id: record[protocol.id], node: batch.node, at, result });
    }
  });
  rows.sort((a, b) => compareIds(a.id, b.id));
  const pulled = batches.map(() => 0);
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
  const head = sql`with v(${sql.join(names.map((n) => sql.ref(n)))}) as (values `;
  // PostgreSQL estimates a join to VALUES by the table's size and may scan it whole: the ids listed make it a read by key.
  const keyed = (chunk: typeof rows) =>
    dialect === 'postgres' ? sql` and ${table}.${id} in (${sql.join(chunk.map((row) => row.id))})` : sql``;
  const tail = (chunk: typeof rows) => sql`)
    update ${table} set ${sql.join(set, sql`, `)}
    from v where ${table}.${id} = v.${sql.ref('__wm_id')}${keyed(chunk)} and ${still}
    returning ${table}.${id} as id`;
  const perStatement = Math.max(1, Math.floor(PARAMETERS_PER_STATEMENT / (names.length + 1)));
  for (let first = 0; first < rows.length; first += perStatement) {
    const chunk = rows.slice(first, first + perStatement);
    const { rows: changed } = await trx.executeQuery<Row>(
      together.dialect === 'sqlite' ? sqliteStatement(head, chunk, tail(chunk)) : postgresStatement(head, chunk, tail(chunk)),
    );
    for (const row of changed) {
      const index = batchOf.get(String(row.id));
      if (index !== undefined) pulled[index]!++;
    }
  }

  /** SQLite: the VALUES rows as text (`(?, ?, ?, ...)`), as writePullResults writes them: Kysely nodes cost more than the UPDATE. */
  function sqliteStatement(start: RawBuilder<unknown>, chunk: typeof rows, end: RawBuilder<unknown>): CompiledQuery {
    const [h, t] = [start.compile(trx), end.compile(trx)];
    const placeholders = `(${names.map(() => '?').join(', ')})`;
    const params = chunk.flatMap((row) => [
      row.id,
      row.node,
      row.at,
      ...columns.flatMap(([field]) => (field in row.result ? [sqliteValue(row.result[field]), 1] : [null, 0])),
    ]);
    return CompiledQuery.raw(`${h.sql}${chunk.map(() => placeholders).join(', ')}${t.sql}`, [...h.parameters, ...params, ...t.parameters]);
  }

  /** PostgreSQL: each value cast to its column's type. */
  function postgresStatement(start: RawBuilder<unknown>, chunk: typeof rows, end: RawBuilder<unknown>): CompiledQuery {
    const types = together.dialect === 'postgres' ? together.columnTypes : new Map<string, string>();
    const cast = (value: unknown, column: string) => sql`cast(${value} as ${sql.raw(types.get(column)!)})`;
    const values = chunk.map(
      (row) =>
        sql`(${sql.join([
          cast(row.id, protocol.id),
          sql`${row.node}`,
          cast(row.at, flags.pullTime),
          ...columns.flatMap(([field, column]) =>
            field in row.result ? [bindValue(dialect, row.result[field], types.get(column)), sql`true`] : [cast(null, column), sql`false`],
          ),
        ])})`,
    );
    return sql`${start}${sql.join(values)}${end}`.compile(trx);
  }
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
