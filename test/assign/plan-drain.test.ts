import { describe, expect, it } from 'vitest';
import type { NodeLoad, PlacedEntity } from '../../src/assign/node-load.js';
import { planDrain } from '../../src/assign/plan-drain.js';

function load(name: string, entities = 0, weight = 0, caps: { maxEntities?: number; maxWeight?: number } = {}): NodeLoad {
  return { name, entities, weight, ...caps };
}

function on(node: string, ...weights: number[]): PlacedEntity[] {
  return weights.map((weight, i) => ({ id: i + 1, node, weight }));
}

describe('planDrain', () => {
  it('round robin goes on from where the rotation stood, never to the drained node', () => {
    const plan = planDrain({
      criterion: 'roundrobin',
      nodes: [load('a'), load('b', 3), load('c'), load('d')],
      drained: 'b',
      entities: on('b', 0, 0, 0),
      lastRoundRobinNode: 'b',
    });
    expect(plan.assignments).toEqual([
      { id: 1, node: 'c' },
      { id: 2, node: 'd' },
      { id: 3, node: 'a' },
    ]);
    expect(plan.lastRoundRobinNode).toBe('a');
  });

  it('entitynumber skips the drained node even when it looks least loaded', () => {
    const plan = planDrain({
      criterion: 'entitynumber',
      nodes: [load('a', 0), load('b', 5), load('c', 1)],
      drained: 'a',
      entities: on('a', 0, 0),
      lastRoundRobinNode: 'b',
    });
    expect(plan.assignments).toEqual([
      { id: 1, node: 'c' },
      { id: 2, node: 'c' },
    ]);
    expect(plan.lastRoundRobinNode).toBe('b');
  });

  it('entityweight places the heaviest first so the weight ends even', () => {
    const plan = planDrain({
      criterion: 'entityweight',
      nodes: [load('a'), load('b'), load('x', 3, 6)],
      drained: 'x',
      entities: on('x', 1, 2, 3),
      lastRoundRobinNode: null,
    });
    // 3 -> a, 2 -> b, then 1 -> b (2 < 3): 3 and 3.
    expect(plan.assignments).toEqual([
      { id: 3, node: 'a' },
      { id: 2, node: 'b' },
      { id: 1, node: 'b' },
    ]);
  });

  it('respects capacity and says why an entity stays', () => {
    const plan = planDrain({
      criterion: 'entitynumber',
      nodes: [load('a', 1, 0, { maxEntities: 2 }), load('b', 2)],
      drained: 'b',
      entities: on('b', 0, 0),
      lastRoundRobinNode: null,
    });
    expect(plan.assignments).toEqual([{ id: 1, node: 'a' }]);
    expect(plan.unplaced).toEqual([{ id: 2, reason: 'no node has room: a at maxEntities 2' }]);
  });

  it('needs another node running the service', () => {
    const plan = planDrain({
      criterion: 'roundrobin',
      nodes: [load('a', 2)],
      drained: 'a',
      entities: on('a', 0, 0),
      lastRoundRobinNode: 'a',
    });
    expect(plan.assignments).toEqual([]);
    expect(plan.unplaced).toEqual([
      { id: 1, reason: 'no node other than a runs this service' },
      { id: 2, reason: 'no node other than a runs this service' },
    ]);
    expect(plan.lastRoundRobinNode).toBe('a');
  });

  it('drains a node already gone from the configuration onto all the others', () => {
    const plan = planDrain({
      criterion: 'roundrobin',
      nodes: [load('a'), load('b')],
      drained: 'old',
      entities: on('old', 0, 0, 0),
      lastRoundRobinNode: 'a',
    });
    expect(plan.assignments.map((a) => a.node)).toEqual(['b', 'a', 'b']);
  });
});
