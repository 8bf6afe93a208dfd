import type { MeshConfig } from '../config/mesh-config.js';
import type { Database } from '../db/open-database.js';
import { toCount } from '../db/db-values.js';

export interface NodeEntity {
  service: string;
  id: unknown;
  weight: number | null;
}

/** The entities a node holds, service after service, by id, paged. Reads only. */
export async function nodeEntities(
  database: Database,
  config: MeshConfig,
  options: { node: string; offset: number; limit: number },
): Promise<{ total: number; entities: NodeEntity[] }> {
  const entities: NodeEntity[] = [];
  let total = 0;
  let skip = options.offset;
  for (const service of config.services) {
    const { entity } = service;
    const counted = await database.db
      .selectFrom(entity.table)
      .select((eb) => eb.fn.countAll().as('total'))
      .where(entity.node, '=', options.node)
      .executeTakeFirstOrThrow();
    const count = toCount(counted.total);
    total += count;
    if (skip >= count) {
      skip -= count;
      continue;
    }
    const wanted = options.limit - entities.length;
    if (wanted <= 0) continue;
    const weight = typeof entity.weight === 'string' ? entity.weight : undefined;
    const rows = await database.db
      .selectFrom(entity.table)
      .select(weight === undefined ? [entity.id] : [entity.id, weight])
      .where(entity.node, '=', options.node)
      .orderBy(entity.id)
      .limit(wanted)
      .offset(skip)
      .execute();
    skip = 0;
    for (const row of rows) {
      entities.push({ service: service.name, id: row[entity.id], weight: weight === undefined ? null : Number(row[weight] ?? 0) });
    }
  }
  return { total, entities };
}
