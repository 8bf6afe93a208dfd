import { describe, expect, it } from 'vitest';
import type { NodeLoad, PlacedEntity } from '../../src/assign/node-load.js';
import { planRebalance, type RebalancePlan } from '../../src/assign/plan-rebalance.js';

function load(name: string, caps: { maxEntities?: number; maxWeight?: number } = {}): NodeLoad {
  // planRebalance counts the loads from the entities; these numbers must not matter.
  return { name, entities: 999, weight: 999, ...caps };
}

/** Entities with ids from `firstId` on, one per weight. */
function on(node: string, firstId: number, ...weights: number[]): PlacedEntity[] {
  return weights.map((weight, i) => ({ id: firstId + i, node, weight }));
}

function many(node: string, firstId: number, count: number): PlacedEntity[] {
  return on(node, firstId, ...Array<number>(count).fill(0));
}

/** Where each entity ends, applying the moves. */
function after(entities: PlacedEntity[], plan: RebalancePlan): PlacedEntity[] {
  const to = new Map(plan.moves.map((m) => [m.id, m.to]));
  return entities.map((e) => ({ ...e, node: to.get(e.id) ?? e.node }));
}

function counts(nodes: NodeLoad[], entities: PlacedEntity[]): number[] {
  return nodes.map((n) => entities.filter((e) => e.node === n.name).length);
}

function weights(nodes: NodeLoad[], entities: PlacedEntity[]): number[] {
  return nodes.map((n) => entities.filter((e) => e.node === n.name).reduce((sum, e) => sum + e.weight, 0));
}

