import { describe, expect, it } from 'vitest';
import { migrateDatabase } from '../../src/db/migrate-database.js';
import {
  insertAccounts,
  insertRecords,
  meshConfig,
  NODE_COLUMN,
  range,
  readFlags,
  readLeases,
  readNodeStore,
  scrambledRecords,
  spawnMesh,
  waitUntil,
  writeMeshConfig,
} from '../helpers/mesh-fixture.js';
import { useMeshSuite } from '../helpers/mesh-suite.js';
import { DIALECTS } from '../helpers/test-databases.js';

const { newTest, tempDir, cleanups } = useMeshSuite({ nodes: 2, tempPrefix: 'workmesh-run-' });

for (const dialect of DIALECTS) {
  describe.skipIf(!dialect.available)(`mesh run (${dialect.name})`, () => {
    it('assigns, pushes and pulls every second, and on SIGTERM finishes the batch in flight and exits 143, saying so', async () => {
      const t = await newTest(dialect.name, 2);
      const dir = tempDir();
      const spec = { protocol: t.protocol, nodes: t.nodes, batchSize: 4 };
      const args = [...writeMeshConfig(dir, spec), '--db', t.url];
      await insertAccounts(t.database, range(1, 4));
      await insertRecords(t.database, scrambledRecords({ from: 1, to: 40, accounts: 4 }));
      // Migrated only: `mesh run` itself assigns the accounts.
      expect((await migrateDatabase(t.database, meshConfig(spec), { dryRun: false })).problems).toEqual([]);

      const run = spawnMesh(['run', '--every', '1s', '--json', ...args]);
      cleanups.push(async () => {
        if (run.child.exitCode === null && run.child.signalCode === null) run.child.kill('SIGKILL');
      });
      await waitUntil(
        async () => [...(await readFlags(t.database, t.protocol)).values()].every((f) => f.pullSuccess === true),
        'the first records to be pulled',
      );
      const accounts = await t.database.db.selectFrom('account').select(['id', NODE_COLUMN]).execute();
      expect(accounts.map((a) => a[NODE_COLUMN]).sort()).toEqual(['node1', 'node1', 'node2', 'node2']);
      const results = new Map(t.backends.flatMap((b) => readNodeStore(b.dataFile, t.protocol)).map((r) => [r.id, r.result!.hash]));
      const pulled = await readFlags(t.database, t.protocol);
      for (const [id, flag] of pulled) expect(flag.resultHash).toBe(results.get(id));

      // New records; the nodes now answer slowly, and SIGTERM arrives as soon as the next cycle sends a batch.
      let terminatedAt = 0;
      for (const proxy of t.proxies) {
        proxy.fault = (r) => {
          if (r.endpoint !== 'push') return undefined;
          if (terminatedAt === 0) {
            run.child.kill('SIGTERM');
            terminatedAt = Date.now();
          }
          return { kind: 'delay-answer', ms: 700 };
        };
      }
      await insertRecords(t.database, scrambledRecords({ from: 41, to: 80, accounts: 4, offsetMs: 100_000 }));
      const exited = await run.done;
      expect(terminatedAt).toBeGreaterThan(0);
      expect(exited.stderr).toBe(
        'mesh run: interrupted by SIGTERM (exit 143): the batches in flight were finished, the rest waits for the next run\n',
      );
      expect({ code: exited.code, signal: exited.signal }).toEqual({ code: 143, signal: null });
      expect(Date.now() - terminatedAt).toBeLessThan(5_000);

      // The batches in flight were answered and flagged; the rest of the cycle was not started.
      const flags = await readFlags(t.database, t.protocol);
      const sent = t.proxies.flatMap((p) => p.pushedIds()).filter((id) => id > 40);
      expect(sent.length).toBeGreaterThanOrEqual(4);
      for (const id of sent) expect(flags.get(id)).toMatchObject({ pushSuccess: true, pushAttempts: 1 });
      for (const proxy of t.proxies) for (const request of proxy.of('push')) expect(request.answered).toBe(true);
      const stillPending = range(41, 80).filter((id) => flags.get(id)!.pushSuccess === null);
      expect(stillPending.length).toBeGreaterThan(0);
      expect(stillPending.length + new Set(sent).size).toBe(40);

      const totals = JSON.parse(exited.stdout) as Record<string, number>;
      expect(totals.cycles).toBeGreaterThanOrEqual(2);
      expect(totals).toMatchObject({
        assigned: 4,
        unassigned: 0,
        pushed: 40 + new Set(sent).size,
        pulled: 40,
        failed: 0,
        interrupted: 'SIGTERM',
      });
      expect(await readLeases(t.database)).toEqual([]);
    });
  });
}
