import type { ResolvedService } from '../config/mesh-config.js';
import type { Db } from '../config/service-config.js';

/**
 * Clears the push and pull flags of every record of these entities, in all
 * the service's protocols, so that they are all pushed again from the
 * beginning (`--repush`). One UPDATE per protocol.
 */
export async function clearRecordFlags(db: Db, service: ResolvedService, entityIds: readonly unknown[]): Promise<void> {
  if (entityIds.length === 0) return;
  for (const protocol of service.protocols) {
    const { flags } = protocol;
    const cleared: Record<string, null | number> = {
      [flags.pushTime]: null,
      [flags.pushSuccess]: null,
      [flags.pushError]: null,
      [flags.pushAttempts]: 0,
      [flags.pushNode]: null,
    };
    if (protocol.pull) Object.assign(cleared, { [flags.pullTime]: null, [flags.pullSuccess]: null, [flags.pullError]: null });
    await db
      .updateTable(protocol.table)
      .set(cleared)
      .where(protocol.entityRef ?? protocol.id, 'in', [...entityIds])
      .execute();
  }
}
