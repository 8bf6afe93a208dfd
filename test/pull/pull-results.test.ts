import { describe, expect, it } from 'vitest';
import type { PullSummary } from '../../src/pull/pull-outcome.js';
import { reassignEntity } from '../../src/assign/move-entities.js';
import { pullRecords } from '../../src/pull/pull-records.js';
import { pushRecords } from '../../src/push/push-records.js';
import { failedRecords } from '../../src/report/failed-records.js';
import {
  BASE_TIME_MS,
  idsOnNode,
  insertAccounts,
  insertRecords,
  mesh,
  meshConfig,
  migrateAndAssign,
  protocolPaths,
  NODE_COLUMN,
  range,
  readFlags,
  readNodeStore,
  readRecords,
  scrambledRecords,
  SERVICE,
  waitUntil,
  writeMeshConfig,
  type MeshTest,
} from '../helpers/mesh-fixture.js';
import { useMeshSuite } from '../helpers/mesh-suite.js';
import { DIALECTS } from '../helpers/test-databases.js';

const { newTest, tempDir } = useMeshSuite({ nodes: 2, tempPrefix: 'workmesh-pull-' });

const PULL_SUMMARY_KEYS = ['failed', 'nodes', 'pulled', 'skipped'];

/** Pushes everything and waits until both nodes have processed all of it. */
async function pushAndProcess(t: MeshTest, config: Parameters<typeof pushRecords>[1], total: number): Promise<void> {
  expect(await pushRecords(t.database, config)).toMatchObject({ pushed: total, failed: 0 });
  for (const backend of t.backends) {
    await waitUntil(() => readNodeStore(backend.dataFile, t.protocol).every((r) => r.done), `${backend.name} to process`);
  }
}

