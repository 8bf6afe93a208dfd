import { describe, expect, it } from 'vitest';
import type { EntityToPlace, NodeLoad } from '../../src/assign/node-load.js';
import { excludeNode, planAssignment, type AssignmentInput } from '../../src/assign/plan-assignment.js';

function load(name: string, entities = 0, weight = 0, caps: { maxEntities?: number; maxWeight?: number } = {}): NodeLoad {
  return { name, entities, weight, ...caps };
}

function ids(...list: number[]): EntityToPlace[] {
  return list.map((id) => ({ id, weight: 0 }));
}

/** `{ id: node }` for a compact comparison. */
function placedOn(plan: { assignments: { id: string | number; node: string }[] }): Record<string, string> {
  return Object.fromEntries(plan.assignments.map((a) => [String(a.id), a.node]));
}

describe('planAssignment, roundrobin', () => {
  const nodes = [load('a'), load('b'), load('c')];

  it('starts at the first node when there is no previous run', () => {
    const plan = planAssignment({ criterion: 'roundrobin', nodes, entities: ids(1, 2, 3, 4, 5), lastRoundRobinNode: null });
    expect(placedOn(plan)).toEqual({ 1: 'a', 2: 'b', 3: 'c', 4: 'a', 5: 'b' });
    expect(plan.lastRoundRobinNode).toBe('b');
    expect(plan.unplaced).toEqual([]);
  });

  it('continues the rotation across two runs', () => {
    const first = planAssignment({ criterion: 'roundrobin', nodes, entities: ids(1, 2), lastRoundRobinNode: null });
    expect(placedOn(first)).toEqual({ 1: 'a', 2: 'b' });
    const second = planAssignment({
      criterion: 'roundrobin',
      nodes: [load('a', 1), load('b', 1), load('c')],
      entities: ids(3, 4),
      lastRoundRobinNode: first.lastRoundRobinNode,
    });
    expect(placedOn(second)).toEqual({ 3: 'c', 4: 'a' });
    expect(second.lastRoundRobinNode).toBe('a');
  });

  it('starts at the first node when the last one no longer runs the service', () => {
    const plan = planAssignment({ criterion: 'roundrobin', nodes, entities: ids(1), lastRoundRobinNode: 'removed' });
    expect(placedOn(plan)).toEqual({ 1: 'a' });
  });

  it('skips nodes without room and keeps the stored node when nothing is placed', () => {
    const capped = [load('a', 1, 0, { maxEntities: 1 }), load('b'), load('c', 0, 0, { maxWeight: 5 })];
    const plan = planAssignment({
      criterion: 'roundrobin',
      nodes: capped,
      entities: [
        { id: 1, weight: 3 },
        { id: 2, weight: 3 },
        { id: 3, weight: 3 },
      ],
      lastRoundRobinNode: null,
    });
    // c takes the first 3 then is at 3 of 5: the next 3 would exceed its maxWeight.
    expect(placedOn(plan)).toEqual({ 1: 'b', 2: 'c', 3: 'b' });
    expect(plan.lastRoundRobinNode).toBe('b');
    const none = planAssignment({ criterion: 'roundrobin', nodes: [capped[0]!], entities: ids(9), lastRoundRobinNode: 'x' });
    expect(none.lastRoundRobinNode).toBe('x');
    expect(none.unplaced).toEqual([{ id: 9, reason: 'no node has room: a at maxEntities 1' }]);
  });
});

