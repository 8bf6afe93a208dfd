import type { ResolvedService } from '../config/mesh-config.js';
import type { Db } from '../config/service-config.js';
import { markEntitiesMoved } from '../db/entity-moves.js';
import { clearRecordFlags } from '../db/clear-record-flags.js';
import type { EntityId } from './node-load.js';

/** One entity going to a node; `from` null for an unassigned entity. */
export interface EntityMove {
  id: EntityId;
  from: string | null;
  to: string;
}

const CHUNK = 1_000;

/**
 * Writes moves with one UPDATE per (from, to) pair and chunk of ids, never
 * one per entity. Each UPDATE is guarded by the node the plan saw, so an
 * entity another run moved meanwhile is left alone, and with `repush` only
 * the records of entities that are on their new node now are cleared (the
 * same guard: the flags of an entity this run did not move stay as they
 * are). Returns how many moved. Call inside a transaction.
 */
export async function applyMoves(db: Db, service: ResolvedService, moves: EntityMove[], options: { repush: boolean }): Promise<number> {
  const { entity } = service;
  const groups = new Map<string, { from: string | null; to: string; ids: EntityId[] }>();
  for (const move of moves) {
    const key = JSON.stringify([move.from, move.to]);
    const group = groups.get(key) ?? { from: move.from, to: move.to, ids: [] };
    group.ids.push(move.id);
    groups.set(key, group);
  }
  let moved = 0;
  for (const { from, to, ids } of groups.values()) {
    for (let i = 0; i < ids.length; i += CHUNK) {
      const chunk = ids.slice(i, i + CHUNK);
      const query = db
        .updateTable(entity.table)
        .set({ [entity.node]: to })
        .where(entity.id, 'in', chunk);
      const result = await (from === null ? query.where(entity.node, 'is', null) : query.where(entity.node, '=', from)).executeTakeFirst();
      const changed = Number(result.numUpdatedRows);
      moved += changed;
      if (options.repush && changed > 0) await clearRecordFlags(db, service, chunk, to, from);
    }
  }
  if (moved > 0) await markEntitiesMoved(db, service.name);
  return moved;
}
