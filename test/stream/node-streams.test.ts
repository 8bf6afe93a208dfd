import { describe, expect, it } from 'vitest';
import type { Row } from '../../src/config/service-config.js';
import { NODE_ALIAS, SORT_ALIAS } from '../../src/db/record-source.js';
import { heldRowBytes, runNodeStreams } from '../../src/stream/node-streams.js';

/** `count` records in id order, dealt round-robin over `nodes` nodes: every node's records are scattered over the pass. */
function records(count: number, nodes: number): Row[] {
  return Array.from({ length: count }, (_, i) => ({ id: i + 1, [NODE_ALIAS]: `n${(i % nodes) + 1}`, [SORT_ALIAS]: i + 1 }));
}

describe('runNodeStreams', () => {
  it('holds at most maxHeldRows rows for all nodes together, however many nodes, and keeps each node in order', async () => {
    const all = records(20_000, 500);
    const batchSize = 100;
    const maxHeldRows = 2_000;
    let read = 0;
    let done = 0;
    let mostHeld = 0;
    const received = new Map<string, number[]>();
    await runNodeStreams({
      nodes: Array.from({ length: 500 }, (_, i) => `n${i + 1}`),
      batchSize,
      maxHeldRows,
      idOf: (row) => row.id,
      read: async (after) => {
        const from = after === null ? 0 : Number(after.id);
        const rows = all.slice(from, from + batchSize);
        read += rows.length;
        mostHeld = Math.max(mostHeld, read - done);
        return rows;
      },
      send: async (node, batch) => {
        await new Promise((resolve) => setTimeout(resolve, 1));
        received.set(node, [...(received.get(node) ?? []), ...batch.map((r) => Number(r.id))]);
        done += batch.length;
        return true;
      },
    });
    // Before the bound every node held a partial batch of its own: 500 nodes x 40 records, the whole pass.
    expect(mostHeld).toBeLessThanOrEqual(maxHeldRows);
    expect(done).toBe(20_000);
    for (const [node, ids] of received) {
      expect(ids, node).toEqual(all.filter((r) => r[NODE_ALIAS] === node).map((r) => r.id));
    }
  });

  it('holds wide records by their bytes: never more than maxHeldBytes and a read, and each node in order', async () => {
    const body = 'x'.repeat(10_000);
    const all = records(3_000, 300).map((row): Row => ({ ...row, body }));
    const batchSize = 10;
    const maxHeldBytes = 200_000;
    let heldBytes = 0;
    let mostHeldBytes = 0;
    const received = new Map<string, number[]>();
    await runNodeStreams({
      nodes: Array.from({ length: 300 }, (_, i) => `n${i + 1}`),
      batchSize,
      maxHeldBytes,
      sizeOf: heldRowBytes,
      idOf: (row) => row.id,
      read: async (after) => {
        const from = after === null ? 0 : Number(after.id);
        const rows = all.slice(from, from + batchSize);
        heldBytes += rows.reduce((n, row) => n + heldRowBytes(row), 0);
        mostHeldBytes = Math.max(mostHeldBytes, heldBytes);
        return rows;
      },
      send: async (node, batch) => {
        await new Promise((resolve) => setTimeout(resolve, 1));
        received.set(node, [...(received.get(node) ?? []), ...batch.map((r) => Number(r.id))]);
        heldBytes -= batch.reduce((n, row) => n + heldRowBytes(row), 0);
        return true;
      },
    });
    // By rows alone (HELD_BATCHES batches) the whole pass, 30 MB, would have been held.
    expect(mostHeldBytes).toBeLessThanOrEqual(maxHeldBytes + batchSize * heldRowBytes(all[0]!));
    expect([...received.values()].flat().length).toBe(3_000);
    for (const [node, ids] of received) {
      expect(ids, node).toEqual(all.filter((r) => r[NODE_ALIAS] === node).map((r) => r.id));
    }
  });

  it('holds and sends what `hold` makes of each row kept, and still deals and pages by the row read', async () => {
    const all = records(1_000, 7);
    const sent: Row[] = [];
    await runNodeStreams({
      nodes: Array.from({ length: 7 }, (_, i) => `n${i + 1}`),
      batchSize: 50,
      idOf: (row) => row.id,
      hold: (row) => ({ id: row.id }),
      read: async (after) => {
        const from = after === null ? 0 : Number(after.id);
        return all.slice(from, from + 50);
      },
      send: async (_node, batch) => {
        sent.push(...batch);
        return true;
      },
    });
    expect(sent).toHaveLength(1_000);
    expect(sent.every((row) => Object.keys(row).join() === 'id')).toBe(true);
  });

  it('counts a row by its strings and columns', () => {
    expect(heldRowBytes({ id: 1, text: 'x'.repeat(1_000) })).toBe(64 + 2 * 16 + 1_000);
    expect(heldRowBytes({ bytes: Buffer.alloc(500) })).toBe(64 + 16 + 500);
  });

  it('sends a node only its own records, and none of nodes it does not serve or rows it is not to keep', async () => {
    // What a read returns past LISTED_NODES names: the records of every node, served or not (and of none).
    const all = records(3_000, 100).map((row, i) => (i % 97 === 0 ? { ...row, [NODE_ALIAS]: null } : row));
    const served = Array.from({ length: 80 }, (_, i) => `n${i + 1}`);
    const received = new Map<string, number[]>();
    await runNodeStreams({
      nodes: served,
      batchSize: 50,
      idOf: (row) => row.id,
      read: async (after) => {
        const from = after === null ? 0 : Number(after.id);
        return all.slice(from, from + 50);
      },
      keep: (_node, row) => Number(row.id) % 7 !== 3,
      send: async (node, batch) => {
        received.set(node, [...(received.get(node) ?? []), ...batch.map((r) => Number(r.id))]);
        return true;
      },
    });
    expect([...received.keys()].sort()).toEqual([...served].sort());
    for (const node of served) {
      const expected = all.filter((r) => r[NODE_ALIAS] === node && Number(r.id) % 7 !== 3).map((r) => r.id);
      expect(received.get(node), node).toEqual(expected);
    }
  });
});
