import { sql, type RawBuilder } from 'kysely';
import type { ResolvedProtocol, ResolvedService } from '../config/mesh-config.js';
import type { Db, Row } from '../config/service-config.js';
import type { DialectName } from '../db/database-url.js';
import { compareDbTimes } from '../db/db-values.js';
import { chunksOf } from '../db/statement-chunks.js';
import { isDataError } from '../db/storage-error.js';
import { recordSource, SORT_ALIAS, type Cursor, type RecordSource } from '../db/record-source.js';

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
 * `null`: no bound (the node's last processed id is not known here);
 * `'none'`: the node has processed none by its status, only the sweep applies.
 */
export type NodeBound = PullBound | null | 'none';

/**
 * Every node's bound for one pull pass, and the bound records in the pass's
 * own order as the database sorts them (NULL sorts first, then `(sort, id)`).
 * Each record read is placed among them by a binary search the database runs
 * (its rank, `boundRankColumn`), so that which nodes' bounds a record is
 * within is known from one number, however many nodes: a condition per node
 * cost every record read a test per node (at 1,000 nodes 0.6 ms a record on
 * SQLite, 40 times the rest of the pull).
 */
export interface PullBounds {
  byNode: Map<string, NodeBound>;
  /** The distinct bounds of `byNode`, in the pass's order. A bound missing here is taken as no bound. */
  ordered: readonly PullBound[];
}

/** Aliases the pull adds to the rows it reads; never sent to a node. */
export const BOUND_RANK_ALIAS = '__workmesh_bound_rank';
export const PUSH_TIME_ALIAS = '__workmesh_push_time';

/**
 * Where the node's last processed record stands; null when the id is
 * unknown here (the status is a hint, never proof).
 */
export async function readRecordKey(
  db: Db,
  dialect: DialectName,
  service: ResolvedService,
  protocol: ResolvedProtocol,
  id: string | number,
): Promise<PullBound | null> {
  return (await readRecordKeys(db, dialect, service, protocol, [id])).get(String(id)) ?? null;
}

/** Ids one query looks up at most. */
const IDS_PER_QUERY = 1_000;

/**
 * The nodes' last processed records, by the id each node gave (as text),
 * in a query per thousand ids instead of one per node. An id that is no
 * record here is left out: the node's records then have no bound. An id the database refuses for the column's type
 * (`"abc"` for an integer id, on PostgreSQL) is looked up again alone, and
 * left out too: one node's answer never fails the others' pull.
 */
export async function readRecordKeys(
  db: Db,
  dialect: DialectName,
  service: ResolvedService,
  protocol: ResolvedProtocol,
  ids: readonly (string | number)[],
): Promise<Map<string, PullBound>> {
  const source = recordSource(dialect, service, protocol, 'delivered');
  const keys = new Map<string, PullBound>();
  const read = async (chunk: readonly unknown[]) => {
    const { rows } = await sql<Row>`
      select ${source.columns} from ${source.from}
      where r.${sql.ref(protocol.id)} in (${sql.join(chunk)})`.execute(db);
    for (const row of rows) {
      keys.set(String(row[protocol.id]), { sort: row[SORT_ALIAS], id: row[protocol.id], pushTime: row[protocol.flags.pushTime] ?? null });
    }
  };
  const distinct = [...new Map(ids.map((id) => [String(id), id])).values()];
  for (const chunk of chunksOf(distinct, IDS_PER_QUERY)) {
    try {
      await read(chunk);
    } catch (error) {
      if (!isDataError(error)) throw error;
      for (const id of chunk)
        await read([id]).catch((alone: unknown) => {
          if (!isDataError(alone)) throw alone;
        });
    }
  }
  return keys;
}

/**
 * The nodes' bounds with their records sorted by the database, in one query
 * (the ids are the records' own, read by readRecordKeys: of the right type).
 * A bound whose record is gone by now is left out of the order.
 */
export async function orderPullBounds(db: Db, protocol: ResolvedProtocol, byNode: Map<string, NodeBound>): Promise<PullBounds> {
  const byId = new Map<string, PullBound>();
  for (const bound of byNode.values()) if (bound !== null && bound !== 'none') byId.set(String(bound.id), bound);
  if (byId.size === 0) return { byNode, ordered: [] };
  const sort = sql.ref(`r.${protocol.sort}`);
  const id = sql.ref(`r.${protocol.id}`);
  const { rows } = await sql<Row>`
    select ${id} as id from ${sql.table(protocol.table)} r
    where ${id} in (${sql.join([...byId.values()].map((b) => b.id))})
    order by case when ${sort} is null then 0 else 1 end, ${sort}, ${id}`.execute(db);
  const ordered = rows.map((row) => byId.get(String(row.id))).filter((b): b is PullBound => b !== undefined);
  return { byNode, ordered };
}

/**
 * The rank of a record among the ordered bounds: the index of the first
 * bound it is at or before, `ordered.length` when it is past them all, plus
 * `offset` (the bounds before these, all behind the record). A balanced
 * CASE: the database compares each record with log2 of the bounds.
 */
export function boundRankColumn(source: RecordSource, ordered: readonly PullBound[], offset = 0): RawBuilder<unknown> {
  const rank = (lo: number, hi: number): RawBuilder<unknown> => {
    if (lo === hi) return sql.lit(offset + lo);
    const mid = (lo + hi) >> 1;
    return sql`case when ${source.notAfter(ordered[mid]!)} then ${rank(lo, mid)} else ${rank(mid + 1, hi)} end`;
  };
  return rank(0, ordered.length);
}

/**
 * Whether a record read by the pass is asked of its node: up to the node's
 * bound (at or before it in the pass, or delivered no later than it), or
 * swept. The same test the query's coarse filter makes for all nodes at
 * once, made exact here for the record's own node. Times neither side can
 * compare (a value a user wrote by hand) count as asked: asking a node for a
 * record it has not processed only finds it not ready.
 */
export function isAsked(row: Row, bound: NodeBound, ranks: ReadonlyMap<PullBound, number>, sweepBefore: unknown): boolean {
  if (bound === null) return true;
  const pushTime = row[PUSH_TIME_ALIAS];
  /** Delivered before `limit` (or at it, `orEqual`); a record without a push time never is. */
  const deliveredBefore = (limit: unknown, orEqual: boolean): boolean => {
    if (pushTime === null || pushTime === undefined) return false;
    const order = compareDbTimes(pushTime, limit);
    return order === undefined || order < 0 || (orEqual && order === 0);
  };
  if (sweepBefore !== undefined && deliveredBefore(sweepBefore, false)) return true;
  if (bound === 'none') return false;
  const index = ranks.get(bound);
  if (index === undefined || Number(row[BOUND_RANK_ALIAS]) <= index) return true;
  return bound.pushTime !== null && bound.pushTime !== undefined && deliveredBefore(bound.pushTime, true);
}
