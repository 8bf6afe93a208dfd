import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { readAssignments } from '../helpers/saas-fixture.js';
import { pushRecords } from '../../src/push/push-records.js';
import {
  insertAccounts,
  insertRecords,
  mesh,
  meshConfig,
  migrateAndAssign,
  NODE_COLUMN,
  range,
  readFlags,
  readRecords,
  scrambledRecords,
  SERVICE,
  writeMeshConfig,
} from '../helpers/mesh-fixture.js';
import { expectCountsMatchRecount } from '../helpers/count-checks.js';
import { useMeshSuite } from '../helpers/mesh-suite.js';
import { DIALECTS } from '../helpers/test-databases.js';

const { newTest, tempDir } = useMeshSuite({ nodes: 3, tempPrefix: 'workmesh-failover-' });

for (const dialect of DIALECTS) {
  describe.skipIf(!dialect.available)(`automatic failover (${dialect.name})`, () => {
    it('off by default; with failover.afterMs, a node unavailable for longer has its entities moved to the healthy nodes and re-pushed, logged and printed', async () => {
      const t = await newTest(dialect.name, 3);
      const spec = { protocol: t.protocol, nodes: t.nodes, batchSize: 5, pull: false };
      const config = meshConfig(spec);
      await insertAccounts(t.database, range(1, 6));
      await insertRecords(t.database, scrambledRecords({ from: 1, to: 60, accounts: 6 }));
      await migrateAndAssign(t.database, config);
      expect(await pushRecords(t.database, config)).toMatchObject({ pushed: 60, failed: 0 });
      // New records, then node2 goes down.
      await insertRecords(t.database, scrambledRecords({ from: 61, to: 90, accounts: 6, offsetMs: 100_000 }));
      const down = t.proxies[1]!;
      await down.close();
      const onNode2 = Object.entries(await readAssignments(t.database))
        .filter(([, node]) => node === 'node2')
        .map(([id]) => Number(id));
      expect(onNode2).toEqual([2, 5]);

      const first = await pushRecords(t.database, config);
      expect(first.nodes.find((n) => n.node === 'node2')?.unavailable).toContain('ECONNREFUSED');
      await sleep(300);
      // Without failover nothing moves, however long the node has been down.
      const second = await pushRecords(t.database, config);
      expect(second.failover).toBeUndefined();
      expect(Object.values(await readAssignments(t.database)).filter((n) => n === 'node2')).toHaveLength(2);

      const marks = t.proxies.map((p) => p.forwardedPushes().length);
      const args = [...writeMeshConfig(tempDir(), { ...spec, failover: { afterMs: 200 } }), '--db', t.url];
      const run = await mesh(['push', '--json', ...args]);
      const summary = JSON.parse(run.stdout) as { pushed: number; failed: number; failover: Record<string, unknown>[] };
      expect(summary.failover).toEqual([
        {
          service: SERVICE,
          node: 'node2',
          failingSince: expect.any(String),
          moved: 2,
          byNode: { node3: 1, node1: 1 },
          stayed: 0,
          reasons: [],
        },
      ]);
      expect(run.stderr).toContain(
        `mesh push: failover: node2 (${SERVICE}) unavailable since ${summary.failover[0]!.failingSince as string}: moved 2 entities with re-push (node1 1, node3 1)`,
      );
      // node2 holds nothing any more, so nothing is sent to it: the push is clean.
      expect(run.code).toBe(0);
      const assignments = await readAssignments(t.database);
      expect(Object.values(assignments).filter((n) => n === 'node2')).toEqual([]);

      // Re-pushed: every record of the moved entities, the ones node2 had received too, went to their new node, in order.
      const records = await readRecords(t.database);
      const flags = await readFlags(t.database, t.protocol, { pull: false });
      expect([...flags.values()].filter((f) => f.pushSuccess !== true)).toEqual([]);
      for (const account of onNode2) {
        const node = assignments[account]!;
        const index = Number(node.replace('node', '')) - 1;
        const received = t.proxies[index]!.forwardedPushes()
          .slice(marks[index])
          .flatMap((r) => r.ids.map(Number));
        const expected = [...records.values()]
          .filter((r) => r.account === account)
          .sort((a, b) => a.rank - b.rank)
          .map((r) => r.id);
        expect(expected).toHaveLength(15);
        expect(received.filter((id) => records.get(id)!.account === account)).toEqual(expected);
      }
      const pushNodes = await t.database.db.selectFrom('delivery').select(`${t.protocol}_push_node as node`).distinct().execute();
      expect(pushNodes.map((r) => r.node).sort()).toEqual(['node1', 'node3']);

      // Logged in the run log.
      const logged = await t.database.db
        .selectFrom('workmesh_run')
        .select(['command', 'status', 'summary'])
        .where('command', '=', 'failover')
        .execute();
      expect(logged).toHaveLength(1);
      expect(logged[0]!.status).toBe('ok');
      expect(JSON.parse(String(logged[0]!.summary))).toEqual(summary.failover);
      // The entity column was only touched for the moved entities.
      const entities = await t.database.db.selectFrom('account').select(['id', NODE_COLUMN]).execute();
      expect(entities).toHaveLength(6);
      // The re-push of the failover took the moved entities' records out of the report counters, in its transaction.
      await expectCountsMatchRecount(t.database, config, 'after a failover');
    });

    it('moves only within capacity and never onto another failing node; what finds no room stays and is said', async () => {
      const t = await newTest(dialect.name, 3);
      const spec = { protocol: t.protocol, nodes: t.nodes, batchSize: 5, pull: false, failover: { afterMs: 100 } };
      const config = meshConfig(spec, ({ nodes }) => {
        nodes[0]!.services[SERVICE] = { maxEntities: 3 };
      });
      await insertAccounts(t.database, range(1, 6));
      await insertRecords(t.database, scrambledRecords({ from: 1, to: 30, accounts: 6 }));
      await migrateAndAssign(t.database, config);
      // node2 and node3 go down; node1 has room for one more entity only.
      await t.proxies[1]!.close();
      await t.proxies[2]!.close();
      await pushRecords(t.database, config);
      await sleep(250);
      const summary = await pushRecords(t.database, config);
      const failover = summary.failover!;
      expect(failover.map((f) => [f.node, f.moved, f.byNode, f.stayed])).toEqual([
        ['node2', 1, { node1: 1 }, 1],
        ['node3', 0, {}, 2],
      ]);
      expect(failover[0]!.reasons).toEqual(['no node has room for weight 1: node1 at maxEntities 3']);
      const assignments = Object.values(await readAssignments(t.database));
      expect(assignments.filter((n) => n === 'node1')).toHaveLength(3);
      expect(assignments.filter((n) => n === 'node2')).toHaveLength(1);
      expect(assignments.filter((n) => n === 'node3')).toHaveLength(2);
      const logged = await t.database.db.selectFrom('workmesh_run').select('status').where('command', '=', 'failover').execute();
      expect(logged.map((r) => r.status)).toEqual(['failed']);
    });
  });
}