describe('planAssignment, least loaded', () => {
  it('entitynumber picks the node with the fewest entities, ties in config order', () => {
    const plan = planAssignment({
      criterion: 'entitynumber',
      nodes: [load('a', 3), load('b', 1), load('c', 1)],
      entities: ids(1, 2, 3, 4, 5),
      lastRoundRobinNode: 'a',
    });
    expect(plan.assignments.map((a) => a.node)).toEqual(['b', 'c', 'b', 'c', 'a']);
    // Only round robin moves the stored rotation.
    expect(plan.lastRoundRobinNode).toBe('a');
  });

  it('entityweight picks the node with the least total weight, ties in config order', () => {
    const plan = planAssignment({
      criterion: 'entityweight',
      nodes: [load('a', 0, 10), load('b', 5, 0), load('c', 0, 5)],
      entities: [
        { id: 1, weight: 4 },
        { id: 2, weight: 4 },
        { id: 3, weight: 3 },
        { id: 4, weight: 10 },
      ],
      lastRoundRobinNode: null,
    });
    // b: 0 -> 4 -> 8; c: 5 -> 8; then b and c tie at 8 and b comes first in config.
    expect(plan.assignments.map((a) => a.node)).toEqual(['b', 'b', 'c', 'b']);
  });

  it('passes over a least loaded node whose weight limit the entity would exceed', () => {
    const plan = planAssignment({
      criterion: 'entityweight',
      nodes: [load('a', 0, 0, { maxWeight: 5 }), load('b', 0, 3)],
      entities: [
        { id: 1, weight: 6 },
        { id: 2, weight: 2 },
      ],
      lastRoundRobinNode: null,
    });
    expect(placedOn(plan)).toEqual({ 1: 'b', 2: 'a' });
  });

  it('places what fits and says which limits stopped the rest', () => {
    const plan = planAssignment({
      criterion: 'entitynumber',
      nodes: [load('a', 0, 0, { maxEntities: 2 }), load('b', 0, 0, { maxEntities: 1 })],
      entities: ids(1, 2, 3, 4, 5),
      lastRoundRobinNode: null,
    });
    expect(placedOn(plan)).toEqual({ 1: 'a', 2: 'b', 3: 'a' });
    expect(plan.unplaced).toEqual([
      { id: 4, reason: 'no node has room: a at maxEntities 2, b at maxEntities 1' },
      { id: 5, reason: 'no node has room: a at maxEntities 2, b at maxEntities 1' },
    ]);
  });

  it('names the weight limit and still places a lighter entity after a heavy one was refused', () => {
    const plan = planAssignment({
      criterion: 'entitynumber',
      nodes: [load('a', 0, 0, { maxWeight: 10 }), load('b', 4, 0, { maxEntities: 4 })],
      entities: [
        { id: 1, weight: 8 },
        { id: 2, weight: 5 },
        { id: 3, weight: 2 },
      ],
      lastRoundRobinNode: null,
    });
    expect(placedOn(plan)).toEqual({ 1: 'a', 3: 'a' });
    expect(plan.unplaced).toEqual([{ id: 2, reason: 'no node has room for weight 5: a at maxWeight 10, b at maxEntities 4' }]);
  });

  it('reports an entity no node could take below its limit with the load reached', () => {
    const plan = planAssignment({
      criterion: 'entityweight',
      nodes: [load('a', 1, 95, { maxWeight: 100 })],
      entities: [{ id: 'x', weight: 10 }],
      lastRoundRobinNode: null,
    });
    expect(plan.unplaced).toEqual([{ id: 'x', reason: 'no node has room for weight 10: a at weight 95 of maxWeight 100' }]);
  });

  it('leaves every entity unplaced when no node runs the service', () => {
    for (const criterion of ['roundrobin', 'entitynumber', 'entityweight'] as const) {
      const plan = planAssignment({ criterion, nodes: [], entities: ids(1, 2), lastRoundRobinNode: null });
      expect(plan.assignments).toEqual([]);
      expect(plan.unplaced).toEqual([
        { id: 1, reason: 'no node runs this service' },
        { id: 2, reason: 'no node runs this service' },
      ]);
    }
  });

  it('does not change the loads it was given', () => {
    const nodes = [load('a'), load('b', 2, 7)];
    planAssignment({ criterion: 'entityweight', nodes, entities: [{ id: 1, weight: 3 }], lastRoundRobinNode: null });
    expect(nodes).toEqual([load('a'), load('b', 2, 7)]);
  });
});

