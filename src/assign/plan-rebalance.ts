import type { AssignCriterion } from '../config/service-config.js';
import { describeLimits, hasRoom, noRoomReason, type EntityId, type NodeLoad, type PlacedEntity } from './node-load.js';
import { planAssignment } from './plan-assignment.js';

export interface RebalanceInput {
  criterion: AssignCriterion;
  /** The nodes running the service, in config order; only names and capacity are read. */
  nodes: NodeLoad[];
  /**
   * Every assigned entity of the service. Loads are counted from this list
   * (NodeLoad.entities and .weight are not used), and entities on a node that
   * is not in `nodes` are moved off it.
   */
  entities: PlacedEntity[];
}

export interface Move {
  id: EntityId;
  from: string;
  to: string;
}

/** An entity on a node no longer running the service that no node had room for. */
export interface UnmovedEntity {
  id: EntityId;
  from: string;
  reason: string;
}

export interface RebalancePlan {
  /** At most one move per entity, in the order they were decided. */
  moves: Move[];
  unmoved: UnmovedEntity[];
}

/**
 * Evens the load of a service out, e.g. after nodes were added, within every
 * node's capacity. Entities on nodes that no longer run the service are
 * always moved.
 *
 * - roundrobin, entitynumber: entity counts end with max - min <= 1 (capacity
 *   allowing), with the fewest moves possible: the nodes that keep one more
 *   than the others are those that already hold the most. Each move goes from
 *   the most loaded node above its target to the least loaded one below.
 * - entityweight: a heuristic, since the exact problem is a partition
 *   problem. The heaviest node gives the lightest node (or the next lightest
 *   with room) the entity whose weight is closest to half their difference,
 *   until no such move narrows the gap between a heaviest node and a lighter
 *   one. Each move lowers the sum of squared node weights, so it ends.
 */
export function planRebalance(input: RebalanceInput): RebalancePlan {
  const state = new Placement(input.nodes, input.entities);
  if (input.criterion === 'entityweight') balanceWeights(state);
  else balanceCounts(state);
  return state.plan();
}

/** Where every entity is while moves are decided, and the loads that follow. */
class Placement {
  readonly loads: NodeLoad[];
  readonly indexOf = new Map<string, number>();
  /** Node index of each entity; -1 while it is on a node that no longer runs the service. */
  readonly at: Int32Array;
  /** Entity weights, read in the hot loops. */
  readonly weights: Float64Array;
  /** Entity indices per node, in input order. */
  readonly onNode: number[][];
  /** Entity indices per node no longer running the service, in input order. */
  readonly stranded = new Map<string, number[]>();
  readonly unmoved: UnmovedEntity[] = [];
  private readonly moved: Uint8Array;
  private readonly movedOrder: number[] = [];

  constructor(
    nodes: NodeLoad[],
    readonly entities: PlacedEntity[],
  ) {
    this.loads = nodes.map((node) => ({ ...node, entities: 0, weight: 0 }));
    this.loads.forEach((node, i) => this.indexOf.set(node.name, i));
    this.onNode = this.loads.map(() => []);
    this.at = new Int32Array(entities.length);
    this.weights = Float64Array.from(entities, (entity) => entity.weight);
    this.moved = new Uint8Array(entities.length);
    entities.forEach((entity, e) => {
      const i = this.indexOf.get(entity.node);
      this.at[e] = i ?? -1;
      if (i === undefined) {
        const list = this.stranded.get(entity.node);
        if (list) list.push(e);
        else this.stranded.set(entity.node, [e]);
        return;
      }
      this.onNode[i]!.push(e);
      this.loads[i]!.entities += 1;
      this.loads[i]!.weight += entity.weight;
    });
  }

  /** Updates loads and `at`; the caller keeps its own lists. */
  move(e: number, to: number): void {
    const from = this.at[e]!;
    const weight = this.weights[e]!;
    if (from >= 0) {
      this.loads[from]!.entities -= 1;
      this.loads[from]!.weight -= weight;
    }
    this.loads[to]!.entities += 1;
    this.loads[to]!.weight += weight;
    if (!this.moved[e]) {
      this.moved[e] = 1;
      this.movedOrder.push(e);
    }
    this.at[e] = to;
  }

  plan(): RebalancePlan {
    const moves: Move[] = [];
    for (const e of this.movedOrder) {
      const entity = this.entities[e]!;
      const to = this.loads[this.at[e]!]!.name;
      // An entity the weight heuristic moved away and back again does not move.
      if (to !== entity.node) moves.push({ id: entity.id, from: entity.node, to });
    }
    return { moves, unmoved: this.unmoved };
  }
}

