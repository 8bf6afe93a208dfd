import { sql, type RawBuilder } from 'kysely';
import type { ResolvedProtocol, ResolvedService } from '../config/mesh-config.js';
import type { Db, Row } from '../config/service-config.js';
import type { DialectName } from '../db/database-url.js';
import { toDbBoolean } from '../db/db-values.js';
import { readInPhases } from '../db/read-in-phases.js';
import { phaseAfter, recordSource, SORT_ALIAS, type Cursor, type KeysetPhase } from '../db/record-source.js';

/**
 * A node's pull bound: its last processed record's `(sort, id)`, and when
 * that record was delivered. The node processes in the order it received
 * records, which is `(sort, id)` order except for records sent late (a
 * re-push, a late commit): those delivered in an earlier batch, or in the
 * same batch (same push_time), count as received before it, whatever their
 * sort value. The same batch counts because push_time is the last delivery
 * attempt, not the first arrival: a batch whose answer was lost is sent
 * again with later records, and the node may have processed the first copy
 * long before (issue 13.3).
 */
export interface PullBound extends Cursor {
  /** Left out (or null): the `(sort, id)` bound alone. */
  pushTime?: unknown;
}

/**
 * Where the node's last processed record stands; null when the id is
 * unknown here (the status is a hint, never proof).
 */
export async function readRecordKey(
  db: Db,
  dialect: DialectName,
  service: ResolvedService,
  protocol: ResolvedProtocol,
  id: unknown,
): Promise<PullBound | null> {
  const source = recordSource(dialect, service, protocol, 'delivered');
  const { rows } = await sql<Row>`
    select ${source.columns} from ${source.from}
    where r.${sql.ref(protocol.id)} = ${id}`.execute(db);
  const row = rows[0];
  return row ? { sort: row[SORT_ALIAS], id: row[protocol.id], pushTime: row[protocol.flags.pushTime] ?? null } : null;
}

/**
 * `null`: no bound (the node's last processed id is not known here);
 * `'none'`: the node has processed none by its status, only the sweep applies.
 */
export type NodeBound = PullBound | null | 'none';

export interface PullCandidatesQuery {
  after: Cursor | null;
  /** Each node's bound: only its records up to that key. */
  bounds: Map<string, NodeBound>;
  /**
   * The sweep (`pull.sweepAfterMs`): records delivered before this time (a
   * value as the database takes it) are asked for whatever the bound says,
   * so that no delivered record waits on a bound that never covers it.
   */
  sweepBefore?: unknown;
  limit: number;
}

/**
 * The next records pushed successfully and not pulled yet, in `(sort, id)`
 * order (NULL sorts first), of entities on the given nodes, each up to its node's bound. One
 * query per batch, a range of the `(pull_success, push_success, sort, id)` index.
 */
export async function readPullCandidates(
  db: Db,
  dialect: DialectName,
  service: ResolvedService,
  protocol: ResolvedProtocol,
  query: PullCandidatesQuery,
): Promise<Row[]> {
  return readInPhases(query.after, query.limit, async (after, limit, phase) => {
    const { rows } = await pullCandidatesQuery(dialect, service, protocol, { ...query, after, limit }, phase).execute(db);
    return rows;
  });
}

/**
 * `(a or b or ...)` nested as a balanced tree: SQLite parses a flat chain as
 * one expression as deep as it is long and refuses past 1,000 (every node's
 * bound is a term: 1,000 nodes); balanced, the depth is about log2 of it.
 */
function anyOf(terms: RawBuilder<unknown>[]): RawBuilder<unknown> {
  if (terms.length <= 2) return sql`(${sql.join(terms, sql` or `)})`;
  const half = Math.ceil(terms.length / 2);
  return sql`(${anyOf(terms.slice(0, half))} or ${anyOf(terms.slice(half))})`;
}

/** A query readPullCandidates runs, unexecuted: for EXPLAIN. `phase` defaults to the one the cursor is in. */
export function pullCandidatesQuery(
  dialect: DialectName,
  service: ResolvedService,
  protocol: ResolvedProtocol,
  query: PullCandidatesQuery,
  phase: KeysetPhase = phaseAfter(query.after),
): RawBuilder<Row> {
  const source = recordSource(dialect, service, protocol, 'delivered');
  const pushTime = sql`r.${sql.ref(protocol.flags.pushTime)}`;
  // Up to the bound: at or before it in (sort, id) order, or delivered in an earlier batch or the same one (received before it).
  const upTo = (bound: PullBound) =>
    bound.pushTime === null || bound.pushTime === undefined
      ? source.notAfter(bound)
      : sql`(${source.notAfter(bound)} or ${pushTime} <= ${bound.pushTime})`;
  const swept = query.sweepBefore === undefined ? undefined : sql`${pushTime} < ${query.sweepBefore}`;
  const perNode = [...query.bounds].flatMap(([node, bound]) => {
    if (bound === null) return [source.nodeIs(node)];
    if (bound === 'none') return swept ? [sql`(${source.nodeIs(node)} and ${swept})`] : [];
    return [sql`(${source.nodeIs(node)} and ${swept ? sql`(${upTo(bound)} or ${swept})` : upTo(bound)})`];
  });
  if (perNode.length === 0) perNode.push(sql`1 = 0`);
  const conditions = [
    sql`r.${sql.ref(protocol.flags.pullSuccess)} is null`,
    sql`r.${sql.ref(protocol.flags.pushSuccess)} = ${toDbBoolean(dialect, true)}`,
    anyOf(perNode),
  ];
  conditions.push(source.inPhase(phase, query.after));
  // As for push (read-pending-batch.ts): PostgreSQL needs the index's order spelled out, or it sorts every batch.
  const { pullSuccess, pushSuccess } = protocol.flags;
  const orderBy = dialect === 'postgres' ? sql`r.${sql.ref(pullSuccess)}, r.${sql.ref(pushSuccess)}, ${source.orderBy}` : source.orderBy;
  // Only pull.fn sees the records; a pull into pull.columns needs their ids alone (less to read, hold and collect).
  const select = protocol.pull?.fn ? source.columns : source.keyColumns;
  return sql<Row>`
    select ${select} from ${source.from}
    where ${sql.join(conditions, sql` and `)}
    order by ${orderBy}
    limit ${query.limit}`;
}
