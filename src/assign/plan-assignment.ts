import type { AssignCriterion } from '../config/service-config.js';
import { describeLimits, hasRoom, noRoomReason, type EntityId, type EntityToPlace, type NodeLoad } from './node-load.js';

export interface AssignmentInput {
  criterion: AssignCriterion;
  /** The nodes running the service, in config order, with their current load. */
  nodes: NodeLoad[];
  /** Placed in the order given. */
  entities: EntityToPlace[];
  /** Where the previous round-robin run stopped; null before the first. */
  lastRoundRobinNode: string | null;
}

export interface Assignment {
  id: EntityId;
  node: string;
}

export interface UnplacedEntity {
  id: EntityId;
  reason: string;
}

export interface AssignmentPlan {
  assignments: Assignment[];
  unplaced: UnplacedEntity[];
  /** To store for the next run, so that the rotation goes on where this one stopped. */
  lastRoundRobinNode: string | null;
}

/**
 * Chooses a node for each entity by the service's criterion, within every
 * node's capacity. Pure: the caller's NodeLoad objects are not changed.
 *
 * - roundrobin: one node after the other, starting after `lastRoundRobinNode`
 *   (from the first node when it is null or no longer runs the service);
 * - entitynumber: the node with the fewest entities, ties in config order;
 * - entityweight: the node with the least total weight, ties in config order.
 */
export function planAssignment(input: AssignmentInput): AssignmentPlan {
  const loads = input.nodes.map((node) => ({ ...node }));
  const { entities } = input;
  const plan: AssignmentPlan = { assignments: [], unplaced: [], lastRoundRobinNode: input.lastRoundRobinNode };
  if (entities.length === 0) return plan;
  const lightestFrom = lightestFromEach(entities);
  const place = input.criterion === 'roundrobin' ? roundRobin(loads, input.lastRoundRobinNode) : leastLoaded(loads, input.criterion);
  const turnedAway: number[] = [];
  for (let i = 0; i < entities.length; i++) {
    const entity = entities[i]!;
    const index = place(entity.weight, lightestFrom[i]!);
    if (index < 0) {
      turnedAway.push(i);
      continue;
    }
    plan.assignments.push({ id: entity.id, node: loads[index]!.name });
    if (input.criterion === 'roundrobin') plan.lastRoundRobinNode = loads[index]!.name;
  }
  // Loads only grow, so a node that turned an entity away still has no room for it at the end:
  // the final loads explain every refusal, and their description is built once.
  const limits = turnedAway.length > 0 ? describeLimits(loads) : '';
  for (const i of turnedAway) {
    const entity = entities[i]!;
    plan.unplaced.push({ id: entity.id, reason: noRoomReason(loads, entity.weight, limits) });
  }
  return plan;
}

/**
 * Takes `nodes` without one of them (a node being drained, or an entity's
 * current node) and moves `lastRoundRobinNode` so that the rotation still
 * goes on at the node that followed the removed one.
 */
export function excludeNode(
  nodes: NodeLoad[],
  name: string,
  lastRoundRobinNode: string | null,
): { nodes: NodeLoad[]; lastRoundRobinNode: string | null } {
  const index = nodes.findIndex((node) => node.name === name);
  if (index < 0) return { nodes, lastRoundRobinNode };
  const rest = nodes.filter((_, i) => i !== index);
  if (lastRoundRobinNode !== name) return { nodes: rest, lastRoundRobinNode };
  if (rest.length === 0) return { nodes: rest, lastRoundRobinNode: null };
  // Rotation starts after the last node, so naming the excluded node's predecessor starts it at its successor.
  const previous = nodes[(index - 1 + nodes.length) % nodes.length]!;
  return { nodes: rest, lastRoundRobinNode: previous.name };
}

/** Picks the node for an entity of `weight` and adds the entity to its load; returns its index, or -1. */
type Placer = (weight: number, lightestToCome: number) => number;