describe('planRebalance by entity count', () => {
  it('9/0/0 becomes 3/3/3 in exactly 6 moves, from the most loaded to the least loaded', () => {
    const nodes = [load('a'), load('b'), load('c')];
    const entities = many('a', 1, 9);
    const plan = planRebalance({ criterion: 'entitynumber', nodes, entities });
    expect(plan.moves).toEqual([
      { id: 9, from: 'a', to: 'b' },
      { id: 8, from: 'a', to: 'c' },
      { id: 7, from: 'a', to: 'b' },
      { id: 6, from: 'a', to: 'c' },
      { id: 5, from: 'a', to: 'b' },
      { id: 4, from: 'a', to: 'c' },
    ]);
    expect(plan.unmoved).toEqual([]);
    expect(counts(nodes, after(entities, plan))).toEqual([3, 3, 3]);
  });

  it('a node added to 10/10 gives 7/7/6 in 6 moves, 3 from each', () => {
    const nodes = [load('a'), load('b'), load('c')];
    const entities = [...many('a', 1, 10), ...many('b', 11, 10)];
    const plan = planRebalance({ criterion: 'roundrobin', nodes, entities });
    expect(plan.moves).toEqual([
      { id: 10, from: 'a', to: 'c' },
      { id: 20, from: 'b', to: 'c' },
      { id: 9, from: 'a', to: 'c' },
      { id: 19, from: 'b', to: 'c' },
      { id: 8, from: 'a', to: 'c' },
      { id: 18, from: 'b', to: 'c' },
    ]);
    expect(counts(nodes, after(entities, plan))).toEqual([7, 7, 6]);
  });

  it('leaves the extra entities where they are: the nodes holding the most keep one more', () => {
    const nodes = [load('a'), load('b'), load('c'), load('d'), load('e')];
    const entities = [...many('a', 1, 6), ...many('b', 11, 5), ...many('c', 21, 1)];
    const plan = planRebalance({ criterion: 'entitynumber', nodes, entities });
    expect(plan.moves).toHaveLength(5);
    expect(counts(nodes, after(entities, plan))).toEqual([3, 3, 2, 2, 2]);
  });

  it('moves nothing when the counts are already within one', () => {
    const nodes = [load('a'), load('b'), load('c')];
    expect(
      planRebalance({ criterion: 'entitynumber', nodes, entities: [...many('a', 1, 3), ...many('b', 11, 4), ...many('c', 21, 3)] }).moves,
    ).toEqual([]);
    expect(planRebalance({ criterion: 'entitynumber', nodes, entities: [] })).toEqual({ moves: [], unmoved: [] });
  });

  it('moves every entity off a node no longer in the configuration', () => {
    const nodes = [load('a'), load('b')];
    const entities = [...many('a', 1, 5), ...many('gone', 11, 1)];
    const plan = planRebalance({ criterion: 'entitynumber', nodes, entities });
    expect(plan.moves).toEqual([
      { id: 11, from: 'gone', to: 'b' },
      { id: 5, from: 'a', to: 'b' },
      { id: 4, from: 'a', to: 'b' },
    ]);
    expect(counts(nodes, after(entities, plan))).toEqual([3, 3]);
  });

  it('keeps within maxEntities and evens out the rest', () => {
    const nodes = [load('a'), load('b', { maxEntities: 1 }), load('c')];
    const entities = many('a', 1, 6);
    const plan = planRebalance({ criterion: 'entitynumber', nodes, entities });
    expect(plan.moves).toEqual([
      { id: 6, from: 'a', to: 'b' },
      { id: 5, from: 'a', to: 'c' },
      { id: 4, from: 'a', to: 'c' },
    ]);
    expect(counts(nodes, after(entities, plan))).toEqual([3, 1, 2]);
  });

  it('moves entities off a node over a lowered maxEntities', () => {
    const nodes = [load('a', { maxEntities: 2 }), load('b')];
    const entities = many('a', 1, 5);
    const plan = planRebalance({ criterion: 'entitynumber', nodes, entities });
    expect(counts(nodes, after(entities, plan))).toEqual([2, 3]);
    expect(plan.moves).toHaveLength(3);
  });

  it('chooses an entity that fits the destination maxWeight', () => {
    const nodes = [load('a'), load('b', { maxWeight: 5 })];
    const entities = on('a', 1, 1, 1, 1, 10);
    const plan = planRebalance({ criterion: 'entitynumber', nodes, entities });
    expect(plan.moves).toEqual([
      { id: 3, from: 'a', to: 'b' },
      { id: 2, from: 'a', to: 'b' },
    ]);
  });

  it('says why an entity on a removed node could not be moved', () => {
    const full = planRebalance({
      criterion: 'entitynumber',
      nodes: [load('a', { maxEntities: 1 })],
      entities: [...many('a', 1, 1), ...many('gone', 11, 1)],
    });
    expect(full).toEqual({ moves: [], unmoved: [{ id: 11, from: 'gone', reason: 'no node has room: a at maxEntities 1' }] });
    const heavy = planRebalance({ criterion: 'roundrobin', nodes: [load('a', { maxWeight: 5 })], entities: on('gone', 1, 10) });
    expect(heavy.unmoved).toEqual([{ id: 1, from: 'gone', reason: 'no node has room for weight 10: a at weight 0 of maxWeight 5' }]);
    const none = planRebalance({ criterion: 'entitynumber', nodes: [], entities: many('gone', 1, 1) });
    expect(none.unmoved).toEqual([{ id: 1, from: 'gone', reason: 'no node runs this service' }]);
  });

  it('uses the fewest moves possible on random loads', () => {
    let state = 7;
    const rnd = (n: number) => {
      state = (state * 1103515245 + 12345) % 2147483648;
      return Math.floor((state / 2147483648) * n);
    };
    for (let round = 0; round < 60; round++) {
      const nodes = Array.from({ length: 1 + rnd(8) }, (_, i) => load(`n${i}`));
      const entities: PlacedEntity[] = [];
      for (const node of [...nodes.map((n) => n.name), 'gone1', 'gone2']) {
        const count = node.startsWith('gone') ? rnd(3) : rnd(40);
        for (let k = 0; k < count; k++) entities.push({ id: entities.length, node, weight: rnd(5) });
      }
      const plan = planRebalance({ criterion: 'entitynumber', nodes, entities });
      // Lower bound: every stranded entity moves, and each node gives up what it holds above its share,
      // the larger shares going to the nodes that hold the most.
      const total = entities.length;
      const share = Math.floor(total / nodes.length);
      const sorted = counts(nodes, entities).sort((x, y) => y - x);
      const minimum =
        entities.filter((e) => e.node.startsWith('gone')).length +
        sorted.reduce((sum, c, i) => sum + Math.max(0, c - (share + (i < total % nodes.length ? 1 : 0))), 0);
      expect(plan.moves, `round ${round}`).toHaveLength(minimum);
      expect(new Set(plan.moves.map((m) => m.id)).size).toBe(plan.moves.length);
      const final = counts(nodes, after(entities, plan));
      expect(Math.max(...final) - Math.min(...final), `round ${round}`).toBeLessThanOrEqual(1);
      expect(final.reduce((a, b) => a + b, 0)).toBe(total);
      expect(plan.unmoved).toEqual([]);
    }
  });
});

