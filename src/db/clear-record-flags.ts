import { sql } from 'kysely';
import type { ResolvedProtocol, ResolvedService } from '../config/mesh-config.js';
import type { Db } from '../config/service-config.js';
import { toCount } from './db-values.js';
import { dialectOf } from './dialect-of.js';
import { addRecordCounts, countedStateOf, NO_NODE, type CountChange, type CountedState } from './record-counts.js';
import { entityOnNode, rowsChanged } from './record-guards.js';

/**
 * Clears the push and pull flags of every record of these entities, in all
 * the service's protocols, so that they are all pushed again from the
 * beginning (`--repush`). One UPDATE per protocol. Guarded by `onNode`: only
 * the records of those entities that are on that node now (the node a move
 * just put them on), so an entity another run moved elsewhere meanwhile
 * keeps its flags. Call in the transaction that made the move: it holds
 * those entity rows already. The records it takes out of a counted state
 * leave their node's counters in the same transaction (`fromNode`: the
 * entities' node before the move, where records delivered before push_node
 * was recorded are counted). Returns the records cleared.
 */
export async function clearRecordFlags(
  db: Db,
  service: ResolvedService,
  entityIds: readonly unknown[],
  onNode: string,
  fromNode: string | null = onNode,
): Promise<number> {
  if (entityIds.length === 0) return 0;
  let cleared = 0;
  for (const protocol of service.protocols) {
    const { flags } = protocol;
    const set = [
      sql`${sql.ref(flags.pushTime)} = null`,
      sql`${sql.ref(flags.pushSuccess)} = null`,
      sql`${sql.ref(flags.pushError)} = null`,
      sql`${sql.ref(flags.pushAttempts)} = 0`,
      sql`${sql.ref(flags.pushNode)} = null`,
    ];
    if (protocol.pull)
      set.push(sql`${sql.ref(flags.pullTime)} = null`, sql`${sql.ref(flags.pullSuccess)} = null`, sql`${sql.ref(flags.pullError)} = null`);
    const leaving = await lockCountedRecords(db, service, protocol, entityIds, onNode, fromNode);
    const result = await sql`
      update ${sql.table(protocol.table)} set ${sql.join(set, sql`, `)}
      where ${sql.ref(protocol.entityRef ?? protocol.id)} in (${sql.join([...entityIds])})
        and ${entityOnNode('unlocked', service, protocol, onNode)}`.execute(db);
    cleared += rowsChanged(result);
    await addRecordCounts(db, dialectOf(db), service, protocol, leaving);
  }
  return cleared;
}

/**
 * Locks every record the clear will write (so that no pull can move one of
 * them into a counted state between this count and the clear) and counts
 * those in a counted state, per node they were delivered to: the changes
 * that take them out of the counters.
 */
async function lockCountedRecords(
  db: Db,
  service: ResolvedService,
  protocol: ResolvedProtocol,
  entityIds: readonly unknown[],
  onNode: string,
  fromNode: string | null,
): Promise<CountChange[]> {
  const dialect = dialectOf(db);
  const r = sql.table(protocol.table);
  const pushNode = sql`${r}.${sql.ref(protocol.flags.pushNode)}`;
  // A record delivered before push_node was recorded counted at its entity's node before the move.
  const node = sql`coalesce(${pushNode}, ${fromNode}, ${NO_NODE})`;
  const counted = countedStateOf(protocol, dialect, protocol.table);
  const where = sql`${r}.${sql.ref(protocol.entityRef ?? protocol.id)} in (${sql.join([...entityIds])})
    and ${entityOnNode('unlocked', service, protocol, onNode)}`;
  // Every record of the clear is locked, counted or not: PostgreSQL takes no FOR UPDATE beside a GROUP BY,
  // so there it is the inner select's; MySQL locks every row a locking read examines.
  const query =
    dialect === 'postgres'
      ? sql<{ node: unknown; state: unknown; n: unknown }>`
        select node, state, count(*) as n from (select ${node} as node, ${counted} as state from ${r} where ${where} for update) s
        group by node, state`
      : sql<{ node: unknown; state: unknown; n: unknown }>`
        select ${node} as node, ${counted} as state, count(*) as n from ${r} where ${where}
        group by 1, 2${dialect === 'mysql' ? sql` for update` : sql``}`;
  const { rows } = await query.execute(db);
  return rows
    .filter((row) => row.state !== null)
    .map((row) => ({ node: String(row.node), state: row.state as CountedState, records: -toCount(row.n) }));
}
