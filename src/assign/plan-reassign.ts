import type { AssignCriterion } from '../config/service-config.js';
import { hasRoom, limitReached, type EntityId, type NodeLoad } from './node-load.js';
import { excludeNode, planAssignment } from './plan-assignment.js';

export interface ReassignInput {
  criterion: AssignCriterion;
  /** The nodes running the service, in config order, with their current load. */
  nodes: NodeLoad[];
  /** `node` is null when the entity has none yet. */
  entity: { id: EntityId; node: string | null; weight: number };
  /** The node asked for (`mesh reassign --to`); the criterion chooses when left out. */
  to?: string;
  lastRoundRobinNode: string | null;
}

export type ReassignPlan =
  | { ok: true; node: string; lastRoundRobinNode: string | null }
  /** `capacity`: the nodes cannot take it (exit 1); `request`: what was asked makes no sense (exit 2). */
  | { ok: false; reason: string; refusal: 'capacity' | 'request' };

/**
 * Chooses a new node for one entity: `to` when given and able to take it,
 * else a node other than the current one by the service's criterion.
 */
export function planReassign(input: ReassignInput): ReassignPlan {
  const { entity, to } = input;
  if (to !== undefined) {
    if (to === entity.node) return { ok: false, reason: `entity ${entity.id} is already on ${to}`, refusal: 'request' };
    const node = input.nodes.find((n) => n.name === to);
    if (!node) return { ok: false, reason: `node ${to} does not run this service`, refusal: 'request' };
    if (!hasRoom(node, entity.weight)) {
      const weight = entity.weight === 0 ? '' : ` for weight ${entity.weight}`;
      return { ok: false, reason: `${to} has no room${weight}: ${limitReached(node)}`, refusal: 'capacity' };
    }
    return { ok: true, node: to, lastRoundRobinNode: input.lastRoundRobinNode };
  }
  const others =
    entity.node === null
      ? { nodes: input.nodes, lastRoundRobinNode: input.lastRoundRobinNode }
      : excludeNode(input.nodes, entity.node, input.lastRoundRobinNode);
  if (others.nodes.length === 0) {
    return {
      ok: false,
      reason: input.nodes.length === 0 ? 'no node runs this service' : `no node other than ${entity.node} runs this service`,
      refusal: 'capacity',
    };
  }
  const plan = planAssignment({
    criterion: input.criterion,
    nodes: others.nodes,
    entities: [{ id: entity.id, weight: entity.weight }],
    lastRoundRobinNode: others.lastRoundRobinNode,
  });
  const placed = plan.assignments[0];
  if (!placed) return { ok: false, reason: plan.unplaced[0]!.reason, refusal: 'capacity' };
  return {
    ok: true,
    node: placed.node,
    lastRoundRobinNode: input.criterion === 'roundrobin' ? plan.lastRoundRobinNode : input.lastRoundRobinNode,
  };
}
