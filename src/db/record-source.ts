import { sql, type RawBuilder } from 'kysely';
import type { ResolvedProtocol, ResolvedService } from '../config/mesh-config.js';
import type { DialectName } from './database-url.js';

/** Aliases the master adds to record rows; never sent to a node. */
export const NODE_ALIAS = '__workmesh_node';
export const SORT_ALIAS = '__workmesh_sort';

/**
 * Where a keyset pass stands: the last `(sort, id)` it read, sort as the
 * database wrote it. A null sort: the pass is still in its first phase, the
 * records whose sort value is NULL (see KeysetPhase).
 */
export interface Cursor {
  sort: unknown;
  id: unknown;
}

/**
 * Records whose sort value is NULL come first, as the oldest, in id order;
 * then the others in `(sort, id)` order. SQLite and MySQL sort NULLs first
 * and PostgreSQL last, and a row-value keyset never passes a NULL (the
 * comparison is NULL): so every pass reads in two phases, `sort IS NULL`
 * keyset on the id, then `sort IS NOT NULL` keyset on `(sort, id)`. Both are
 * ranges of the same `(flag, sort, id)` index in its order, on every dialect.
 */
export type KeysetPhase = 'nulls' | 'sorted';

/** The phase a pass after this cursor reads first. */
export function phaseAfter(cursor: Cursor | null): KeysetPhase {
  return cursor === null || cursor.sort === null || cursor.sort === undefined ? 'nulls' : 'sorted';
}

/**
 * The pieces every ordered pass over a protocol's records shares: the
 * records table `r` joined to its entity `e` for the node, driven from the
 * records' `(flag, sort, id)` index.
 */
export interface RecordSource {
  /** `select` list: every record column, the entity's node, the sort value for the cursor. */
  columns: RawBuilder<unknown>;
  /** `select` list of a pass that needs only the keys: the record's id, its node and the sort value for the cursor. */
  keyColumns: RawBuilder<unknown>;
  /** `select` list with only these record columns (and the node and sort value). */
  columnsOf(columns: readonly string[]): RawBuilder<unknown>;
  /** `from` clause, with the join order forced where the planner would otherwise start from the entity table. */
  from: RawBuilder<unknown>;
  /** The record's node: its entity's, or for `delivered` the node it was pushed to. */
  node: RawBuilder<unknown>;
  /**
   * `node = name`, spelled so that a planner can estimate it from column
   * statistics: for `delivered`, `push_node = name or (push_node is null and
   * entity node = name)` rather than `coalesce(...) = name`, which PostgreSQL
   * guesses keeps 0.5% of the rows and then sorts every batch instead of
   * reading the index in order.
   */
  nodeIs(name: string): RawBuilder<unknown>;
  /**
   * The record's node is one of these (at least one), in the form of nodeIs.
   * Past LISTED_NODES names, only that it has a node: the caller keeps the
   * rows of its nodes (runNodeStreams deals rows to its streams by name).
   */
  nodeIn(names: readonly string[]): RawBuilder<unknown>;
  /**
   * The records of a phase after the cursor (null: from the phase's start), in
   * the form each dialect reads as an index range: `sort is null and id > ?`,
   * `sort is not null`, or `(sort, id) > (?, ?)`.
   */
  inPhase(phase: KeysetPhase, cursor: Cursor | null): RawBuilder<unknown>;
  /**
   * After the cursor in the whole order (NULL sorts first), as one condition: for a filter. An ordered pass
   * reads by phase (inPhase), which the planners take as an index range; this `or` they may not.
   */
  after(cursor: Cursor): RawBuilder<unknown>;
  /** At or before the cursor in the order above (NULL sorts first). */
  notAfter(cursor: Cursor): RawBuilder<unknown>;
  orderBy: RawBuilder<unknown>;
}

/**
 * Node names a pass lists in its query, at most. SQLite with ANALYZE's STAT4
 * statistics prepares a query again whenever its parameters change, which
 * for a pass is every batch: with 1,000 names that cost 1 to 3 ms a batch,
 * more than reading it. Past this many nodes, the pass reads the records of
 * every node and keeps its own.
 */
export const LISTED_NODES = 64;

/**
 * `entity`: a record belongs to its entity's current node (push, reports).
 * `delivered`: to the node it was pushed to, falling back on its entity's
 * for records pushed before that was recorded (pull: a result is fetched
 * where the record went, even after its entity moved without --repush).
 */
export type NodeOfRecord = 'entity' | 'delivered';

