import type { MeshConfig, ResolvedService } from '../config/mesh-config.js';
import type { Db } from '../config/service-config.js';
import { readState, roundRobinKey, writeState } from '../db/state-store.js';
import { applyMoves, type EntityMove } from './apply-moves.js';
import { planAssignment } from './plan-assignment.js';
import { collectEntities } from './read-entities.js';
import { readNodeLoads } from './read-node-loads.js';

export interface AssignResult {
  service: string;
  assigned: number;
  /** Entities newly assigned, per node. */
  byNode: Record<string, number>;
  /** Entities no node had room for; they stay unassigned. */
  unassigned: number;
  /** Why, one line per distinct reason. */
  reasons: string[];
  dryRun: boolean;
  /** With `dryRun`: each entity and the node it would get. */
  moves?: EntityMove[];
}

/**
 * Assigns every unassigned entity of a service by its criterion, within the
 * nodes' capacity. The plan is a pure function of the entities and the
 * current loads; it is written in one transaction with the round-robin
 * position, so the next cron run continues the rotation. `dryRun` plans
 * the same way and writes nothing.
 */
export async function assignService(
  db: Db,
  config: MeshConfig,
  service: ResolvedService,
  options: { dryRun?: boolean } = {},
): Promise<AssignResult> {
  const dryRun = options.dryRun ?? false;
  const entities = await collectEntities(db, service, { unassigned: true });
  const result: AssignResult = {
    service: service.name,
    assigned: 0,
    byNode: {},
    unassigned: 0,
    reasons: [],
    dryRun,
    ...(dryRun && { moves: [] }),
  };
  if (entities.length === 0) return result;
  const plan = async (trx: Db) => {
    const nodes = await readNodeLoads(trx, config, service);
    const lastRoundRobinNode = await readState(trx, roundRobinKey(service.name));
    const plan = planAssignment({ criterion: service.assign, nodes, entities, lastRoundRobinNode });
    const moves: EntityMove[] = plan.assignments.map((a) => ({ id: a.id, from: null, to: a.node }));
    if (dryRun) {
      result.moves = moves;
      result.assigned = moves.length;
    } else result.assigned = await applyMoves(trx, service, moves, { repush: false });
    for (const { node } of plan.assignments) result.byNode[node] = (result.byNode[node] ?? 0) + 1;
    if (!dryRun && plan.lastRoundRobinNode !== null && plan.lastRoundRobinNode !== lastRoundRobinNode) {
      await writeState(trx, roundRobinKey(service.name), plan.lastRoundRobinNode);
    }
    result.unassigned = plan.unplaced.length;
    result.reasons = [...new Set(plan.unplaced.map((u) => u.reason))];
    return result;
  };
  return dryRun ? plan(db) : db.transaction().execute(plan);
}
