import { describe, expect, it } from 'vitest';
import { readNodeHealth } from '../../src/health/node-health.js';
import { TransportPool } from '../../src/nodes/transport-pool.js';
import { pullRecords } from '../../src/pull/pull-records.js';
import { pushRecords } from '../../src/push/push-records.js';
import { insertAccounts, insertRecords, meshConfig, migrateAndAssign, scrambledRecords, waitUntil } from '../helpers/mesh-fixture.js';
import { useMeshSuite } from '../helpers/mesh-suite.js';
import { DIALECTS } from '../helpers/test-databases.js';

const { newTest, cleanups } = useMeshSuite({ nodes: 1, tempPrefix: 'workmesh-shared-transports-' });

/**
 * `mesh run` keeps the nodes' transports across its push, its pull and the
 * cycles after (StageOptions.transportPool): one connection to a node
 * while it stays open, and a node that restarted in between is reached
 * again on a new one, without a failure.
 */
for (const dialect of DIALECTS) {
  describe.skipIf(!dialect.available)(`transports kept across runs (${dialect.name})`, () => {
    it('push and pull runs share one connection to a node; after the node restarts, the next run opens another and fails nothing', async () => {
      const t = await newTest(dialect.name, 1);
      const proxy = t.proxies[0]!;
      const config = meshConfig({ protocol: t.protocol, nodes: t.nodes, batchSize: 5 });
      await insertAccounts(t.database, [1]);
      await insertRecords(t.database, scrambledRecords({ from: 1, to: 20, accounts: 1 }));
      await migrateAndAssign(t.database, config);
      const transportPool = new TransportPool();
      cleanups.push(() => transportPool.closeAll());

      expect((await pushRecords(t.database, config, { transportPool })).pushed).toBe(20);
      let pulled = 0;
      await waitUntil(async () => {
        pulled += (await pullRecords(t.database, config, { transportPool })).pulled;
        return pulled === 20;
      }, 'every result pulled');
      // Four push batches, a status request and pull batches for each pull run: all on one connection.
      expect(proxy.requests.length).toBeGreaterThanOrEqual(4 + 1 + 4);
      expect(proxy.connections).toBe(1);

      // The node restarts: its connections are cut and it listens again on the same port.
      await proxy.close();
      await proxy.listen();
      await insertRecords(t.database, scrambledRecords({ from: 21, to: 30, accounts: 1 }));
      const after = await pushRecords(t.database, config, { transportPool });
      expect(after.pushed).toBe(10);
      expect(after.nodes[0]).not.toHaveProperty('error');
      expect(after.nodes[0]).not.toHaveProperty('unavailable');
      expect((await readNodeHealth(t.database.db)).get('node1')?.failures ?? 0).toBe(0);
      expect(proxy.connections).toBe(2);

      // A run given no pool opens and closes its own.
      await insertRecords(t.database, scrambledRecords({ from: 31, to: 35, accounts: 1 }));
      expect((await pushRecords(t.database, config)).pushed).toBe(5);
      expect(proxy.connections).toBe(3);
    });
  });
}
