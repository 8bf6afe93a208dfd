import { nodesOfService, requireService, type MeshConfig } from '../config/mesh-config.js';
import type { Db } from '../config/service-config.js';
import { finishRun, startRun } from '../db/run-log.js';
import { readState, roundRobinKey, writeState } from '../db/state-store.js';
import { newLeaseOwner } from '../db/stream-lease.js';
import { readNodeHealth } from '../health/node-health.js';
import { applyMoves, type EntityMove } from './apply-moves.js';
import { planDrain } from './plan-drain.js';
import { collectEntities } from './read-entities.js';
import { readNodeLoads } from './read-node-loads.js';

/** The entities failover moved off one node of one service. */
export interface FailoverResult {
  service: string;
  node: string;
  /** When the node started failing (ISO 8601). */
  failingSince: string;
  moved: number;
  /** Entities moved per receiving node. */
  byNode: Record<string, number>;
  /** Entities no healthy node had room for: they stay, and are tried again at the next push. */
  stayed: number;
  reasons: string[];
}

/**
 * Automatic failover (a service's `failover: { afterMs }`, opt-in): the
 * entities of every node that has been unavailable for longer than afterMs
 * (its failing_since in workmesh_node_health) move to the service's other
 * nodes that are not failing, by the service's criterion and within their
 * capacity (planDrain), with re-push, so the new nodes receive all their
 * records from the beginning. One transaction per (service, node); each
 * UPDATE is guarded by the node the plan saw. Logged as a `failover` run in
 * workmesh_run. Services without `failover` are left alone.
 */
export async function failOverNodes(db: Db, config: MeshConfig, options: { service?: string; now: number }): Promise<FailoverResult[]> {
  const services = (options.service === undefined ? config.services : [requireService(config, options.service)]).filter(
    (s) => s.failover !== undefined,
  );
  if (services.length === 0) return [];
  const health = await readNodeHealth(db);
  const failingSince = (node: string) => health.get(node)?.failingSince ?? null;
  const results: FailoverResult[] = [];
  for (const service of services) {
    const afterMs = service.failover!.afterMs;
    const failing = new Set(
      nodesOfService(config, service.name)
        .filter((n) => failingSince(n.name) !== null)
        .map((n) => n.name),
    );
    for (const node of failing) {
      const since = failingSince(node)!;
      if (options.now - since <= afterMs) continue;
      const entities = (await collectEntities(db, service, { node })).map((e) => ({ id: e.id, node, weight: e.weight }));
      if (entities.length === 0) continue;
      const result = await db.transaction().execute(async (trx) => {
        const lastRoundRobinNode = await readState(trx, roundRobinKey(service.name));
        // Nodes failing themselves receive nothing, even before their own afterMs.
        const loads = (await readNodeLoads(trx, config, service)).filter((l) => l.name === node || !failing.has(l.name));
        const plan = planDrain({ criterion: service.assign, nodes: loads, drained: node, entities, lastRoundRobinNode });
        const moves: EntityMove[] = plan.assignments.map((a) => ({ id: a.id, from: node, to: a.node }));
        const moved = await applyMoves(trx, service, moves, { repush: true });
        if (plan.lastRoundRobinNode !== null && plan.lastRoundRobinNode !== lastRoundRobinNode) {
          await writeState(trx, roundRobinKey(service.name), plan.lastRoundRobinNode);
        }
        const byNode: Record<string, number> = {};
        for (const move of moves) byNode[move.to] = (byNode[move.to] ?? 0) + 1;
        return {
          service: service.name,
          node,
          failingSince: new Date(since).toISOString(),
          moved,
          byNode,
          stayed: plan.unplaced.length,
          reasons: [...new Set(plan.unplaced.map((u) => u.reason))],
        };
      });
      results.push(result);
    }
  }
  if (results.length > 0) {
    const runId = await startRun(db, 'failover', newLeaseOwner());
    await finishRun(db, runId, results.some((r) => r.stayed > 0) ? 'failed' : 'ok', results);
  }
  return results;
}
