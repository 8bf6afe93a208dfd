import type { ResolvedService } from '../config/mesh-config.js';
import type { Database } from '../db/open-database.js';
import { countRecords, zeroCounts, type RecordCounts } from './count-records.js';

export interface EntityStatus {
  service: string;
  entity: string;
  /** Null when the entity is unassigned; undefined fields never appear. */
  node: string | null;
  protocols: ({ protocol: string } & RecordCounts)[];
}

/** `mesh status`: where one entity stands. Reads only; null when the entity does not exist. */
export async function entityStatus(database: Database, service: ResolvedService, entityId: string): Promise<EntityStatus | null> {
  const { entity } = service;
  const row = await database.db
    .selectFrom(entity.table)
    .select([entity.id, entity.node])
    .where(entity.id, '=', entityId)
    .executeTakeFirst();
  if (row === undefined) return null;
  const protocols: EntityStatus['protocols'] = [];
  for (const protocol of service.protocols) {
    const counts = await countRecords(database.db, database.dialect, service, protocol, { entity: entityId });
    protocols.push({ protocol: protocol.name, ...(counts.get('') ?? zeroCounts()) });
  }
  return { service: service.name, entity: entityId, node: (row[entity.node] as string | null) ?? null, protocols };
}
