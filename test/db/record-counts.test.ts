import { describe, expect, it } from 'vitest';
import { drainNode, reassignEntity } from '../../src/assign/move-entities.js';
import { renameNode } from '../../src/assign/rename-node.js';
import { rebuildRecordCounts } from '../../src/db/rebuild-record-counts.js';
import { retryDeadRecords } from '../../src/push/retry-dead-records.js';
import { countRecords, recountRecords } from '../../src/report/count-records.js';
import { expectCountsMatchRecount } from '../helpers/count-checks.js';
import {
  insertAccounts,
  insertRecords,
  mesh,
  meshConfig,
  NODE_COLUMN,
  migrateAndAssign,
  range,
  readFlags,
  readNodeStore,
  scrambledRecords,
  serviceOf,
  spawnMesh,
  waitUntil,
  writeMeshConfig,
} from '../helpers/mesh-fixture.js';
import { useMeshSuite } from '../helpers/mesh-suite.js';
import { DIALECTS } from '../helpers/test-databases.js';
import type { DialectName } from '../../src/db/database-url.js';

/**
 * The report counters (issue 12.1): after every kind of write the engine
 * makes (push, pull with results and with processing errors, dead records
 * and their retry, a move with and without --repush, a drain, a rename, two
 * masters at once, a master killed with SIGKILL mid-run), the counts the
 * reports give equal a full recount from the records; and `mesh recount`
 * says what it corrected after records changed behind the master's back.
 */

const { newTest, tempDir } = useMeshSuite({ nodes: 2, tempPrefix: 'workmesh-counts-' });

/** Two nodes, `accounts` accounts with `records` records spread over them, migrated and assigned; the spec's other fields as given. */
async function countsTest(
  dialect: DialectName,
  options: { batchSize: number; maxAttempts?: number; pull?: boolean; accounts: number; records: number },
) {
  const t = await newTest(dialect, 2);
  const { accounts, records, ...rest } = options;
  const spec = { protocol: t.protocol, nodes: t.nodes, ...rest };
  const config = meshConfig(spec);
  const { service, protocol } = serviceOf(config);
  const args = [...writeMeshConfig(tempDir(), spec), '--db', t.url];
  await insertAccounts(t.database, range(1, accounts));
  await insertRecords(t.database, scrambledRecords({ from: 1, to: records, accounts }));
  await migrateAndAssign(t.database, config);
  return { t, spec, config, service, protocol, args };
}

