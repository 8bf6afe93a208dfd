import { nodesOfService, requireService, type MeshConfig, type ResolvedService } from '../config/mesh-config.js';
import type { Db } from '../config/service-config.js';
import { readState, roundRobinKey, writeState } from '../db/state-store.js';
import { applyMoves, type EntityMove } from './apply-moves.js';
import type { EntityId } from './node-load.js';
import { planDrain } from './plan-drain.js';
import { planReassign } from './plan-reassign.js';
import { planRebalance } from './plan-rebalance.js';
import { collectEntities } from './read-entities.js';
import { readNodeLoads } from './read-node-loads.js';
import { entityWeight, weightSelection } from './entity-weight.js';
import { CapacityRefused, MoveRefused } from './move-refused.js';
import { countEntityRecords } from './count-entity-records.js';

export { CapacityRefused, MoveRefused };

export interface ReassignResult {
  service: string;
  entity: EntityId;
  from: string | null;
  to: string;
  repushed: boolean;
  dryRun: boolean;
  /** With `repush`: the records per protocol whose flags are (or would be) cleared to be sent again. */
  repushRecords?: Record<string, number>;
}

/** Runs `work` in a transaction, or for a dry run (which only reads) straight on the database. */
function writeOrPlan<T>(db: Db, dryRun: boolean, work: (db: Db) => Promise<T>): Promise<T> {
  return dryRun ? work(db) : db.transaction().execute(work);
}

/**
 * Moves one entity: to `to`, or to a node other than its current one by the
 * service's criterion. With `repush`, the push and pull flags of all its
 * records are cleared in the same transaction, so the new node receives them
 * all from the beginning. `dryRun` plans the same way and writes nothing.
 */
export async function reassignEntity(
  db: Db,
  config: MeshConfig,
  service: ResolvedService,
  entityId: string,
  options: { to?: string; repush: boolean; dryRun?: boolean },
): Promise<ReassignResult> {
  const { entity } = service;
  const dryRun = options.dryRun ?? false;
  if (options.to !== undefined && !config.nodes.some((n) => n.name === options.to)) {
    throw new MoveRefused(`unknown node "${options.to}"; nodes.config.ts declares: ${config.nodes.map((n) => n.name).join(', ')}`);
  }
  return writeOrPlan(db, dryRun, async (trx) => {
    const selection = weightSelection(entity);
    const base = trx.selectFrom(entity.table);
    const row = await (selection === '*' ? base.selectAll() : base.select(selection)).where(entity.id, '=', entityId).executeTakeFirst();
    if (row === undefined) throw new MoveRefused(`service ${service.name}: no entity ${entityId} in table ${entity.table}`);
    const current = (row[entity.node] as string | null) ?? null;
    const id = row[entity.id] as EntityId;
    const lastRoundRobinNode = await readState(trx, roundRobinKey(service.name));
    const plan = planReassign({
      criterion: service.assign,
      nodes: await readNodeLoads(trx, config, service),
      entity: { id, node: current, weight: entityWeight(entity, row) },
      ...(options.to !== undefined && { to: options.to }),
      lastRoundRobinNode,
    });
    if (!plan.ok) {
      const message = `service ${service.name}, entity ${entityId}: ${plan.reason}`;
      throw plan.refusal === 'capacity' ? new CapacityRefused(message) : new MoveRefused(message);
    }
    const repushRecords = options.repush ? await countEntityRecords(trx, service, [id]) : undefined;
    if (!dryRun) {
      await applyMoves(trx, service, [{ id, from: current, to: plan.node }], { repush: options.repush });
      if (plan.lastRoundRobinNode !== null && plan.lastRoundRobinNode !== lastRoundRobinNode) {
        await writeState(trx, roundRobinKey(service.name), plan.lastRoundRobinNode);
      }
    }
    return {
      service: service.name,
      entity: id,
      from: current,
      to: plan.node,
      repushed: options.repush,
      dryRun,
      ...(repushRecords && { repushRecords }),
    };
  });
}

