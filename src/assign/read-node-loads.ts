import { sql } from 'kysely';
import { nodesOfService, type MeshConfig, type ResolvedService } from '../config/mesh-config.js';
import type { Db } from '../config/service-config.js';
import { toCount } from '../db/db-values.js';
import type { NodeLoad } from './node-load.js';
import { readEntities } from './read-entities.js';

/**
 * Entities and total weight per node for one service, with each node's
 * capacity, in config order. Counted with GROUP BY in the database; a weight
 * function (which needs each row) is summed a page at a time.
 */
export async function readNodeLoads(db: Db, config: MeshConfig, service: ResolvedService): Promise<NodeLoad[]> {
  const { entity } = service;
  const loads = new Map<string, { entities: number; weight: number }>();
  if (typeof entity.weight === 'function') {
    for await (const page of readEntities(db, service, { all: true })) {
      for (const row of page) {
        if (row.node === null) continue;
        const load = loads.get(row.node) ?? { entities: 0, weight: 0 };
        load.entities += 1;
        load.weight += row.weight;
        loads.set(row.node, load);
      }
    }
  } else {
    const weight = entity.weight === undefined ? sql<number>`0` : sql<number>`sum(${sql.ref(entity.weight)})`;
    const rows = await db
      .selectFrom(entity.table)
      .select([sql.ref(entity.node).as('node'), sql<number>`count(*)`.as('entities'), weight.as('weight')])
      .where(entity.node, 'is not', null)
      .groupBy(entity.node)
      .execute();
    for (const row of rows) loads.set(String(row.node), { entities: toCount(row.entities), weight: toCount(row.weight) });
  }
  return nodesOfService(config, service.name).map((node) => {
    const capacity = node.services[service.name] ?? {};
    const load = loads.get(node.name) ?? { entities: 0, weight: 0 };
    return {
      name: node.name,
      entities: load.entities,
      weight: load.weight,
      ...(capacity.maxEntities !== undefined && { maxEntities: capacity.maxEntities }),
      ...(capacity.maxWeight !== undefined && { maxWeight: capacity.maxWeight }),
    };
  });
}

/** Loads of nodes that hold entities but no longer run the service (removed from nodes.config.ts). */
export async function readStrayNodes(db: Db, config: MeshConfig, service: ResolvedService): Promise<string[]> {
  const known = new Set(nodesOfService(config, service.name).map((n) => n.name));
  const rows = await db
    .selectFrom(service.entity.table)
    .select(sql.ref(service.entity.node).as('node'))
    .where(service.entity.node, 'is not', null)
    .groupBy(service.entity.node)
    .execute();
  return rows.map((r) => String(r.node)).filter((n) => !known.has(n));
}
