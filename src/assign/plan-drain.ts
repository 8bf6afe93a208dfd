import type { AssignCriterion } from '../config/service-config.js';
import type { NodeLoad, PlacedEntity } from './node-load.js';
import { excludeNode, planAssignment, type AssignmentPlan } from './plan-assignment.js';

export interface DrainInput {
  criterion: AssignCriterion;
  /** The nodes running the service, in config order; the drained node may be among them. */
  nodes: NodeLoad[];
  /** The node being emptied. */
  drained: string;
  /** The entities on the drained node. */
  entities: PlacedEntity[];
  lastRoundRobinNode: string | null;
}

/**
 * Places every entity of a node being removed on the other nodes, by the
 * service's criterion and within their capacity.
 */
export function planDrain(input: DrainInput): AssignmentPlan {
  const others = excludeNode(input.nodes, input.drained, input.lastRoundRobinNode);
  let entities = input.entities.map(({ id, weight }) => ({ id, weight }));
  if (others.nodes.length === 0) {
    const reason = input.nodes.length === 0 ? 'no node runs this service' : `no node other than ${input.drained} runs this service`;
    return {
      assignments: [],
      unplaced: entities.map(({ id }) => ({ id, reason })),
      lastRoundRobinNode: input.lastRoundRobinNode,
    };
  }
  if (input.criterion === 'entityweight') {
    // Heaviest first spreads the weight more evenly than the drained node's order (stable sort: ties keep it).
    entities = entities.sort((a, b) => b.weight - a.weight);
  }
  const plan = planAssignment({
    criterion: input.criterion,
    nodes: others.nodes,
    entities,
    lastRoundRobinNode: others.lastRoundRobinNode,
  });
  // Outside round robin the stored rotation must stay as it was, not as excludeNode moved it.
  return input.criterion === 'roundrobin' ? plan : { ...plan, lastRoundRobinNode: input.lastRoundRobinNode };
}