function balanceCounts(state: Placement): void {
  const { loads } = state;
  const n = loads.length;
  const targets = countTargets(loads, state.entities.length);
  const blocked = new Uint8Array(n);
  const strandedLists = [...state.stranded.values()];
  let stranded = 0;
  for (;;) {
    while (stranded < strandedLists.length && strandedLists[stranded]!.length === 0) stranded += 1;
    let from = -1;
    let list: number[];
    if (stranded < strandedLists.length) list = strandedLists[stranded]!;
    else {
      for (let i = 0; i < n; i++) {
        if (blocked[i] || loads[i]!.entities <= targets[i]!) continue;
        if (from < 0 || loads[i]!.entities > loads[from]!.entities) from = i;
      }
      if (from < 0) break;
      list = state.onNode[from]!;
    }
    if (!moveOneBelowTarget(state, list, targets)) {
      if (from >= 0) blocked[from] = 1;
      else stranded += 1; // left for the pass below, which ignores targets
    }
  }
  // What no node below its target could take (its weight did not fit) goes to any node with room.
  const left = strandedLists.flat().filter((e) => !placeAnywhere(state, e));
  // Loads only grew since each refusal, so the final ones explain them all.
  const limits = describeLimits(loads);
  for (const e of left) {
    const entity = state.entities[e]!;
    state.unmoved.push({ id: entity.id, from: entity.node, reason: noRoomReason(loads, entity.weight, limits) });
  }
}

/**
 * Moves one entity of `list` (the last one that fits) to the least loaded
 * node below its target that has room for it; false when none has.
 */
function moveOneBelowTarget(state: Placement, list: number[], targets: number[]): boolean {
  const { loads } = state;
  let least = -1;
  for (let i = 0; i < loads.length; i++) {
    if (loads[i]!.entities < targets[i]! && (least < 0 || loads[i]!.entities < loads[least]!.entities)) least = i;
  }
  if (least < 0) return false;
  // Nearly always the least loaded node takes the last entity; sorting is for when weight limits refuse.
  if (moveOneTo(state, list, least)) return true;
  const below: number[] = [];
  for (let i = 0; i < loads.length; i++) if (i !== least && loads[i]!.entities < targets[i]!) below.push(i);
  below.sort((a, b) => loads[a]!.entities - loads[b]!.entities || a - b);
  return below.some((to) => moveOneTo(state, list, to));
}

function moveOneTo(state: Placement, list: number[], to: number): boolean {
  for (let k = list.length - 1; k >= 0; k--) {
    const e = list[k]!;
    if (!hasRoom(state.loads[to]!, state.weights[e]!)) continue;
    list.splice(k, 1);
    state.onNode[to]!.push(e);
    state.move(e, to);
    return true;
  }
  return false;
}

/**
 * Entity count each node should end with: as even as capacity allows, and
 * the nodes that keep one more than the others are those holding the most
 * now, so that the fewest entities move.
 */
function countTargets(loads: NodeLoad[], total: number): number[] {
  const caps = loads.map((node) => node.maxEntities ?? Infinity);
  const capacity = caps.reduce((sum, cap) => sum + cap, 0);
  if (capacity <= total) return caps;
  const filled = (level: number) => caps.reduce((sum, cap) => sum + Math.min(cap, level), 0);
  let low = 0;
  let high = total;
  while (low < high) {
    const mid = Math.ceil((low + high) / 2);
    if (filled(mid) <= total) low = mid;
    else high = mid - 1;
  }
  const targets = caps.map((cap) => Math.min(cap, low));
  let extra = total - filled(low);
  const roomForOneMore = loads
    .map((_, i) => i)
    .filter((i) => caps[i]! > low)
    .sort((a, b) => loads[b]!.entities - loads[a]!.entities || a - b);
  for (const i of roomForOneMore) {
    if (extra === 0) break;
    targets[i]! += 1;
    extra -= 1;
  }
  return targets;
}

/** Puts a stranded entity on the node with the fewest entities that has room (ties in config order). */
function placeAnywhere(state: Placement, e: number): boolean {
  const { loads } = state;
  const weight = state.weights[e]!;
  let to = -1;
  for (let i = 0; i < loads.length; i++) {
    if (hasRoom(loads[i]!, weight) && (to < 0 || loads[i]!.entities < loads[to]!.entities)) to = i;
  }
  if (to < 0) return false;
  state.onNode[to]!.push(e);
  state.move(e, to);
  return true;
}

