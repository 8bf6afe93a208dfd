import { sql, type RawBuilder } from 'kysely';
import type { ResolvedProtocol, ResolvedService } from '../config/mesh-config.js';
import type { DialectName } from './database-url.js';
import { toDbBoolean } from './db-values.js';

/**
 * WHERE conditions that make a flag write apply only to records still in
 * the state the batch was read in. A batch is read, sent and answered over
 * seconds; a move, a re-push or a retry may commit meanwhile, and its
 * effect must win: an unguarded `WHERE id IN (...)` would overwrite it
 * (a re-pushed record flagged delivered to the node it left, a result taken
 * from the wrong node). The conditions name the protocol's table unaliased,
 * as an UPDATE sees it, each in parentheses.
 */

/** A node's name, or the SQL that gives it for each row (a column of the batches written together). */
export type NodeName = string | RawBuilder<unknown>;

/**
 * The record's entity is on `node`: its node column when the protocol's
 * table is the entity table, a correlated EXISTS on the entity table
 * otherwise. On PostgreSQL the entity row is read FOR SHARE: a move that
 * committed while this UPDATE waited is then seen (a plain subquery would
 * keep the statement's older snapshot), and a move that starts later waits
 * for this write. MySQL's UPDATE reads its subqueries with shared locks
 * already; SQLite has one writer. `unlocked`: for a transaction that has
 * just written those entity rows itself (a move), any dialect.
 */
export function entityOnNode(
  dialect: DialectName | 'unlocked',
  service: ResolvedService,
  protocol: ResolvedProtocol,
  node: NodeName,
): RawBuilder<unknown> {
  const { entity } = service;
  const table = sql.table(protocol.table);
  if (protocol.entityRef === undefined) return sql`(${table}.${sql.ref(entity.node)} = ${node})`;
  const lock = dialect === 'postgres' ? sql` for share` : sql``;
  return sql`exists (select 1 from ${sql.table(entity.table)} e
    where e.${sql.ref(entity.id)} = ${table}.${sql.ref(protocol.entityRef)} and e.${sql.ref(entity.node)} = ${node}${lock})`;
}

/**
 * A flag test the planner cannot read as an index range. Every guarded write
 * finds its rows by `id IN (...)`; but with statistics from before a wave of
 * new records (ANALYZE ran when every record was done), SQLite and
 * PostgreSQL took `flag IS NULL` for a range of the flag index holding a few
 * rows, and read every pending record for each batch (20 ms a batch on
 * SQLite at 200,000 records, growing with the table).
 */
function notARange(test: RawBuilder<unknown>): RawBuilder<unknown> {
  return sql`(${test}) is true`;
}

/** Still pending (push_success NULL: not delivered, not dead) and its entity still on the node the batch went to. */
export function stillPendingFor(
  dialect: DialectName,
  service: ResolvedService,
  protocol: ResolvedProtocol,
  node: NodeName,
): RawBuilder<unknown> {
  const table = sql.table(protocol.table);
  return sql`(${notARange(sql`${table}.${sql.ref(protocol.flags.pushSuccess)} is null`)} and ${entityOnNode(dialect, service, protocol, node)})`;
}

/**
 * Still delivered to `node` and not pulled yet: push_success TRUE, and
 * push_node that node (or, for a record delivered before push_node was
 * recorded, its entity on that node), pull_success NULL. A re-push clears
 * push_success and push_node, so an answer in flight across it is dropped.
 */
export function stillDeliveredTo(
  dialect: DialectName,
  service: ResolvedService,
  protocol: ResolvedProtocol,
  node: NodeName,
): RawBuilder<unknown> {
  const table = sql.table(protocol.table);
  const { flags } = protocol;
  const pushNode = sql`${table}.${sql.ref(flags.pushNode)}`;
  const flagged = sql`${table}.${sql.ref(flags.pullSuccess)} is null and ${table}.${sql.ref(flags.pushSuccess)} = ${toDbBoolean(dialect, true)}`;
  return sql`(${notARange(flagged)}
    and (${pushNode} = ${node} or (${pushNode} is null and ${entityOnNode(dialect, service, protocol, node)})))`;
}

/** Rows an UPDATE changed, as each driver reports it (mysql2 reports the rows matched: it sets FOUND_ROWS). */
export function rowsChanged(result: { numAffectedRows?: bigint; numUpdatedRows?: bigint }): number {
  return Number(result.numAffectedRows ?? result.numUpdatedRows ?? 0n);
}