export interface DrainResult {
  node: string;
  dryRun: boolean;
  services: {
    service: string;
    moved: number;
    byNode: Record<string, number>;
    stayed: number;
    reasons: string[];
    /** With `dryRun`: each entity and where it would go. */
    moves?: EntityMove[];
    /** With `repush`: records per protocol sent again to their new nodes. */
    repushRecords?: Record<string, number>;
  }[];
}

/**
 * Moves every entity off a node (one being removed), service by service,
 * each service in one transaction. Entities no other node has room for stay.
 * `dryRun` plans the same way and writes nothing.
 */
export async function drainNode(
  db: Db,
  config: MeshConfig,
  node: string,
  options: { service?: string; repush: boolean; dryRun?: boolean },
): Promise<DrainResult> {
  const dryRun = options.dryRun ?? false;
  const services = options.service === undefined ? config.services : [requireService(config, options.service)];
  const result: DrainResult = { node, dryRun, services: [] };
  for (const service of services) {
    const entities = (await collectEntities(db, service, { node })).map((e) => ({ id: e.id, node, weight: e.weight }));
    if (entities.length === 0) continue;
    const summary = await writeOrPlan(db, dryRun, async (trx) => {
      const lastRoundRobinNode = await readState(trx, roundRobinKey(service.name));
      const plan = planDrain({
        criterion: service.assign,
        nodes: await readNodeLoads(trx, config, service),
        drained: node,
        entities,
        lastRoundRobinNode,
      });
      const moves: EntityMove[] = plan.assignments.map((a) => ({ id: a.id, from: node, to: a.node }));
      const repushRecords = options.repush
        ? await countEntityRecords(
            trx,
            service,
            moves.map((m) => m.id),
          )
        : undefined;
      const moved = dryRun ? moves.length : await applyMoves(trx, service, moves, { repush: options.repush });
      if (!dryRun && plan.lastRoundRobinNode !== null && plan.lastRoundRobinNode !== lastRoundRobinNode) {
        await writeState(trx, roundRobinKey(service.name), plan.lastRoundRobinNode);
      }
      return {
        service: service.name,
        moved,
        byNode: countByNode(moves),
        stayed: plan.unplaced.length,
        reasons: [...new Set(plan.unplaced.map((u) => u.reason))],
        ...(dryRun && { moves }),
        ...(repushRecords && { repushRecords }),
      };
    });
    result.services.push(summary);
  }
  return result;
}

export interface RebalanceResult {
  service: string;
  moves: EntityMove[];
  /** Entities on a node that no longer runs the service that nowhere had room for. */
  stuck: number;
  dryRun: boolean;
}

/** Evens a service's load out with as few moves as the planner finds; `dryRun` only plans. */
export async function rebalanceService(
  db: Db,
  config: MeshConfig,
  service: ResolvedService,
  options: { dryRun: boolean },
): Promise<RebalanceResult> {
  const entities = (await collectEntities(db, service, { all: true }))
    .filter((e) => e.node !== null)
    .map((e) => ({ id: e.id, node: e.node as string, weight: e.weight }));
  const nodes = nodesOfService(config, service.name).map((n) => ({
    name: n.name,
    entities: 0,
    weight: 0,
    ...n.services[service.name],
  }));
  const plan = planRebalance({ criterion: service.assign, nodes, entities });
  const moves: EntityMove[] = plan.moves.map((m) => ({ id: m.id, from: m.from, to: m.to }));
  if (!options.dryRun && moves.length > 0) {
    await db.transaction().execute((trx) => applyMoves(trx, service, moves, { repush: false }));
  }
  return { service: service.name, moves, stuck: plan.unmoved.length, dryRun: options.dryRun };
}

function countByNode(moves: EntityMove[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const move of moves) counts[move.to] = (counts[move.to] ?? 0) + 1;
  return counts;
}
