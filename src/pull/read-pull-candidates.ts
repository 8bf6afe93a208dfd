import { sql, type RawBuilder } from 'kysely';
import type { ResolvedProtocol, ResolvedService } from '../config/mesh-config.js';
import type { Db, Row } from '../config/service-config.js';
import type { DialectName } from '../db/database-url.js';
import { compareDbTimes, toDbBoolean } from '../db/db-values.js';
import { flagIndexHints, type FlagIndexHints } from '../db/flag-index-hints.js';
import { readInPhases } from '../db/read-in-phases.js';
import { phaseAfter, recordSource, type Cursor, type KeysetPhase } from '../db/record-source.js';
import { BOUND_RANK_ALIAS, boundRankColumn, PUSH_TIME_ALIAS, type NodeBound, type PullBound, type PullBounds } from './pull-bounds.js';

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
  /**
   * The first of `bounds.ordered` this read ranks (0 when left out): the
   * pass is past every bound before it. The read ranks BOUNDS_PER_READ
   * bounds from there and, when more follow, stops at the last of them.
   */
  firstBound?: number;
  /** MariaDB/MySQL: the pull index, named (flag-index-hints.ts). */
  indexHint?: RawBuilder<unknown>;
  /** boundConditions for these bounds and sweep, built once for the reads of a pass; left out, built for this query. */
  boundConditions?: RawBuilder<unknown>[];
}

/**
 * Bounds one read ranks. The rank's CASE grows the query's text, and SQLite
 * (with ANALYZE's STAT4 statistics) prepares the query again for every new
 * cursor, at a cost that grows faster than the text: 0.4 ms for 32 bounds,
 * 35 ms for 1,000. A pass with more bounds reads them 32 at a time.
 */
export const BOUNDS_PER_READ = 32;

/** One ordered pass over the pull candidates; `read` as runNodeStreams calls it. */
export interface PullCandidatePass {
  /** The next `limit` candidates after the cursor, of these nodes' bounds; fewer only at the pass's end. */
  read(after: Cursor | null, byNode: Map<string, NodeBound>): Promise<Row[]>;
}

/**
 * The records pushed successfully and not pulled yet, in `(sort, id)` order
 * (NULL sorts first), of entities on the given nodes, each up to its node's
 * bound. One query per batch (and one more per BOUNDS_PER_READ bounds), a
 * range of the `(pull_success, push_success, sort, id)` index. The query
 * keeps the records of the nodes asked and up to the furthest bound; each
 * row carries its rank among the bounds and its push time, and `isAsked`
 * (pull-bounds.ts) keeps those within their own node's bound: the pass's
 * cursor moves past the others.
 */
export function pullCandidatePass(
  db: Db,
  dialect: DialectName,
  service: ResolvedService,
  protocol: ResolvedProtocol,
  pass: { ordered: readonly PullBound[]; sweepBefore?: unknown; limit: number },
): PullCandidatePass {
  const { ordered, limit } = pass;
  let firstBound = 0;
  // At 10 million records MariaDB read this range through the push index, from its start for every batch (the bench's
  // pull floor, the same condition): it is told the pull index, as the reports tell it theirs.
  let hints: Promise<FlagIndexHints> | undefined;
  /** The reads' boundConditions, for the bounds they were built for: the same for every read until a node's stream stops. */
  let built: { byNode: Map<string, NodeBound>; conditions: RawBuilder<unknown>[] } | undefined;
  return {
    async read(after, byNode) {
      const rows: Row[] = [];
      const indexHint = (await (hints ??= flagIndexHints(db, dialect, protocol))).pull;
      // pull-protocol passes the same map while the pass's nodes do not change.
      if (built?.byNode !== byNode) {
        built = { byNode, conditions: boundConditions(dialect, service, protocol, { byNode, ordered }, pass.sweepBefore) };
      }
      const conditions = built.conditions;
      for (;;) {
        const query = { bounds: { byNode, ordered }, sweepBefore: pass.sweepBefore, firstBound, indexHint, boundConditions: conditions };
        rows.push(
          ...(await readInPhases(after, limit - rows.length, async (cursor, rest, phase) => {
            const read = pullCandidatesQuery(dialect, service, protocol, { ...query, after: cursor, limit: rest }, phase);
            return (await read.execute(db)).rows;
          })),
        );
        const last = firstBound + BOUNDS_PER_READ - 1;
        if (rows.length >= limit || last >= ordered.length - 1) return rows;
        // Every candidate up to the last bound ranked is read: the next read starts after it, with the next bounds.
        after = { sort: ordered[last]!.sort, id: ordered[last]!.id };
        firstBound += BOUNDS_PER_READ;
      }
    },
  };
}

