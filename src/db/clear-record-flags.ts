import { sql } from 'kysely';
import type { ResolvedService } from '../config/mesh-config.js';
import type { Db } from '../config/service-config.js';
import { entityOnNode, rowsChanged } from './record-guards.js';

/**
 * Clears the push and pull flags of every record of these entities, in all
 * the service's protocols, so that they are all pushed again from the
 * beginning (`--repush`). One UPDATE per protocol. Guarded by `onNode`: only
 * the records of those entities that are on that node now (the node a move
 * just put them on), so an entity another run moved elsewhere meanwhile
 * keeps its flags. Call in the transaction that made the move: it holds
 * those entity rows already. Returns the records cleared.
 */
export async function clearRecordFlags(db: Db, service: ResolvedService, entityIds: readonly unknown[], onNode: string): Promise<number> {
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
    const result = await sql`
      update ${sql.table(protocol.table)} set ${sql.join(set, sql`, `)}
      where ${sql.ref(protocol.entityRef ?? protocol.id)} in (${sql.join([...entityIds])})
        and ${entityOnNode('unlocked', service, protocol, onNode)}`.execute(db);
    cleared += rowsChanged(result);
  }
  return cleared;
}
