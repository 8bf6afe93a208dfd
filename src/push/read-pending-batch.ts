import { sql, type RawBuilder } from 'kysely';
import type { ResolvedProtocol, ResolvedService } from '../config/mesh-config.js';
import type { Db, Row } from '../config/service-config.js';
import type { DialectName } from '../db/database-url.js';
import { toDbTime } from '../db/db-values.js';
import { flagIndexHints } from '../db/flag-index-hints.js';
import { readInPhases } from '../db/read-in-phases.js';
import { phaseAfter, recordSource, type Cursor, type KeysetPhase } from '../db/record-source.js';

export interface PendingBatchQuery {
  after: Cursor | null;
  /** Only records whose entity is on one of these nodes (past LISTED_NODES, the caller keeps them: record-source.ts). */
  nodes: string[];
  limit: number;
  /** For `settleMs`: only records whose sort value is older than this. */
  settledBefore?: Date;
  /** The record columns to read; every column (`r.*`) when left out. */
  columns?: readonly string[];
  /** After the records' alias: MySQL's `force index` of the push range (flag-index-hints.ts); readPendingBatch adds it. */
  indexHint?: RawBuilder<unknown>;
}

/**
 * The next `limit` records not yet delivered (push_success NULL: never
 * pushed, or the last try failed and is to be retried; dead ones are FALSE),
 * in `(sort, id)` order after the cursor (NULL sorts first), of entities on
 * the given nodes. One query per batch (two where the NULL sorts end), a
 * range of the `(push_success, sort, id)` index. MariaDB is told that
 * index: left to itself it reads `push_success IS NULL` as a ref from the
 * range's start and filters the cursor inside it, which reads every
 * pending record before the cursor again for each batch (a pass at 1,000
 * nodes holds its records pending until their node's batch goes out, and
 * a node that is down keeps its own pending).
 */
export async function readPendingBatch(
  db: Db,
  dialect: DialectName,
  service: ResolvedService,
  protocol: ResolvedProtocol,
  query: PendingBatchQuery,
): Promise<Row[]> {
  const indexHint = (await flagIndexHints(db, dialect, protocol)).push;
  return readInPhases(query.after, query.limit, async (after, limit, phase) => {
    const { rows } = await pendingBatchQuery(dialect, service, protocol, { ...query, after, limit, indexHint }, phase).execute(db);
    return rows;
  });
}

/**
 * A query readPendingBatch runs, unexecuted: for EXPLAIN (test/push/push-query-plan.test.ts, the bench).
 * `phase` defaults to the one the cursor is in.
 */
export function pendingBatchQuery(
  dialect: DialectName,
  service: ResolvedService,
  protocol: ResolvedProtocol,
  query: PendingBatchQuery,
  phase: KeysetPhase = phaseAfter(query.after),
): RawBuilder<Row> {
  const source = recordSource(dialect, service, protocol, 'entity', query.indexHint);
  const conditions = [sql`r.${sql.ref(protocol.flags.pushSuccess)} is null`, source.nodeIn(query.nodes)];
  conditions.push(source.inPhase(phase, query.after));
  // A NULL sort counts as the oldest: always settled.
  if (query.settledBefore && phase === 'sorted')
    conditions.push(sql`r.${sql.ref(protocol.sort)} < ${toDbTime(dialect, query.settledBefore)}`);
  // PostgreSQL reads `flag IS NULL` as an index condition but not as a constant for the order, and would
  // sort every batch: the index's own order is spelled out (the same order, since the flag is NULL throughout).
  const orderBy = dialect === 'postgres' ? sql`r.${sql.ref(protocol.flags.pushSuccess)}, ${source.orderBy}` : source.orderBy;
  return sql<Row>`
    select ${query.columns ? source.columnsOf(query.columns) : source.columns} from ${source.from}
    where ${sql.join(conditions, sql` and `)}
    order by ${orderBy}
    limit ${query.limit}`;
}