for (const dialect of DIALECTS) {
  describe.skipIf(!dialect.available)(`report counters (${dialect.name})`, () => {
    it('equal a full recount after push, pull, processing errors, dead records, retry, moves, drain and rename', async () => {
      const { t, spec, config, service, protocol, args } = await countsTest(dialect.name, {
        batchSize: 7,
        maxAttempts: 1,
        accounts: 4,
        records: 40,
      });
      await expectCountsMatchRecount(t.database, config, 'after migrate');

      // Record 1 is refused by node1 (422, a record fault) and, with maxAttempts 1, dies at once.
      t.proxies[0]!.fault = (request) =>
        request.endpoint === 'push' && request.ids.map(String).includes('1')
          ? { kind: 'answer', status: 422, body: JSON.stringify({ error: 'record 1 is malformed' }) }
          : undefined;
      await mesh(['push', '--json', ...args]);
      t.proxies[0]!.fault = undefined;
      const pushed = await expectCountsMatchRecount(t.database, config, 'after push');
      const flags = await readFlags(t.database, t.protocol);
      expect(flags.get(1)?.pushSuccess).toBeFalsy();
      expect(Object.values(pushed[`${service.name}/${protocol.name}`]!).reduce((n, c) => n + c.failed, 0)).toBeGreaterThan(0);

      // node2 reports a processing error for every record it is asked about, once it has them all done.
      const onNode2 = (
        await t.database.db.selectFrom('delivery').select('id').where(`${t.protocol}_push_node`, '=', 'node2').execute()
      ).map((r) => Number(r.id));
      expect(onNode2.length).toBeGreaterThan(0);
      await waitUntil(
        () => readNodeStore(t.backends[1]!.dataFile, t.protocol).filter((r) => onNode2.includes(r.id) && r.done).length === onNode2.length,
        'node2 to process its records',
        30_000,
      );
      t.proxies[1]!.fault = (request) =>
        request.endpoint === 'pull'
          ? {
              kind: 'answer',
              status: 200,
              body: JSON.stringify({ results: request.ids.map((id) => ({ id: Number(id), error: 'no such mailbox' })) }),
            }
          : undefined;
      await mesh(['pull', '--json', ...args]);
      t.proxies[1]!.fault = undefined;
      const afterErrors = await expectCountsMatchRecount(t.database, config, 'after pull with processing errors');
      expect(afterErrors[`${service.name}/${protocol.name}`]!['node2']?.failed ?? 0).toBeGreaterThan(0);

      // The rest is pulled (the nodes finish in the background: pull until node1's records are all processed).
      await waitUntil(
        async () => {
          await mesh(['pull', '--json', ...args]);
          const counts = await recountRecords(t.database.db, t.database.dialect, service, protocol, { byNode: true });
          return (counts.get('node1')?.pending ?? 1) === 0;
        },
        'every record of node1 pulled',
        30_000,
      );
      await expectCountsMatchRecount(t.database, config, 'after pull');

      await retryDeadRecords(t.database, config, {});
      await expectCountsMatchRecount(t.database, config, 'after retry');

      const accountOnNode1 = Number(
        (await t.database.db.selectFrom('account').select('id').where(NODE_COLUMN, '=', 'node1').executeTakeFirstOrThrow()).id,
      );
      await reassignEntity(t.database.db, config, service, String(accountOnNode1), { to: 'node2', repush: true });
      await expectCountsMatchRecount(t.database, config, 'after a move with --repush');

      await drainNode(t.database.db, config, 'node2', { repush: false });
      await expectCountsMatchRecount(t.database, config, 'after a drain without --repush');

      await mesh(['push', '--json', ...args]);
      await mesh(['pull', '--json', ...args]);
      await expectCountsMatchRecount(t.database, config, 'after push and pull on the new nodes');

      const renamed = meshConfig(spec, (objects) => {
        objects.nodes[1]!.name = 'node9';
      });
      const before = await countRecords(t.database.db, t.database.dialect, service, protocol, { byNode: true });
      await renameNode(t.database, renamed, { from: 'node2', to: 'node9', dryRun: false });
      const after = await expectCountsMatchRecount(t.database, renamed, 'after rename-node');
      expect(after[`${service.name}/${protocol.name}`]!['node9']?.processed).toBe(before.get('node2')?.processed);
      expect(after[`${service.name}/${protocol.name}`]!['node2']).toBeUndefined();
    }, 120_000);

    it('count the delivered records of a protocol without pull as processed, and a re-push takes them out', async () => {
      const { t, config, service, protocol, args } = await countsTest(dialect.name, {
        batchSize: 5,
        pull: false,
        accounts: 3,
        records: 24,
      });
      await mesh(['push', '--json', ...args]);
      const pushed = await expectCountsMatchRecount(t.database, config, 'after push');
      const processed = Object.values(pushed[`${service.name}/${protocol.name}`]!).reduce((n, c) => n + c.processed, 0);
      expect(processed).toBe(24);
      await reassignEntity(t.database.db, config, service, '1', { repush: true });
      const moved = await expectCountsMatchRecount(t.database, config, 'after a move with --repush');
      expect(Object.values(moved[`${service.name}/${protocol.name}`]!).reduce((n, c) => n + c.processed, 0)).toBe(16);
    }, 60_000);

    it('stay exact with two masters at once and a master killed with SIGKILL mid-run', async () => {
      const { t, config, args } = await countsTest(dialect.name, { batchSize: 3, accounts: 6, records: 120 });
      const env = { WORKMESH_LEASE_MS: '1000' };
      // Slow answers keep batches in flight long enough for the kill to land mid-run.
      for (const proxy of t.proxies) proxy.fault = () => ({ kind: 'delay-answer', ms: 30 });
      const victim = spawnMesh(['run', '--once', '--json', ...args], env);
      const other = spawnMesh(['run', '--once', '--json', ...args], env);
      await waitUntil(
        async () => [...(await readFlags(t.database, t.protocol)).values()].some((f) => f.pushSuccess === true),
        'a first batch delivered',
      );
      await new Promise((resolve) => setTimeout(resolve, 400));
      victim.child.kill('SIGKILL');
      await Promise.all([victim.done, other.done]);
      await expectCountsMatchRecount(t.database, config, 'after a SIGKILL, beside a second master');
      for (const proxy of t.proxies) proxy.fault = undefined;
      // Two masters again, to the end.
      for (let round = 0; round < 3; round++) {
        await Promise.all([mesh(['run', '--once', '--json', ...args], env), mesh(['run', '--once', '--json', ...args], env)]);
      }
      await expectCountsMatchRecount(t.database, config, 'after two masters at once');
    }, 120_000);

    it('are rebuilt by mesh recount, which says what it corrected after records changed behind the master', async () => {
      const { t, config, service, protocol, args } = await countsTest(dialect.name, { batchSize: 10, accounts: 2, records: 30 });
      await mesh(['push', '--json', ...args]);
      await waitUntil(
        async () => {
          await mesh(['pull', '--json', ...args]);
          const counts = await recountRecords(t.database.db, t.database.dialect, service, protocol, { whole: true });
          return counts.get('')?.processed === 30;
        },
        'every record pulled',
        30_000,
      );
      await expectCountsMatchRecount(t.database, config, 'after pull');
      // The SaaS deletes account 1's records (odd ids) behind the master's back.
      await t.database.db.deleteFrom('delivery').where('id_account', '=', 1).execute();
      const stale = await countRecords(t.database.db, t.database.dialect, service, protocol, { whole: true });
      expect(stale.get('')?.processed).toBe(30);

      const dry = await mesh(['recount', '--dry-run', ...args]);
      expect(dry.code).toBe(0);
      expect(dry.stdout).toContain('would be corrected');
      expect((await countRecords(t.database.db, t.database.dialect, service, protocol, { whole: true })).get('')?.processed).toBe(30);

      const run = await mesh(['recount', '--json', ...args]);
      expect(run.code).toBe(0);
      const report = JSON.parse(run.stdout) as {
        protocols: { corrections: { node: string; state: string; was: number; now: number }[] }[];
      };
      const corrections = report.protocols.flatMap((p) => p.corrections);
      expect(corrections.reduce((n, c) => n + (c.was - c.now), 0)).toBe(15);
      expect(corrections.every((c) => c.state === 'processed')).toBe(true);
      await expectCountsMatchRecount(t.database, config, 'after mesh recount');
      expect((await countRecords(t.database.db, t.database.dialect, service, protocol, { whole: true })).get('')?.processed).toBe(15);
      expect(await rebuildRecordCounts(t.database, config)).toEqual([
        { service: service.name, protocol: protocol.name, wasBuilt: true, counted: 15, corrections: [] },
      ]);
    }, 90_000);
  });
}