describe('planRebalance by weight (heuristic)', () => {
  it('moves the entity closest to half the gap, heaviest node to lightest', () => {
    const nodes = [load('a'), load('b'), load('c')];
    const entities = on('a', 1, 8, 4, 2, 1, 1);
    const plan = planRebalance({ criterion: 'entityweight', nodes, entities });
    expect(plan.moves).toEqual([
      { id: 1, from: 'a', to: 'b' },
      { id: 2, from: 'a', to: 'c' },
    ]);
    expect(weights(nodes, after(entities, plan))).toEqual([4, 8, 4]);
  });

  it('a node added to two equal nodes takes a third of the weight in two moves', () => {
    const nodes = [load('a'), load('b'), load('c')];
    const entities = [...on('a', 1, 5, 5, 5, 5), ...on('b', 11, 5, 5, 5, 5)];
    const plan = planRebalance({ criterion: 'entityweight', nodes, entities });
    expect(plan.moves).toEqual([
      { id: 1, from: 'a', to: 'c' },
      { id: 11, from: 'b', to: 'c' },
    ]);
    expect(weights(nodes, after(entities, plan))).toEqual([15, 15, 10]);
  });

  it('looks past a heaviest node that has nothing useful to give', () => {
    const nodes = [load('a'), load('b'), load('c')];
    const entities = [...on('a', 1, 10), ...on('b', 11, 5, 5)];
    const plan = planRebalance({ criterion: 'entityweight', nodes, entities });
    expect(plan.moves).toEqual([{ id: 11, from: 'b', to: 'c' }]);
    expect(weights(nodes, after(entities, plan))).toEqual([10, 5, 5]);
  });

  it('stays within maxWeight and maxEntities', () => {
    const entities = [...on('a', 1, 10), ...on('b', 11, 5, 5)];
    expect(
      planRebalance({ criterion: 'entityweight', nodes: [load('a'), load('b'), load('c', { maxWeight: 4 })], entities }).moves,
    ).toEqual([]);
    expect(
      planRebalance({ criterion: 'entityweight', nodes: [load('a'), load('b'), load('c', { maxEntities: 0 })], entities }).moves,
    ).toEqual([]);
  });

  it('places the entities of a removed node heaviest first, then evens out', () => {
    const nodes = [load('a'), load('b')];
    const entities = on('gone', 1, 3, 5);
    const plan = planRebalance({ criterion: 'entityweight', nodes, entities });
    expect(plan.moves).toEqual([
      { id: 2, from: 'gone', to: 'a' },
      { id: 1, from: 'gone', to: 'b' },
    ]);
    const mixed = [...on('a', 1, 6, 6), ...on('gone', 11, 4)];
    const second = planRebalance({ criterion: 'entityweight', nodes, entities: mixed });
    expect(second.moves).toEqual([
      { id: 11, from: 'gone', to: 'b' },
      { id: 1, from: 'a', to: 'b' },
    ]);
    expect(weights(nodes, after(mixed, second))).toEqual([6, 10]);
  });

  it('never widens the spread, keeps limits, and empties removed nodes on random loads', () => {
    let state = 11;
    const rnd = (n: number) => {
      state = (state * 1103515245 + 12345) % 2147483648;
      return Math.floor((state / 2147483648) * n);
    };
    for (let round = 0; round < 60; round++) {
      const nodes = Array.from({ length: 2 + rnd(6) }, (_, i) => load(`n${i}`, rnd(3) === 0 ? { maxWeight: 600 } : {}));
      const entities: PlacedEntity[] = [];
      for (const node of [...nodes.map((n) => n.name), 'gone']) {
        const count = node === 'gone' ? rnd(10) : rnd(30);
        for (let k = 0; k < count; k++) entities.push({ id: `e${entities.length}`, node, weight: rnd(40) });
      }
      // Keep the starting point within the limits, which the plan must then keep.
      for (const n of nodes) if (weights([n], entities)[0]! > 600) delete n.maxWeight;
      const before = weights(
        nodes,
        entities.filter((e) => e.node !== 'gone'),
      );
      const plan = planRebalance({ criterion: 'entityweight', nodes, entities });
      const final = after(entities, plan);
      const w = weights(nodes, final);
      expect(plan.moves.every((m) => m.from !== m.to)).toBe(true);
      expect(new Set(plan.moves.map((m) => m.id)).size).toBe(plan.moves.length);
      nodes.forEach((n, i) => expect(w[i]!).toBeLessThanOrEqual(n.maxWeight ?? Infinity));
      const unmoved = new Set(plan.unmoved.map((u) => u.id));
      expect(final.filter((e) => e.node === 'gone' && !unmoved.has(e.id))).toEqual([]);
      if (unmoved.size === 0 && !entities.some((e) => e.node === 'gone')) {
        expect(Math.max(...w) - Math.min(...w), `round ${round}`).toBeLessThanOrEqual(Math.max(...before) - Math.min(...before));
      }
    }
  });

  it('gives the same plan for the same input', () => {
    const nodes = [load('a'), load('b'), load('c'), load('d')];
    const entities = [...on('a', 1, 7, 3, 9, 2, 2, 8), ...on('b', 11, 1, 1, 6), ...on('gone', 21, 4, 4)];
    expect(planRebalance({ criterion: 'entityweight', nodes, entities })).toEqual(
      planRebalance({ criterion: 'entityweight', nodes, entities }),
    );
  });
});
