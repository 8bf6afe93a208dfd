import { sql, type RawBuilder } from 'kysely';
import type { ResolvedProtocol, ResolvedService } from '../config/mesh-config.js';
import type { Db, Row } from '../config/service-config.js';
import type { DialectName } from '../db/database-url.js';
import { compareDbTimes, toDbBoolean } from '../db/db-values.js';
import { readInPhases } from '../db/read-in-phases.js';
import { phaseAfter, recordSource, type Cursor, type KeysetPhase } from '../db/record-source.js';
import { BOUND_RANK_ALIAS, boundRankColumn, PUSH_TIME_ALIAS, type PullBound, type PullBounds } from './pull-bounds.js';

export interface PullCandidatesQuery {
  after: Cursor | null;
  /** The pass's bounds (pull-bounds.ts): only the records of these nodes, each up to its node's bound. */
  bounds: PullBounds;
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
 * order (NULL sorts first), of entities on the given nodes, each up to its
 * node's bound. One query per batch, a range of the `(pull_success,
 * push_success, sort, id)` index. The query keeps the records of the nodes
 * asked and up to the furthest bound; each row carries its rank among the
 * bounds and its push time, and `isAsked` (pull-bounds.ts) keeps those within
 * their own node's bound: the pass's cursor moves past the others.
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
 * one expression as deep as it is long and refuses past 1,000.
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
  const { ordered } = query.bounds;
  const ranks = new Map(ordered.map((bound, index) => [bound, index]));
  // A node that has processed none (by its status) is asked only for what the sweep takes.
  const asked = [...query.bounds.byNode].filter(([, bound]) => bound !== 'none' || query.sweepBefore !== undefined);
  const conditions = [
    sql`r.${sql.ref(protocol.flags.pullSuccess)} is null`,
    sql`r.${sql.ref(protocol.flags.pushSuccess)} = ${toDbBoolean(dialect, true)}`,
    asked.length === 0 ? sql`1 = 0` : source.nodeIn(asked.map(([node]) => node)),
  ];
  // Up to the furthest bound, in the pass or in push time, or swept: what no node asked wants is not read.
  const boundsAsked = asked.map(([, bound]) => bound);
  if (!boundsAsked.some((bound) => bound === null || (bound !== 'none' && !ranks.has(bound)))) {
    const keyed = boundsAsked.filter((bound): bound is PullBound => bound !== null && bound !== 'none');
    const reach: RawBuilder<unknown>[] = [];
    if (keyed.length > 0) reach.push(source.notAfter(ordered[Math.max(...keyed.map((bound) => ranks.get(bound)!))]!));
    const latest = latestTime(keyed.map((bound) => bound.pushTime));
    if (latest !== undefined) reach.push(sql`${pushTime} <= ${latest}`);
    if (query.sweepBefore !== undefined) reach.push(sql`${pushTime} < ${query.sweepBefore}`);
    conditions.push(reach.length === 0 ? sql`1 = 0` : anyOf(reach));
  }
  conditions.push(source.inPhase(phase, query.after));
  // As for push (read-pending-batch.ts): PostgreSQL needs the index's order spelled out, or it sorts every batch.
  const { pullSuccess, pushSuccess } = protocol.flags;
  const orderBy = dialect === 'postgres' ? sql`r.${sql.ref(pullSuccess)}, r.${sql.ref(pushSuccess)}, ${source.orderBy}` : source.orderBy;
  // Only pull.fn sees the records; a pull into pull.columns needs their ids alone (less to read, hold and collect).
  const select = protocol.pull?.fn ? source.columns : source.keyColumns;
  return sql<Row>`
    select ${select}, ${pushTime} as ${sql.ref(PUSH_TIME_ALIAS)}, ${boundRankColumn(source, ordered)} as ${sql.ref(BOUND_RANK_ALIAS)}
    from ${source.from}
    where ${sql.join(conditions, sql` and `)}
    order by ${orderBy}
    limit ${query.limit}`;
}

/**
 * The latest of the bounds' push times; undefined when there is none, or
 * when two cannot be compared (then the query does not filter on them).
 */
function latestTime(times: unknown[]): unknown {
  let latest: unknown;
  for (const time of times) {
    if (time === null || time === undefined) continue;
    if (latest === undefined) latest = time;
    else {
      const order = compareDbTimes(time, latest);
      if (order === undefined) return undefined;
      if (order > 0) latest = time;
    }
  }
  return latest;
}