/** The plain O(entities x nodes) statement of the rules, to check the fast one against. */
function reference(input: AssignmentInput): { placed: Record<string, string>; unplaced: (string | number)[]; last: string | null } {
  const loads = input.nodes.map((n) => ({ ...n }));
  const room = (n: NodeLoad, w: number) =>
    (n.maxEntities === undefined || n.entities + 1 <= n.maxEntities) && (n.maxWeight === undefined || n.weight + w <= n.maxWeight);
  const placed: Record<string, string> = {};
  const unplaced: (string | number)[] = [];
  let last = input.lastRoundRobinNode;
  const lastIndex = loads.findIndex((n) => n.name === last);
  let next = lastIndex < 0 ? 0 : lastIndex + 1;
  for (const entity of input.entities) {
    let chosen = -1;
    if (input.criterion === 'roundrobin') {
      for (let k = 0; k < loads.length && chosen < 0; k++) {
        const j = (next + k) % loads.length;
        if (room(loads[j]!, entity.weight)) chosen = j;
      }
      if (chosen >= 0) next = chosen + 1;
    } else {
      const key = (n: NodeLoad) => (input.criterion === 'entitynumber' ? n.entities : n.weight);
      loads.forEach((n, j) => {
        if (room(n, entity.weight) && (chosen < 0 || key(n) < key(loads[chosen]!))) chosen = j;
      });
    }
    if (chosen < 0) {
      unplaced.push(entity.id);
      continue;
    }
    loads[chosen]!.entities += 1;
    loads[chosen]!.weight += entity.weight;
    placed[String(entity.id)] = loads[chosen]!.name;
    if (input.criterion === 'roundrobin') last = loads[chosen]!.name;
  }
  return { placed, unplaced, last };
}

/** Deterministic pseudo-random numbers, so a failure can be replayed. */
function random(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1103515245 + 12345) % 2147483648;
    return state / 2147483648;
  };
}

describe('planAssignment against the plain statement of the rules', () => {
  for (const criterion of ['roundrobin', 'entitynumber', 'entityweight'] as const) {
    it(`${criterion}: same choices on random loads, limits and weights`, () => {
      for (let seed = 1; seed <= 40; seed++) {
        const rnd = random(seed);
        const nodes = Array.from({ length: 1 + Math.floor(rnd() * 8) }, (_, i) => {
          const caps: { maxEntities?: number; maxWeight?: number } = {};
          if (rnd() < 0.5) caps.maxEntities = Math.floor(rnd() * 60);
          if (rnd() < 0.5) caps.maxWeight = Math.floor(rnd() * 400);
          return load(`n${i}`, Math.floor(rnd() * 10), Math.floor(rnd() * 50), caps);
        });
        const entities = Array.from({ length: 300 }, (_, id) => ({ id, weight: Math.floor(rnd() * 20) }));
        const lastRoundRobinNode = rnd() < 0.3 ? null : `n${Math.floor(rnd() * 10)}`;
        const input = { criterion, nodes, entities, lastRoundRobinNode };
        const plan = planAssignment(input);
        const expected = reference(input);
        expect(placedOn(plan), `seed ${seed}`).toEqual(expected.placed);
        expect(
          plan.unplaced.map((u) => u.id),
          `seed ${seed}`,
        ).toEqual(expected.unplaced);
        expect(plan.lastRoundRobinNode, `seed ${seed}`).toBe(criterion === 'roundrobin' ? expected.last : lastRoundRobinNode);
      }
    });
  }
});

describe('excludeNode', () => {
  const nodes = [load('a'), load('b'), load('c')];

  it('keeps the rotation going at the node after the excluded one', () => {
    const rest = excludeNode(nodes, 'b', 'b');
    expect(rest.nodes.map((n) => n.name)).toEqual(['a', 'c']);
    const plan = planAssignment({
      criterion: 'roundrobin',
      nodes: rest.nodes,
      entities: ids(1),
      lastRoundRobinNode: rest.lastRoundRobinNode,
    });
    expect(placedOn(plan)).toEqual({ 1: 'c' });
    const wrapped = excludeNode(nodes, 'a', 'a');
    expect(wrapped.lastRoundRobinNode).toBe('c');
    const next = planAssignment({
      criterion: 'roundrobin',
      nodes: wrapped.nodes,
      entities: ids(1),
      lastRoundRobinNode: wrapped.lastRoundRobinNode,
    });
    expect(placedOn(next)).toEqual({ 1: 'b' });
  });

  it('leaves the stored node alone when another node is excluded', () => {
    expect(excludeNode(nodes, 'c', 'a')).toEqual({ nodes: [load('a'), load('b')], lastRoundRobinNode: 'a' });
    expect(excludeNode(nodes, 'zz', 'a')).toEqual({ nodes, lastRoundRobinNode: 'a' });
  });
});
