import type { ResolvedService } from '../config/mesh-config.js';
import type { Db, Row } from '../config/service-config.js';
import { entityWeight, weightSelection } from './entity-weight.js';
import type { EntityId } from './node-load.js';

export interface EntityRow {
  id: EntityId;
  node: string | null;
  weight: number;
}

export type EntityFilter = { unassigned: true } | { node: string } | { all: true };

const PAGE = 5_000;

/**
 * Entities of a service in id order, a page at a time (keyset on the id), so
 * that memory stays bounded whatever the size of the entity table.
 */
export async function* readEntities(db: Db, service: ResolvedService, filter: EntityFilter): AsyncGenerator<EntityRow[]> {
  const { entity } = service;
  let after: unknown;
  for (;;) {
    const selection = weightSelection(entity);
    let query = selection === '*' ? db.selectFrom(entity.table).selectAll() : db.selectFrom(entity.table).select(selection);
    if ('unassigned' in filter) query = query.where(entity.node, 'is', null);
    else if ('node' in filter) query = query.where(entity.node, '=', filter.node);
    if (after !== undefined) query = query.where(entity.id, '>', after);
    const rows: Row[] = await query.orderBy(entity.id).limit(PAGE).execute();
    if (rows.length === 0) return;
    yield rows.map((row) => ({
      id: row[entity.id] as EntityId,
      node: (row[entity.node] as string | null) ?? null,
      weight: entityWeight(entity, row),
    }));
    if (rows.length < PAGE) return;
    after = rows[rows.length - 1]![entity.id];
  }
}

export async function collectEntities(db: Db, service: ResolvedService, filter: EntityFilter): Promise<EntityRow[]> {
  const all: EntityRow[] = [];
  for await (const page of readEntities(db, service, filter)) all.push(...page);
  return all;
}
