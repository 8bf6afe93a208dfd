import { describe, expect, it } from 'vitest';
import type { NodeLoad } from '../../src/assign/node-load.js';
import { planReassign } from '../../src/assign/plan-reassign.js';

function load(name: string, entities = 0, weight = 0, caps: { maxEntities?: number; maxWeight?: number } = {}): NodeLoad {
  return { name, entities, weight, ...caps };
}

const nodes = [load('a', 4, 40), load('b', 1, 10, { maxEntities: 1 }), load('c', 2, 95, { maxWeight: 100 }), load('d', 3, 30)];

describe('planReassign with --to', () => {
  it('moves to the node asked for, leaving the rotation alone', () => {
    expect(
      planReassign({ criterion: 'roundrobin', nodes, entity: { id: 7, node: 'a', weight: 5 }, to: 'd', lastRoundRobinNode: 'b' }),
    ).toEqual({
      ok: true,
      node: 'd',
      lastRoundRobinNode: 'b',
    });
  });

  it('refuses the current node, a node not running the service, and a full node', () => {
    const entity = { id: 7, node: 'a', weight: 10 };
    const base = { criterion: 'entitynumber' as const, nodes, entity, lastRoundRobinNode: null };
    expect(planReassign({ ...base, to: 'a' })).toEqual({ ok: false, reason: 'entity 7 is already on a', refusal: 'request' });
    expect(planReassign({ ...base, to: 'zz' })).toEqual({ ok: false, reason: 'node zz does not run this service', refusal: 'request' });
    expect(planReassign({ ...base, to: 'b' })).toEqual({
      ok: false,
      reason: 'b has no room for weight 10: at maxEntities 1',
      refusal: 'capacity',
    });
    expect(planReassign({ ...base, to: 'c' })).toEqual({
      ok: false,
      reason: 'c has no room for weight 10: at weight 95 of maxWeight 100',
      refusal: 'capacity',
    });
    expect(planReassign({ ...base, entity: { ...entity, weight: 5 }, to: 'c' })).toEqual({ ok: true, node: 'c', lastRoundRobinNode: null });
  });
});

describe('planReassign by the criterion', () => {
  it('round robin skips the current node and full nodes, and moves the rotation', () => {
    const plan = planReassign({ criterion: 'roundrobin', nodes, entity: { id: 7, node: 'c', weight: 0 }, lastRoundRobinNode: 'a' });
    // After a comes b (full), then c (current): d.
    expect(plan).toEqual({ ok: true, node: 'd', lastRoundRobinNode: 'd' });
  });

  it('round robin goes on after the current node when it was the last one used', () => {
    const plan = planReassign({ criterion: 'roundrobin', nodes, entity: { id: 7, node: 'd', weight: 0 }, lastRoundRobinNode: 'd' });
    expect(plan).toEqual({ ok: true, node: 'a', lastRoundRobinNode: 'a' });
  });

  it('entitynumber picks the least loaded node other than the current one', () => {
    // d holds 3 but is the entity's node; c holds 2 but refuses the weight; a holds 4.
    const plan = planReassign({ criterion: 'entitynumber', nodes, entity: { id: 7, node: 'd', weight: 6 }, lastRoundRobinNode: 'b' });
    expect(plan).toEqual({ ok: true, node: 'a', lastRoundRobinNode: 'b' });
  });

  it('entityweight picks the lightest node other than the current one', () => {
    const plan = planReassign({ criterion: 'entityweight', nodes, entity: { id: 7, node: 'a', weight: 1 }, lastRoundRobinNode: null });
    expect(plan).toEqual({ ok: true, node: 'd', lastRoundRobinNode: null });
  });

  it('places an entity that has no node yet among all of them', () => {
    const plan = planReassign({
      criterion: 'entitynumber',
      nodes: [load('a', 1), load('b', 0)],
      entity: { id: 7, node: null, weight: 0 },
      lastRoundRobinNode: null,
    });
    expect(plan).toEqual({ ok: true, node: 'b', lastRoundRobinNode: null });
  });

  it('explains when no other node can take it', () => {
    expect(
      planReassign({ criterion: 'roundrobin', nodes: [load('a', 1)], entity: { id: 7, node: 'a', weight: 0 }, lastRoundRobinNode: null }),
    ).toEqual({
      ok: false,
      reason: 'no node other than a runs this service',
      refusal: 'capacity',
    });
    expect(planReassign({ criterion: 'roundrobin', nodes: [], entity: { id: 7, node: 'a', weight: 0 }, lastRoundRobinNode: null })).toEqual(
      {
        ok: false,
        reason: 'no node runs this service',
        refusal: 'capacity',
      },
    );
    expect(
      planReassign({
        criterion: 'entitynumber',
        nodes: [load('a', 1), load('b', 1, 0, { maxEntities: 1 })],
        entity: { id: 7, node: 'a', weight: 0 },
        lastRoundRobinNode: null,
      }),
    ).toEqual({ ok: false, reason: 'no node has room: b at maxEntities 1', refusal: 'capacity' });
  });
});