function balanceWeights(state: Placement): void {
  const { loads, entities, weights } = state;
  const stranded = [...state.stranded.values()].flat();
  // Heaviest first: the classic greedy that spreads weight evenly.
  stranded.sort((a, b) => weights[b]! - weights[a]! || a - b);
  const placed = planAssignment({
    criterion: 'entityweight',
    nodes: loads,
    entities: stranded.map((e) => ({ id: e, weight: weights[e]! })),
    lastRoundRobinNode: null,
  });
  for (const { id, node } of placed.assignments) {
    const to = state.indexOf.get(node)!;
    state.onNode[to]!.push(id as number);
    state.move(id as number, to);
  }
  for (const { id, reason } of placed.unplaced) {
    const entity = entities[id as number]!;
    state.unmoved.push({ id: entity.id, from: entity.node, reason });
  }

  // Per node, its entities that carry weight, lightest first (ties in input order), for a binary search.
  const byWeight = state.onNode.map((list) => list.filter((e) => weights[e]! > 0).sort((a, b) => weights[a]! - weights[b]! || a - b));
  const weightOf = (e: number) => weights[e]!;
  /** Moves the best entity of `s` to `d`; false when none narrows their gap within d's capacity. */
  const tryMove = (s: number, d: number): boolean => {
    const source = loads[s]!;
    const dest = loads[d]!;
    if (dest.weight >= source.weight) return false;
    if (dest.maxEntities !== undefined && dest.entities + 1 > dest.maxEntities) return false;
    const room = dest.maxWeight === undefined ? Infinity : dest.maxWeight - dest.weight;
    const k = closestToHalf(byWeight[s]!, weightOf, source.weight - dest.weight, room);
    if (k < 0) return false;
    const e = byWeight[s]!.splice(k, 1)[0]!;
    insertSorted(byWeight[d]!, e, weightOf);
    state.move(e, d);
    return true;
  };
  // A safety net only: each move lowers the sum of squared weights, so the loop ends long before.
  let budget = 4 * entities.length + loads.length;
  while (budget-- > 0 && loads.length > 1) {
    let heaviest = 0;
    let lightest = 0;
    for (let i = 1; i < loads.length; i++) {
      if (loads[i]!.weight > loads[heaviest]!.weight) heaviest = i;
      if (loads[i]!.weight < loads[lightest]!.weight) lightest = i;
    }
    // Nearly always the heaviest node gives to the lightest; the full search is for ties and full nodes.
    if (tryMove(heaviest, lightest)) continue;
    const top = loads[heaviest]!.weight;
    const sources = loads.map((_, i) => i).filter((i) => loads[i]!.weight === top);
    const dests = loads.map((_, i) => i).sort((a, b) => loads[a]!.weight - loads[b]!.weight || a - b);
    if (!sources.some((s) => dests.some((d) => tryMove(s, d)))) break;
  }
}

/**
 * Index in `sorted` of the entity whose move narrows a gap of `gap` the most:
 * weight in (0, gap), at most `room`, closest to gap / 2; the lighter one and
 * then the earlier one on a tie. -1 when there is none.
 */
function closestToHalf(sorted: number[], weightOf: (e: number) => number, gap: number, room: number): number {
  const half = gap / 2;
  let best = -1;
  let bestDistance = Infinity;
  const below = upperBound(sorted, weightOf, Math.min(half, room)) - 1;
  if (below >= 0) {
    best = lowerBound(sorted, weightOf, weightOf(sorted[below]!));
    bestDistance = half - weightOf(sorted[best]!);
  }
  const above = lowerBound(sorted, weightOf, half);
  if (above < sorted.length) {
    const weight = weightOf(sorted[above]!);
    if (weight < gap && weight <= room && weight - half < bestDistance) best = above;
  }
  return best;
}

/** First index whose weight is >= `weight`. */
function lowerBound(sorted: number[], weightOf: (e: number) => number, weight: number): number {
  let low = 0;
  let high = sorted.length;
  while (low < high) {
    const mid = (low + high) >> 1;
    if (weightOf(sorted[mid]!) < weight) low = mid + 1;
    else high = mid;
  }
  return low;
}

/** First index whose weight is > `weight`. */
function upperBound(sorted: number[], weightOf: (e: number) => number, weight: number): number {
  let low = 0;
  let high = sorted.length;
  while (low < high) {
    const mid = (low + high) >> 1;
    if (weightOf(sorted[mid]!) <= weight) low = mid + 1;
    else high = mid;
  }
  return low;
}

function insertSorted(sorted: number[], e: number, weightOf: (e: number) => number): void {
  const weight = weightOf(e);
  let low = 0;
  let high = sorted.length;
  while (low < high) {
    const mid = (low + high) >> 1;
    const other = sorted[mid]!;
    const w = weightOf(other);
    if (w < weight || (w === weight && other < e)) low = mid + 1;
    else high = mid;
  }
  sorted.splice(low, 0, e);
}
