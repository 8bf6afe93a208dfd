/**
 * The current load of one node for one service, with its capacity for that
 * service from nodes.config.ts (a limit left out is unlimited).
 */
export interface NodeLoad {
  name: string;
  entities: number;
  weight: number;
  maxEntities?: number;
  maxWeight?: number;
}

export type EntityId = string | number;

/** An entity waiting for a node; `weight` is 0 unless the criterion is `entityweight`. */
export interface EntityToPlace {
  id: EntityId;
  weight: number;
}

/** An entity that has a node. */
export interface PlacedEntity {
  id: EntityId;
  node: string;
  weight: number;
}

/** Whether one more entity of this weight fits within the node's limits. */
export function hasRoom(node: NodeLoad, weight: number): boolean {
  return (
    (node.maxEntities === undefined || node.entities + 1 <= node.maxEntities) &&
    (node.maxWeight === undefined || node.weight + weight <= node.maxWeight)
  );
}

/**
 * The limit a node has reached, as users read it to know what to raise in
 * nodes.config.ts: `at maxEntities 5`, `at weight 95 of maxWeight 100`.
 * Does not depend on the entity: a node with a free entity slot that turned
 * an entity away did so for its weight.
 */
export function limitReached(node: NodeLoad): string {
  if (node.maxEntities !== undefined && node.entities >= node.maxEntities) return `at maxEntities ${node.maxEntities}`;
  if (node.maxWeight !== undefined) {
    return node.weight >= node.maxWeight ? `at maxWeight ${node.maxWeight}` : `at weight ${node.weight} of maxWeight ${node.maxWeight}`;
  }
  return 'has room';
}

/** `node1 at maxEntities 5, node2 at maxWeight 100`: the limit of each node. */
export function describeLimits(nodes: readonly NodeLoad[]): string {
  return nodes.map((node) => `${node.name} ${limitReached(node)}`).join(', ');
}

/**
 * `no node has room: node1 at maxEntities 5, node2 at maxWeight 100`, for
 * nodes that all turned the entity away; `limits` saves rebuilding the list
 * for every entity when many were turned away by the same final loads.
 */
export function noRoomReason(nodes: readonly NodeLoad[], weight: number, limits = describeLimits(nodes)): string {
  if (nodes.length === 0) return 'no node runs this service';
  return `no node has room${weight === 0 ? '' : ` for weight ${weight}`}: ${limits}`;
}