/** A query of pullCandidatePass, unexecuted: for EXPLAIN. `phase` defaults to the one the cursor is in. */
export function pullCandidatesQuery(
  dialect: DialectName,
  service: ResolvedService,
  protocol: ResolvedProtocol,
  query: PullCandidatesQuery,
  phase: KeysetPhase = phaseAfter(query.after),
): RawBuilder<Row> {
  const source = recordSource(dialect, service, protocol, 'delivered', query.indexHint);
  const pushTime = sql`r.${sql.ref(protocol.flags.pushTime)}`;
  const { ordered } = query.bounds;
  const firstBound = query.firstBound ?? 0;
  const ranked = ordered.slice(firstBound, firstBound + BOUNDS_PER_READ);
  const conditions = [
    sql`r.${sql.ref(protocol.flags.pullSuccess)} is null`,
    sql`r.${sql.ref(protocol.flags.pushSuccess)} = ${toDbBoolean(dialect, true)}`,
    ...(query.boundConditions ?? boundConditions(dialect, service, protocol, query.bounds, query.sweepBefore)),
  ];
  // More bounds after these: this read stops at the last it ranks.
  if (firstBound + ranked.length < ordered.length) conditions.push(source.notAfter(ranked[ranked.length - 1]!));
  conditions.push(source.inPhase(phase, query.after));
  // As for push (read-pending-batch.ts): PostgreSQL needs the index's order spelled out, or it sorts every batch.
  const { pullSuccess, pushSuccess } = protocol.flags;
  const orderBy = dialect === 'postgres' ? sql`r.${sql.ref(pullSuccess)}, r.${sql.ref(pushSuccess)}, ${source.orderBy}` : source.orderBy;
  // Only pull.fn sees the records; a pull into pull.columns needs their ids alone (less to read, hold and collect).
  const select = protocol.pull?.fn ? source.columns : source.keyColumns;
  return sql<Row>`
    select ${select}, ${pushTime} as ${sql.ref(PUSH_TIME_ALIAS)}, ${boundRankColumn(source, ranked, firstBound)} as ${sql.ref(BOUND_RANK_ALIAS)}
    from ${source.from}
    where ${sql.join(conditions, sql` and `)}
    order by ${orderBy}
    limit ${query.limit}`;
}

/**
 * The conditions of a pull read that its bounds alone decide: the records
 * of the nodes asked, up to the furthest of their bounds (in the pass or in
 * push time) or swept. What no node asked wants is not read. The same for
 * every read of a pass while no node's stream stops: at 1,000 nodes,
 * building them for each of a pass's 433 reads cost some 0.1 s.
 */
export function boundConditions(
  dialect: DialectName,
  service: ResolvedService,
  protocol: ResolvedProtocol,
  bounds: PullBounds,
  sweepBefore: unknown,
): RawBuilder<unknown>[] {
  const source = recordSource(dialect, service, protocol, 'delivered');
  const pushTime = sql`r.${sql.ref(protocol.flags.pushTime)}`;
  const { ordered } = bounds;
  const ranks = new Map(ordered.map((bound, index) => [bound, index]));
  // A node that has processed none (by its status) is asked only for what the sweep takes.
  const asked = [...bounds.byNode].filter(([, bound]) => bound !== 'none' || sweepBefore !== undefined);
  const conditions = [asked.length === 0 ? sql`1 = 0` : source.nodeIn(asked.map(([node]) => node))];
  const boundsAsked = asked.map(([, bound]) => bound);
  if (!boundsAsked.some((bound) => bound === null || (bound !== 'none' && !ranks.has(bound)))) {
    const keyed = boundsAsked.filter((bound): bound is PullBound => bound !== null && bound !== 'none');
    const reach: RawBuilder<unknown>[] = [];
    if (keyed.length > 0) reach.push(source.notAfter(ordered[Math.max(...keyed.map((bound) => ranks.get(bound)!))]!));
    const latest = latestTime(keyed.map((bound) => bound.pushTime));
    if (latest !== undefined) reach.push(sql`${pushTime} <= ${latest}`);
    if (sweepBefore !== undefined) reach.push(sql`${pushTime} < ${sweepBefore}`);
    conditions.push(reach.length === 0 ? sql`1 = 0` : sql`(${sql.join(reach, sql` or `)})`);
  }
  return conditions;
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