for (const dialect of DIALECTS) {
  describe.skipIf(!dialect.available)(`pull (${dialect.name})`, () => {
    it('stores results through pull.columns, fails error entries with the node text, leaves absent ids and ids past the status bound pending', async () => {
      const t = await newTest(dialect.name, 2);
      const spec = { protocol: t.protocol, nodes: t.nodes, batchSize: 4 };
      const config = meshConfig(spec);
      const args = [...writeMeshConfig(tempDir(), spec), '--db', t.url];
      await insertAccounts(t.database, range(1, 4));
      await insertRecords(t.database, scrambledRecords({ from: 1, to: 48, accounts: 4 }));
      await migrateAndAssign(t.database, config);
      const records = await readRecords(t.database);
      const onNode1 = idsOnNode(records, 'node1');
      const onNode2 = idsOnNode(records, 'node2');
      // Two records the demo nodes fail to process, both pulled in the first run.
      const failing = [onNode1[2]!, onNode2[6]!];
      await t.database.db.updateTable('delivery').set({ subject: 'FAIL: unreadable' }).where('id', 'in', failing).execute();
      await pushAndProcess(t, config, 48);

      // node1 says it has processed up to its 9th record, the first of its third batch (push batches of 4): the
      // batch's other records count as received before it (one delivery time), so its first 12 are asked for.
      // node2 leaves two ids out of its answers (not ready).
      const bound = onNode1[8]!;
      const absent = [onNode2[1]!, onNode2[9]!];
      t.proxies[0]!.rewriteStatus = (body) => ({ ...body, lastProcessedId: bound });
      t.proxies[1]!.rewritePull = (body) => ({
        ...body,
        results: (body.results as { id: unknown }[]).filter((r) => !absent.includes(Number(r.id))),
      });

      const run1 = await mesh(['pull', '--json', ...args]);
      expect(run1.code).toBe(1);
      const summary1 = JSON.parse(run1.stdout) as PullSummary;
      expect(Object.keys(summary1).sort()).toEqual(PULL_SUMMARY_KEYS);
      expect(summary1).toMatchObject({ pulled: 12 - 1 + 24 - 2 - 1, failed: 2 });
      expect(summary1.nodes).toEqual([
        { service: SERVICE, protocol: t.protocol, node: 'node1', pulled: 11, failed: 1, notReady: 0, lastProcessedId: bound },
        { service: SERVICE, protocol: t.protocol, node: 'node2', pulled: 21, failed: 1, notReady: 2, lastProcessedId: expect.any(Number) },
      ]);

      // What node1 was asked: its records up to the bound, in order, and nothing after.
      expect(t.proxies[0]!.of('status')).toHaveLength(1);
      expect(t.proxies[0]!.of('pull').flatMap((r) => r.ids.map(Number))).toEqual(onNode1.slice(0, 12));
      expect(t.proxies[1]!.of('pull').flatMap((r) => r.ids.map(Number))).toEqual(onNode2);
      for (const request of [...t.proxies[0]!.of('pull'), ...t.proxies[1]!.of('pull')]) expect(request.ids.length).toBeLessThanOrEqual(4);

      const results = new Map(t.backends.flatMap((b) => readNodeStore(b.dataFile, t.protocol)).map((r) => [r.id, r]));
      let flags = await readFlags(t.database, t.protocol);
      for (const id of failing)
        expect(flags.get(id)).toMatchObject({ pullSuccess: false, pullError: 'unparseable record', resultHash: null });
      const waiting = [...onNode1.slice(12), ...absent];
      for (const id of waiting)
        expect(flags.get(id)).toMatchObject({ pushSuccess: true, pullSuccess: null, pullError: null, resultHash: null });
      for (const id of [...onNode1.slice(0, 12), ...onNode2].filter((id) => !failing.includes(id) && !absent.includes(id))) {
        expect(results.get(id)!.result!.hash).toMatch(/^[0-9a-f]{64}$/);
        expect(flags.get(id)).toMatchObject({ pullSuccess: true, pullError: null, resultHash: results.get(id)!.result!.hash });
      }

      // Without the rewrites, the second pull asks only for what is still pending, and everything is in.
      t.proxies[0]!.rewriteStatus = undefined;
      t.proxies[1]!.rewritePull = undefined;
      const marks = t.proxies.map((p) => p.of('pull').length);
      const run2 = await mesh(['pull', '--json', ...args]);
      expect(run2.stderr).toBe('');
      expect(run2.code).toBe(0);
      expect(JSON.parse(run2.stdout)).toMatchObject({ pulled: waiting.length, failed: 0 });
      expect(
        t.proxies[0]!.of('pull')
          .slice(marks[0])
          .flatMap((r) => r.ids.map(Number)),
      ).toEqual(onNode1.slice(12));
      expect(
        t.proxies[1]!.of('pull')
          .slice(marks[1])
          .flatMap((r) => r.ids.map(Number)),
      ).toEqual(absent);
      flags = await readFlags(t.database, t.protocol);
      for (const [id, flag] of flags) {
        if (failing.includes(id)) expect(flag).toMatchObject({ pullSuccess: false, pullError: 'unparseable record' });
        else expect(flag).toMatchObject({ pullSuccess: true, pullError: null, resultHash: results.get(id)!.result!.hash });
      }
    });

    it('a failing status or pull request leaves the records pending with the error text, exits 1, and the next pull catches up', async () => {
      const t = await newTest(dialect.name, 2);
      const spec = { protocol: t.protocol, nodes: t.nodes, batchSize: 4 };
      const config = meshConfig(spec);
      const args = [...writeMeshConfig(tempDir(), spec), '--db', t.url];
      await insertAccounts(t.database, range(1, 4));
      await insertRecords(t.database, scrambledRecords({ from: 1, to: 24, accounts: 4 }));
      await migrateAndAssign(t.database, config);
      await pushAndProcess(t, config, 24);
      const records = await readRecords(t.database);
      const onNode2 = idsOnNode(records, 'node2');
      t.proxies[0]!.fault = (r) => (r.endpoint === 'status' ? { kind: 'answer', status: 500, body: 'status broke' } : undefined);
      t.proxies[1]!.fault = (r) =>
        r.endpoint === 'pull' && t.proxies[1]!.of('pull').length === 2 ? { kind: 'answer', status: 503, body: 'busy' } : undefined;

      const run = await mesh(['pull', '--json', ...args]);
      expect(run.code).toBe(1);
      expect(JSON.parse(run.stdout)).toEqual({
        pulled: 4,
        failed: 4,
        skipped: 0,
        nodes: [
          // Both failures are the node's (node contract v1.1): each node is backed off until its next try.
          {
            service: SERVICE,
            protocol: t.protocol,
            node: 'node1',
            pulled: 0,
            failed: 0,
            notReady: 0,
            error: `GET ${protocolPaths(t.protocol).status}: HTTP 500: status broke`,
            unavailable: `GET ${protocolPaths(t.protocol).status}: HTTP 500: status broke`,
            nextTryAt: expect.any(String),
          },
          {
            service: SERVICE,
            protocol: t.protocol,
            node: 'node2',
            pulled: 4,
            failed: 4,
            notReady: 0,
            lastProcessedId: expect.any(Number),
            error: `POST ${protocolPaths(t.protocol).pull}: HTTP 503: busy`,
            unavailable: `POST ${protocolPaths(t.protocol).pull}: HTTP 503: busy`,
            nextTryAt: expect.any(String),
          },
        ],
      });
      expect(run.stderr).toContain('node1');
      expect(run.stderr).toContain('HTTP 503: busy');
      // node1 was not asked for anything; node2's stream stopped at the failed batch.
      expect(t.proxies[0]!.of('pull')).toEqual([]);
      expect(t.proxies[1]!.of('pull')).toHaveLength(2);
      let flags = await readFlags(t.database, t.protocol);
      for (const id of idsOnNode(records, 'node1')) expect(flags.get(id)).toMatchObject({ pullSuccess: null, pullError: null });
      for (const id of onNode2.slice(0, 4)) expect(flags.get(id)).toMatchObject({ pullSuccess: true, pullError: null });
      for (const id of onNode2.slice(4, 8)) expect(flags.get(id)).toMatchObject({ pullSuccess: null, pullError: 'HTTP 503: busy' });
      for (const id of onNode2.slice(8)) expect(flags.get(id)).toMatchObject({ pullSuccess: null, pullError: null });
      const failed = await failedRecords(t.database, config, { limit: 100 });
      expect(failed.map((f) => [f.id, f.state, f.error])).toEqual(onNode2.slice(4, 8).map((id) => [id, 'pull', 'HTTP 503: busy']));

      for (const proxy of t.proxies) proxy.fault = undefined;
      expect(await pullRecords(t.database, config)).toMatchObject({ pulled: 20, failed: 0 });
      flags = await readFlags(t.database, t.protocol);
      expect([...flags.values()].every((f) => f.pullSuccess === true && f.pullError === null)).toBe(true);
    });

    it("pulls the results of records a node received before a re-pushed entity's older records", async () => {
      const t = await newTest(dialect.name, 2);
      const config = meshConfig({ protocol: t.protocol, nodes: t.nodes, batchSize: 4 });
      await insertAccounts(t.database, range(1, 4));
      await migrateAndAssign(t.database, config);
      const accounts = await t.database.db.selectFrom('account').select(['id', NODE_COLUMN]).orderBy('id').execute();
      const moved = Number(accounts.find((a) => a[NODE_COLUMN] === 'node1')!.id);
      // The entity that will move has the oldest records of all.
      await insertRecords(
        t.database,
        range(1, 40).map((id) => {
          const account = ((id - 1) % 4) + 1;
          return { id, account, timeMs: BASE_TIME_MS + (account === moved ? id * 100 : 100_000 + id * 1_000) };
        }),
      );
      // Everything is pushed and processed, nothing pulled yet; then the entity moves to node2 with all its records.
      await pushAndProcess(t, config, 40);
      await reassignEntity(t.database.db, config, config.services[0]!, String(moved), { to: 'node2', repush: true });
      expect(await pushRecords(t.database, config)).toMatchObject({ pushed: 10, failed: 0 });
      await waitUntil(() => readNodeStore(t.backends[1]!.dataFile, t.protocol).every((r) => r.done), 'node2 to process');
      const records = await readRecords(t.database);

      const pulled = await pullRecords(t.database, config);
      // node2 processed the moved records last, though they are older than its own.
      const node2 = pulled.nodes.find((n) => n.node === 'node2')!;
      expect(records.get(Number(node2.lastProcessedId))!.account).toBe(moved);
      expect(pulled).toMatchObject({ pulled: 40, failed: 0 });
      const flags = await readFlags(t.database, t.protocol);
      expect([...flags].filter(([, f]) => f.pullSuccess !== true).map(([id]) => id)).toEqual([]);
    });

    it('pull.fn stores results in another table inside the pull transaction', async () => {
      const t = await newTest(dialect.name, 2);
      await t.database.db.schema
        .createTable('pull_result')
        .addColumn('id', 'integer', (col) => col.primaryKey())
        .addColumn('node_hash', 'varchar(64)', (col) => col.notNull())
        .execute();
      const spec = { protocol: t.protocol, nodes: t.nodes, batchSize: 4 };
      const config = meshConfig(spec);
      const args = [
        ...writeMeshConfig(tempDir(), spec, {
          // Writes its rows, then refuses the batch holding FAIL_PULL_AT: the rows must go with the transaction.
          pullFn: `async (records, results, ctx) => {
            await ctx.db.insertInto('pull_result').values(results.map((r) => ({ id: Number(r.id), node_hash: String(r.hash) }))).execute();
            const failAt = process.env.FAIL_PULL_AT;
            if (failAt !== undefined && records.some((r) => String(r.id) === failAt)) throw new Error('pull.fn refused the batch of ' + failAt);
          }`,
        }),
        '--db',
        t.url,
      ];
      await insertAccounts(t.database, range(1, 4));
      await insertRecords(t.database, scrambledRecords({ from: 1, to: 40, accounts: 4 }));
      await migrateAndAssign(t.database, config);
      const records = await readRecords(t.database);
      await pushAndProcess(t, config, 40);
      const results = new Map(t.backends.flatMap((b) => readNodeStore(b.dataFile, t.protocol)).map((r) => [r.id, r.result!.hash]));

      // node2's third batch is refused by the function after it inserted its rows.
      const refusedBatch = idsOnNode(records, 'node2').slice(8, 12);
      const refused = await mesh(['pull', '--json', ...args], { FAIL_PULL_AT: String(refusedBatch[1]) });
      expect(refused.code).toBe(1);
      expect(refused.stderr).toContain(`pull.fn refused the batch of ${refusedBatch[1]}`);
      // The refusal ends node2's stream only: node1's 20 results and node2's first two batches are pulled.
      expect(JSON.parse(refused.stdout)).toMatchObject({ pulled: 28, failed: 4 });
      let stored = await t.database.db.selectFrom('pull_result').selectAll().execute();
      let flags = await readFlags(t.database, t.protocol);
      const storedIds = stored.map((r) => Number(r.id)).sort((a, b) => a - b);
      expect(storedIds.some((id) => refusedBatch.includes(id))).toBe(false);
      for (const id of refusedBatch) {
        expect(flags.get(id)).toMatchObject({
          pullSuccess: null,
          pullError: `pull.fn failed: pull.fn refused the batch of ${refusedBatch[1]}`,
        });
      }
      // Rows and flags were written together: a row exactly for each record flagged pulled.
      const flaggedPulled = [...flags]
        .filter(([, f]) => f.pullSuccess === true)
        .map(([id]) => id)
        .sort((a, b) => a - b);
      expect(storedIds).toEqual(flaggedPulled);
      expect(flaggedPulled.length).toBe(28);

      const run = await mesh(['pull', '--json', ...args]);
      expect(run.stderr).toBe('');
      expect(run.code).toBe(0);
      expect(JSON.parse(run.stdout)).toMatchObject({ pulled: 40 - flaggedPulled.length, failed: 0 });
      stored = await t.database.db.selectFrom('pull_result').selectAll().execute();
      expect(new Map(stored.map((r) => [Number(r.id), r.node_hash]))).toEqual(results);
      flags = await readFlags(t.database, t.protocol);
      // The function replaces pull.columns: result_hash is not written.
      expect([...flags.values()].every((f) => f.pullSuccess === true && f.resultHash === null)).toBe(true);
    });
  });
}
