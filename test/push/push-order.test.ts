import { describe, expect, it } from 'vitest';
import type { NodeConfig } from '../../src/config/node-config.js';
import type { PushContext, Row } from '../../src/config/service-config.js';
import { pullRecords } from '../../src/pull/pull-records.js';
import { pushRecords } from '../../src/push/push-records.js';
import {
  idsOnNode,
  insertAccounts,
  insertRecords,
  mesh,
  meshConfig,
  migrateAndAssign,
  range,
  readFlags,
  readNodeStore,
  readRecords,
  scrambledRecords,
  SERVICE,
  waitUntil,
  writeMeshConfig,
} from '../helpers/mesh-fixture.js';
import { useMeshSuite } from '../helpers/mesh-suite.js';
import { DIALECTS } from '../helpers/test-databases.js';

const { newTest, tempDir } = useMeshSuite({ nodes: 3, tempPrefix: 'workmesh-push-' });

for (const dialect of DIALECTS) {
  describe.skipIf(!dialect.available)(`push order and delivery (${dialect.name})`, () => {
    it("gives every node exactly its entities' records in (sort, id) order, across batches and across runs", async () => {
      const t = await newTest(dialect.name, 3);
      const config = meshConfig({ protocol: t.protocol, nodes: t.nodes, batchSize: 7, pull: false });
      await insertAccounts(t.database, range(1, 9));
      await insertRecords(t.database, scrambledRecords({ from: 1, to: 180, accounts: 9 }));
      await migrateAndAssign(t.database, config);

      // Run 1 is stopped part-way: aborted when node1 takes its third batch.
      const stop = new AbortController();
      t.proxies[0]!.fault = (request) => {
        if (request.endpoint === 'push' && t.proxies[0]!.of('push').length >= 3) stop.abort();
        return undefined;
      };
      const first = await pushRecords(t.database, config, { signal: stop.signal });
      t.proxies[0]!.fault = undefined;
      expect(first.failed).toBe(0);
      expect(first.pushed).toBeGreaterThanOrEqual(21);
      expect(first.pushed).toBeLessThan(180);

      // Records created after run 1, all later in sort order than the first 180.
      await insertRecords(t.database, scrambledRecords({ from: 181, to: 240, accounts: 9, offsetMs: 100_000 }));
      const second = await pushRecords(t.database, config);
      expect(second.failed).toBe(0);
      expect(first.pushed + second.pushed).toBe(240);

      const records = await readRecords(t.database);
      for (const [i, proxy] of t.proxies.entries()) {
        const expected = idsOnNode(records, `node${i + 1}`);
        expect(expected).toHaveLength(80);
        // The seed is meaningful only if (sort, id) order is not id order.
        expect(expected).not.toEqual([...expected].sort((a, b) => a - b));
        // Exactly its entities' records, each once, in (sort, id) order over both runs.
        expect(proxy.pushedIds()).toEqual(expected);
        const batches = proxy.forwardedPushes();
        expect(batches.length).toBeGreaterThanOrEqual(Math.ceil(80 / 7));
        for (const batch of batches) expect(batch.ids.length).toBeLessThanOrEqual(7);
        // The node process holds them in the same order.
        expect(readNodeStore(t.backends[i]!.dataFile, t.protocol).map((r) => r.id)).toEqual(expected);
      }
      const flags = await readFlags(t.database, t.protocol, { pull: false });
      expect([...flags.values()].filter((f) => f.pushSuccess !== true || f.pushAttempts !== 1 || f.pushError !== null)).toEqual([]);
    });

    it('has an exactly-once effect on an idempotent node after a lost answer and a second push', async () => {
      const t = await newTest(dialect.name, 2);
      const config = meshConfig({ protocol: t.protocol, nodes: t.nodes, batchSize: 5 });
      await insertAccounts(t.database, range(1, 4));
      await insertRecords(t.database, scrambledRecords({ from: 1, to: 60, accounts: 4 }));
      await migrateAndAssign(t.database, config);
      const records = await readRecords(t.database);
      const onNode1 = idsOnNode(records, 'node1');
      expect(onNode1).toHaveLength(30);

      // node1 stores its third batch, then the connection drops before the answer.
      let pushes = 0;
      t.proxies[0]!.fault = (request) => (request.endpoint === 'push' && ++pushes === 3 ? { kind: 'lose-answer' } : undefined);
      const first = await pushRecords(t.database, config);
      t.proxies[0]!.fault = undefined;
      const node1 = first.nodes.find((n) => n.node === 'node1')!;
      const node2 = first.nodes.find((n) => n.node === 'node2')!;
      // A lost answer is the node's failure: no flag written, no attempt counted.
      expect(node1).toMatchObject({ pushed: 10, failed: 0 });
      expect(node1.error).toMatch(/\S/);
      expect(node1.unavailable).toBe(node1.error);
      expect(node2).toMatchObject({ pushed: 30, failed: 0 });
      expect(node2.error).toBeUndefined();

      const lost = onNode1.slice(10, 15);
      expect(t.proxies[0]!.forwardedPushes()[2]!.ids.map(Number)).toEqual(lost);
      // The node did store the batch whose answer was lost.
      expect(readNodeStore(t.backends[0]!.dataFile, t.protocol).map((r) => r.id)).toEqual(onNode1.slice(0, 15));
      let flags = await readFlags(t.database, t.protocol);
      for (const id of lost) expect(flags.get(id)).toMatchObject({ pushSuccess: null, pushError: null, pushAttempts: 0 });
      // The stream stopped at the failed batch: nothing after it was tried.
      for (const id of onNode1.slice(15)) expect(flags.get(id)).toMatchObject({ pushSuccess: null, pushError: null, pushAttempts: 0 });

      const second = await pushRecords(t.database, config);
      expect(second).toMatchObject({ pushed: 20, failed: 0 });
      const requestsBefore = t.proxies.map((p) => p.of('push').length);
      const third = await pushRecords(t.database, config);
      expect(third).toMatchObject({ pushed: 0, failed: 0 });
      expect(t.proxies.map((p) => p.of('push').length)).toEqual(requestsBefore);

      // Sent twice on the wire: the unconfirmed batch only, right where the first run stopped.
      expect(t.proxies[0]!.pushedIds()).toEqual([...onNode1.slice(0, 15), ...lost, ...onNode1.slice(15)]);
      expect(t.proxies[1]!.pushedIds()).toEqual(idsOnNode(records, 'node2'));

      // Held and processed once: one row per record in the node's store, in (sort, id) order.
      for (const [i, backend] of t.backends.entries()) {
        await waitUntil(() => readNodeStore(backend.dataFile, t.protocol).every((r) => r.done), `node${i + 1} to process`);
        const stored = readNodeStore(backend.dataFile, t.protocol);
        expect(stored.map((r) => r.id)).toEqual(idsOnNode(records, `node${i + 1}`));
      }
      const pulled = await pullRecords(t.database, config);
      expect(pulled).toMatchObject({ pulled: 60, failed: 0 });
      flags = await readFlags(t.database, t.protocol);
      for (const [i, backend] of t.backends.entries()) {
        for (const stored of readNodeStore(backend.dataFile, t.protocol)) {
          expect(flags.get(stored.id)).toMatchObject({ pushSuccess: true, pullSuccess: true, resultHash: stored.result!.hash });
        }
        expect(idsOnNode(records, `node${i + 1}`).every((id) => flags.get(id)!.pushAttempts === 1)).toBe(true);
      }
    });

    it("reassign --repush sends all the entity's records to the new node from the beginning; without it only new records go there", async () => {
      const t = await newTest(dialect.name, 2);
      const spec = { protocol: t.protocol, nodes: t.nodes, batchSize: 4 };
      const config = meshConfig(spec);
      const configArgs = writeMeshConfig(tempDir(), spec);
      await insertAccounts(t.database, range(1, 6));
      await insertRecords(t.database, scrambledRecords({ from: 1, to: 60, accounts: 6 }));
      await migrateAndAssign(t.database, config);
      expect(await pushRecords(t.database, config)).toMatchObject({ pushed: 60, failed: 0 });
      await waitUntil(() => t.backends.every((b) => readNodeStore(b.dataFile, t.protocol).every((r) => r.done)), 'nodes to process');
      expect(await pullRecords(t.database, config)).toMatchObject({ pulled: 60, failed: 0 });

      let records = await readRecords(t.database);
      const [moved, kept] = [...new Set([...records.values()].filter((r) => r.node === 'node1').map((r) => r.account))].sort(
        (a, b) => a - b,
      );
      expect(kept).toBeDefined();
      const movedIds = [...records.values()]
        .filter((r) => r.account === moved)
        .sort((a, b) => a.rank - b.rank)
        .map((r) => r.id);
      expect(movedIds).toHaveLength(10);

      const repush = await mesh([
        'reassign',
        '--service',
        SERVICE,
        '--entity',
        String(moved),
        '--to',
        'node2',
        '--repush',
        '--json',
        '--db',
        t.url,
        ...configArgs,
      ]);
      expect(repush.stderr).toBe('');
      expect(repush.code).toBe(0);
      expect(JSON.parse(repush.stdout)).toMatchObject({ service: SERVICE, entity: moved, from: 'node1', to: 'node2', repushed: true });
      let flags = await readFlags(t.database, t.protocol);
      for (const id of movedIds)
        expect(flags.get(id)).toMatchObject({ pushSuccess: null, pushAttempts: 0, pullSuccess: null, pullError: null });

      let marks = t.proxies.map((p) => p.forwardedPushes().length);
      expect(await pushRecords(t.database, config)).toMatchObject({ pushed: 10, failed: 0 });
      expect(t.proxies[0]!.forwardedPushes().slice(marks[0])).toEqual([]);
      // The new node gets every record of the entity, oldest first, although it already took later records of its own.
      expect(
        t.proxies[1]!.forwardedPushes()
          .slice(marks[1])
          .flatMap((r) => r.ids.map(Number)),
      ).toEqual(movedIds);
      const node2Store = readNodeStore(t.backends[1]!.dataFile, t.protocol).map((r) => r.id);
      expect(node2Store.slice(-10)).toEqual(movedIds);

      // Records of the entity created before its move go to node1 and are not pulled yet.
      await insertRecords(t.database, scrambledRecords({ from: 61, to: 84, accounts: 6, offsetMs: 100_000 }));
      expect(await pushRecords(t.database, config)).toMatchObject({ pushed: 24, failed: 0 });
      records = await readRecords(t.database);
      const keptBefore = [...records.values()].filter((r) => r.account === kept && r.id > 60).map((r) => r.id);
      expect(keptBefore).toHaveLength(4);
      expect(t.proxies[0]!.pushedIds()).toEqual(expect.arrayContaining(keptBefore));

      // Without --repush: nothing is sent again; only records created after the move go to the new node.
      const plain = await mesh([
        'reassign',
        '--service',
        SERVICE,
        '--entity',
        String(kept),
        '--to',
        'node2',
        '--json',
        '--db',
        t.url,
        ...configArgs,
      ]);
      expect(plain.code).toBe(0);
      expect(JSON.parse(plain.stdout)).toMatchObject({ from: 'node1', to: 'node2', repushed: false });
      marks = t.proxies.map((p) => p.forwardedPushes().length);
      expect(await pushRecords(t.database, config)).toMatchObject({ pushed: 0, failed: 0 });
      expect(t.proxies.map((p) => p.forwardedPushes().length)).toEqual(marks);

      await insertRecords(t.database, scrambledRecords({ from: 85, to: 108, accounts: 6, offsetMs: 200_000 }));
      expect(await pushRecords(t.database, config)).toMatchObject({ pushed: 24, failed: 0 });
      records = await readRecords(t.database);
      const fresh = (node: string) => idsOnNode(records, node).filter((id) => id > 84);
      expect(fresh('node1')).toHaveLength(4);
      expect(fresh('node2')).toHaveLength(20);
      expect(fresh('node2').filter((id) => records.get(id)!.account === kept)).toHaveLength(4);
      expect(
        t.proxies[0]!.forwardedPushes()
          .slice(marks[0])
          .flatMap((r) => r.ids.map(Number)),
      ).toEqual(fresh('node1'));
      expect(
        t.proxies[1]!.forwardedPushes()
          .slice(marks[1])
          .flatMap((r) => r.ids.map(Number)),
      ).toEqual(fresh('node2'));
      flags = await readFlags(t.database, t.protocol);
      const keptOld = [...records.values()].filter((r) => r.account === kept && r.id <= 60);
      expect(keptOld.every((r) => flags.get(r.id)!.pushAttempts === 1 && flags.get(r.id)!.pullSuccess === true)).toBe(true);

      // Each result is pulled from the node the record went to: the kept entity's records from before its move
      // from node1, the re-pushed entity's (whose pull flags --repush cleared) from node2.
      await waitUntil(() => t.backends.every((b) => readNodeStore(b.dataFile, t.protocol).every((r) => r.done)), 'nodes to process');
      const pullMarks = t.proxies.map((p) => p.of('pull').length);
      expect(await pullRecords(t.database, config)).toMatchObject({ pulled: 48 + 10, failed: 0 });
      const askedOf = (i: number) =>
        t.proxies[i]!.of('pull')
          .slice(pullMarks[i])
          .flatMap((r) => r.ids.map(Number));
      expect(askedOf(0)).toEqual(expect.arrayContaining(keptBefore));
      expect(askedOf(1)).toEqual(expect.arrayContaining(movedIds));
      expect(askedOf(1).some((id) => keptBefore.includes(id))).toBe(false);
      expect(askedOf(0).some((id) => movedIds.includes(id))).toBe(false);
      flags = await readFlags(t.database, t.protocol);
      expect([...flags].filter(([, f]) => f.pullSuccess !== true).map(([id]) => id)).toEqual([]);
    });

    it("push.fn receives each batch, without flags, and the node; a throw is the node's failure: the stream stops, no flag written", async () => {
      const t = await newTest(dialect.name, 2);
      const calls: { records: Row[]; node: NodeConfig; ctx: PushContext }[] = [];
      const config = meshConfig({ protocol: t.protocol, nodes: t.nodes, batchSize: 3, pull: false }, (objects) => {
        objects.services[0]!.protocols[0]!.push = {
          fn: async (records, node, ctx) => {
            calls.push({ records, node, ctx });
            if (node.name === 'node2' && calls.filter((c) => c.node.name === 'node2').length === 2) throw new Error('queue is full');
          },
        };
      });
      const seeded = scrambledRecords({ from: 1, to: 32, accounts: 4 });
      await insertAccounts(t.database, range(1, 4));
      await insertRecords(t.database, seeded);
      await migrateAndAssign(t.database, config);
      const records = await readRecords(t.database);

      const summary = await pushRecords(t.database, config);
      expect(summary.nodes.find((n) => n.node === 'node1')).toMatchObject({ pushed: 16, failed: 0 });
      expect(summary.nodes.find((n) => n.node === 'node2')).toMatchObject({
        pushed: 3,
        failed: 0,
        error: 'queue is full',
        unavailable: 'queue is full',
      });
      // The function replaces HTTP: no node was called.
      expect(t.proxies.flatMap((p) => p.requests)).toEqual([]);

      const node1Calls = calls.filter((c) => c.node.name === 'node1');
      expect(node1Calls.flatMap((c) => c.records.map((r) => r.id))).toEqual(idsOnNode(records, 'node1'));
      for (const call of calls) {
        expect(call.records.length).toBeGreaterThan(0);
        expect(call.records.length).toBeLessThanOrEqual(3);
        expect(call.node).toMatchObject({ url: t.nodes[call.node.name === 'node1' ? 0 : 1]!.url, services: { [SERVICE]: {} } });
        expect(call.ctx).toMatchObject({ service: SERVICE, protocol: t.protocol });
        expect(typeof call.ctx.db.selectFrom).toBe('function');
        for (const record of call.records) {
          // The wire form: record columns only, the time as ISO 8601.
          expect(Object.keys(record).sort()).toEqual(['create_time', 'id', 'id_account', 'result_hash', 'subject']);
          const seed = seeded.find((s) => s.id === record.id)!;
          expect(record).toEqual({
            id: seed.id,
            id_account: seed.account,
            create_time: new Date(seed.timeMs).toISOString(),
            subject: `Delivery ${seed.id}`,
            result_hash: null,
          });
        }
      }
      const node2 = idsOnNode(records, 'node2');
      expect(calls.filter((c) => c.node.name === 'node2').flatMap((c) => c.records.map((r) => r.id))).toEqual(node2.slice(0, 6));
      const flags = await readFlags(t.database, t.protocol, { pull: false });
      for (const id of node2.slice(0, 3)) expect(flags.get(id)).toMatchObject({ pushSuccess: true, pushAttempts: 1 });
      for (const id of node2.slice(3)) expect(flags.get(id)).toMatchObject({ pushSuccess: null, pushError: null, pushAttempts: 0 });
    });
  });
}