function roundRobin(loads: NodeLoad[], last: string | null): Placer {
  const n = loads.length;
  // A node that cannot take even the lightest entity still to come never will: skipped for good.
  const retired = new Uint8Array(n);
  let active = n;
  const lastIndex = last === null ? -1 : loads.findIndex((node) => node.name === last);
  let next = lastIndex < 0 ? 0 : (lastIndex + 1) % n;
  return (weight, lightestToCome) => {
    for (let k = 0; k < n && active > 0; k++) {
      const j = next + k < n ? next + k : next + k - n;
      if (retired[j]) continue;
      const node = loads[j]!;
      if (hasRoom(node, weight)) {
        addEntity(node, weight);
        next = j + 1 < n ? j + 1 : 0;
        return j;
      }
      if (!hasRoom(node, lightestToCome)) {
        retired[j] = 1;
        active -= 1;
      }
    }
    return -1;
  };
}

function leastLoaded(loads: NodeLoad[], criterion: 'entitynumber' | 'entityweight'): Placer {
  const keyOf = criterion === 'entitynumber' ? (node: NodeLoad) => node.entities : (node: NodeLoad) => node.weight;
  const heap = new LoadHeap(loads.map(keyOf));
  const skipped: number[] = [];
  return (weight, lightestToCome) => {
    let found = -1;
    while (heap.size > 0) {
      const j = heap.pop();
      const node = loads[j]!;
      if (hasRoom(node, weight)) {
        found = j;
        break;
      }
      // Too full for this entity but maybe not for a lighter one: back in the heap afterwards.
      // Otherwise it is dropped for good.
      if (hasRoom(node, lightestToCome)) skipped.push(j);
    }
    if (found >= 0) {
      const node = loads[found]!;
      addEntity(node, weight);
      heap.push(found, keyOf(node));
    }
    for (const j of skipped) heap.push(j, keyOf(loads[j]!));
    skipped.length = 0;
    return found;
  };
}

function addEntity(node: NodeLoad, weight: number): void {
  node.entities += 1;
  node.weight += weight;
}

/** Lightest weight among entities[i..], for each i. */
function lightestFromEach(entities: EntityToPlace[]): Float64Array {
  const lightest = new Float64Array(entities.length + 1);
  lightest[entities.length] = Infinity;
  for (let i = entities.length - 1; i >= 0; i--) lightest[i] = Math.min(entities[i]!.weight, lightest[i + 1]!);
  return lightest;
}

/** A binary min-heap of node indices by load, ties to the lower index (config order). */
class LoadHeap {
  private readonly items: number[] = [];
  private readonly keys: Float64Array;

  constructor(keys: number[]) {
    this.keys = Float64Array.from(keys);
    keys.forEach((key, i) => this.push(i, key));
  }

  get size(): number {
    return this.items.length;
  }

  /** `key` is the node's load now; it must not change while the node is in the heap. */
  push(item: number, key: number): void {
    this.keys[item] = key;
    this.items.push(item);
    this.up(this.items.length - 1);
  }

  pop(): number {
    const items = this.items;
    const top = items[0]!;
    const last = items.pop()!;
    if (items.length > 0) {
      items[0] = last;
      this.down(0);
    }
    return top;
  }

  private less(a: number, b: number): boolean {
    const ka = this.keys[a]!;
    const kb = this.keys[b]!;
    return ka < kb || (ka === kb && a < b);
  }

  private up(i: number): void {
    const items = this.items;
    const item = items[i]!;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.less(item, items[parent]!)) break;
      items[i] = items[parent]!;
      i = parent;
    }
    items[i] = item;
  }

  private down(i: number): void {
    const items = this.items;
    const item = items[i]!;
    const n = items.length;
    for (;;) {
      let child = 2 * i + 1;
      if (child >= n) break;
      if (child + 1 < n && this.less(items[child + 1]!, items[child]!)) child += 1;
      if (!this.less(items[child]!, item)) break;
      items[i] = items[child]!;
      i = child;
    }
    items[i] = item;
  }
}