export function recordSource(
  dialect: DialectName,
  service: ResolvedService,
  protocol: ResolvedProtocol,
  nodeOf: NodeOfRecord = 'entity',
  /** An index hint after the records' alias (flag-index-hints.ts): the reports', the push's and the pull's. */
  hint: RawBuilder<unknown> = sql``,
): RecordSource {
  const { entity } = service;
  const sort = sql.ref(`r.${protocol.sort}`);
  const id = sql.ref(`r.${protocol.id}`);
  const selfEntity = protocol.entityRef === undefined;
  const entityNode = selfEntity ? sql.ref(`r.${entity.node}`) : sql.ref(`e.${entity.node}`);
  const node = nodeOf === 'entity' ? entityNode : sql`coalesce(r.${sql.ref(protocol.flags.pushNode)}, ${entityNode})`;
  // Dates come back from the servers rounded to milliseconds; the cursor keeps the exact text.
  const sortText = dialect === 'postgres' ? sql`cast(${sort} as text)` : dialect === 'mysql' ? sql`cast(${sort} as char)` : sort;
  const records = sql`${sql.table(protocol.table)} r${hint}`;
  let from: RawBuilder<unknown>;
  if (selfEntity) from = records;
  else {
    const on = sql`e.${sql.ref(entity.id)} = r.${sql.ref(protocol.entityRef!)}`;
    // SQLite and MySQL may otherwise start from the entity table's node index and sort every batch again.
    if (dialect === 'sqlite') from = sql`${records} cross join ${sql.table(entity.table)} e on ${on}`;
    else if (dialect === 'mysql') from = sql`${records} straight_join ${sql.table(entity.table)} e on ${on}`;
    else from = sql`${records} join ${sql.table(entity.table)} e on ${on}`;
  }
  const inPhase = (phase: KeysetPhase, c: Cursor | null): RawBuilder<unknown> => {
    if (phase === 'nulls') return c === null ? sql`${sort} is null` : sql`${sort} is null and ${id} > ${c.id}`;
    if (c === null || phaseAfter(c) === 'nulls') return sql`${sort} is not null`;
    // MySQL reads `sort >= ?` as the range and filters the rest; the others take row values as a range.
    // Neither form matches a NULL sort.
    return dialect === 'mysql'
      ? sql`${sort} >= ${c.sort} and (${sort} > ${c.sort} or ${id} > ${c.id})`
      : sql`(${sort}, ${id}) > (${c.sort}, ${c.id})`;
  };

  return {
    columns: sql`r.*, ${node} as ${sql.ref(NODE_ALIAS)}, ${sortText} as ${sql.ref(SORT_ALIAS)}`,
    keyColumns: sql`${id}, ${node} as ${sql.ref(NODE_ALIAS)}, ${sortText} as ${sql.ref(SORT_ALIAS)}`,
    columnsOf: (columns) =>
      sql`${sql.join(columns.map((column) => sql.id('r', column)))}, ${node} as ${sql.ref(NODE_ALIAS)}, ${sortText} as ${sql.ref(SORT_ALIAS)}`,
    from,
    node,
    nodeIs: (name) =>
      nodeOf === 'entity'
        ? sql`${entityNode} = ${name}`
        : sql`(r.${sql.ref(protocol.flags.pushNode)} = ${name} or (r.${sql.ref(protocol.flags.pushNode)} is null and ${entityNode} = ${name}))`,
    nodeIn: (names) => {
      if (names.length > LISTED_NODES) {
        return nodeOf === 'entity'
          ? sql`${entityNode} is not null`
          : sql`(r.${sql.ref(protocol.flags.pushNode)} is not null or ${entityNode} is not null)`;
      }
      const list = sql`(${sql.join(names.map((name) => sql`${name}`))})`;
      return nodeOf === 'entity'
        ? sql`${entityNode} in ${list}`
        : sql`(r.${sql.ref(protocol.flags.pushNode)} in ${list} or (r.${sql.ref(protocol.flags.pushNode)} is null and ${entityNode} in ${list}))`;
    },
    inPhase,
    after: (c) => (phaseAfter(c) === 'nulls' ? sql`(${inPhase('nulls', c)} or ${sort} is not null)` : inPhase('sorted', c)),
    notAfter: (c) => {
      if (phaseAfter(c) === 'nulls') return sql`(${sort} is null and ${id} <= ${c.id})`;
      const sorted =
        dialect === 'mysql'
          ? sql`${sort} <= ${c.sort} and (${sort} < ${c.sort} or ${id} <= ${c.id})`
          : sql`(${sort}, ${id}) <= (${c.sort}, ${c.id})`;
      return sql`(${sort} is null or ${sorted})`;
    },
    orderBy: sql`${sort}, ${id}`,
  };
}
