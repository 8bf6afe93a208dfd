import { describe, expect, it } from 'vitest';
import { drainNode, reassignEntity } from '../../src/assign/move-entities.js';
import type { PullSummary } from '../../src/pull/pull-outcome.js';
import type { PushSummary } from '../../src/push/push-outcome.js';
import { rebuildRecordCounts } from '../../src/db/rebuild-record-counts.js';
import { retryDeadRecords } from '../../src/push/retry-dead-records.js';
import {
  BASE_TIME_MS,
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
  serviceOf,
  spawnMesh,
  waitUntil,
  writeMeshConfig,
  type MeshTest,
  type SeedRecord,
} from '../helpers/mesh-fixture.js';
import { expectCountsMatchRecount } from '../helpers/count-checks.js';
import { useMeshSuite } from '../helpers/mesh-suite.js';
import type { RecordingProxy } from '../helpers/recording-proxy.js';
import { DIALECTS } from '../helpers/test-databases.js';
import type { DialectName } from '../../src/db/database-url.js';

/**
 * The races of issue 13, each made deterministic: a proxy holds a node's
 * answer (the node has acted on the request) until the test has moved,
 * re-pushed or retried, then lets it go, and the test counts what was lost.
 * Every scenario here lost records before the guarded flag writes and the
 * pull bound fix (see the figures in each test's comment).
 */

const { newTest, tempDir } = useMeshSuite({ nodes: 2, tempPrefix: 'workmesh-races-' });

/** A gate: `hold()` makes the proxy hold the answers of this endpoint until `release()`. */
function holdAnswers(proxy: RecordingProxy, endpoint: 'push' | 'pull'): { release(): void } {
  let release!: () => void;
  const until = new Promise<void>((resolve) => (release = resolve));
  proxy.fault = (request) => (request.endpoint === endpoint ? { kind: 'hold-answer', until } : undefined);
  return {
    release() {
      proxy.fault = undefined;
      release();
    },
  };
}

/** `count` records of one account, one second apart from `startMs`. */
function recordsOf(account: number, firstId: number, count: number, startMs = BASE_TIME_MS): SeedRecord[] {
  return Array.from({ length: count }, (_, i) => ({ id: firstId + i, account, timeMs: startMs + (firstId + i) * 1000 }));
}

/** Two nodes and accounts 1 and 2 with these records, assigned, for a push without pull. */
async function twoAccountsPushed(dialect: DialectName, batchSize: number, records: SeedRecord[]) {
  const t = await newTest(dialect, 2);
  const spec = { protocol: t.protocol, nodes: t.nodes, batchSize, pull: false };
  const config = meshConfig(spec);
  const args = [...writeMeshConfig(tempDir(), spec), '--db', t.url];
  await insertAccounts(t.database, [1, 2]);
  await insertRecords(t.database, records);
  await migrateAndAssign(t.database, config);
  return { t, config, args };
}

async function waitProcessed(t: MeshTest, backend: number, ids: number[]): Promise<void> {
  const wanted = new Set(ids);
  await waitUntil(
    () => readNodeStore(t.backends[backend]!.dataFile, t.protocol).filter((r) => wanted.has(r.id) && r.done).length === wanted.size,
    `${t.backends[backend]!.name} to process ${wanted.size} records`,
    60_000,
  );
}

for (const dialect of DIALECTS) {
  describe.skipIf(!dialect.available)(`flag races (${dialect.name})`, () => {
    it('13.1: a re-push while batches are in flight to the old node loses nothing: the stale flags are skipped and the new node gets every record', async () => {
      // Before the guard: 120 of 300 records (the batch held plus the two queued behind it) flagged delivered to
      // node1, never sent to node2. After: 0 lost, 120 skipped.
      const t = await newTest(dialect.name, 2);
      const spec = { protocol: t.protocol, nodes: t.nodes, batchSize: 40, pull: false };
      const config = meshConfig(spec);
      const args = [...writeMeshConfig(tempDir(), spec), '--db', t.url];
      await insertAccounts(t.database, [1, 2]);
      await insertRecords(t.database, recordsOf(1, 1, 300));
      await migrateAndAssign(t.database, config);
      expect(idsOnNode(await readRecords(t.database), 'node1')).toHaveLength(300);
      const { service } = serviceOf(config);

      const gate = holdAnswers(t.proxies[0]!, 'push');
      const push = spawnMesh(['push', '--json', ...args]);
      await t.proxies[0]!.waitFor((rs) => rs.some((r) => r.endpoint === 'push' && r.forwarded), 'the first push to reach node1');
      await reassignEntity(t.database.db, config, service, '1', { to: 'node2', repush: true });
      gate.release();
      const run1 = await push.done;
      expect(run1.stderr).toBe('');
      const summary1 = JSON.parse(run1.stdout) as PushSummary;
      // The batch held and the ones read behind it before the move (two more when the reading was that far).
      expect(summary1.skipped).toBeGreaterThanOrEqual(40);
      expect(summary1.nodes.find((n) => n.node === 'node1')).toMatchObject({ pushed: 0 });

      const run2 = await mesh(['push', '--json', ...args]);
      expect(run2.code).toBe(0);
      const atNode2 = new Set(t.proxies[1]!.pushedIds());
      const lost = [...Array(300).keys()].map((i) => i + 1).filter((id) => !atNode2.has(id));
      expect(lost).toEqual([]);
      const flags = await readFlags(t.database, t.protocol, { pull: false });
      expect([...flags.values()].every((f) => f.pushSuccess === true)).toBe(true);
      const pushNodes = await t.database.db.selectFrom('delivery').select(`${t.protocol}_push_node as node`).distinct().execute();
      expect(pushNodes.map((r) => r.node)).toEqual(['node2']);
      await expectCountsMatchRecount(t.database, config, 'after the race');
    });

    it('13.1: a drain while a failing batch is in flight counts no attempt against the moved records; a retry racing a push keeps the revived ones', async () => {
      const t = await newTest(dialect.name, 2);
      const spec = { protocol: t.protocol, nodes: t.nodes, batchSize: 10, maxAttempts: 1, pull: false };
      const config = meshConfig(spec);
      const args = [...writeMeshConfig(tempDir(), spec), '--db', t.url];
      await insertAccounts(t.database, [1, 2]);
      await insertRecords(t.database, recordsOf(1, 1, 10));
      await migrateAndAssign(t.database, config);

      // node1 stores the batch, and its answer (a rejection, the records' fault) comes only after the drain moved
      // account 1 to node2: the failure is not theirs on node2.
      let release!: () => void;
      const until = new Promise<void>((resolve) => (release = resolve));
      const rejection = { status: 422, body: '{"status":"error","message":"rejected"}' };
      t.proxies[0]!.fault = (r) => (r.endpoint === 'push' ? { kind: 'hold-answer', until, answer: rejection } : undefined);
      const push = spawnMesh(['push', '--json', ...args]);
      await t.proxies[0]!.waitFor((rs) => rs.some((r) => r.endpoint === 'push' && r.forwarded), 'the push to reach node1');
      await drainNode(t.database.db, config, 'node1', { repush: false });
      release();
      const run1 = await push.done;
      const summary1 = JSON.parse(run1.stdout) as PushSummary;
      expect(summary1.nodes.find((n) => n.node === 'node1')).toMatchObject({ failed: 0, skippedRecords: 10 });
      t.proxies[0]!.fault = undefined;
      let flags = await readFlags(t.database, t.protocol, { pull: false });
      // maxAttempts 1: without the guard every record would be dead now.
      for (const flag of flags.values()) expect(flag).toMatchObject({ pushSuccess: null, pushAttempts: 0 });
      const run2 = await mesh(['push', '--json', ...args]);
      expect(JSON.parse(run2.stdout)).toMatchObject({ pushed: 10 });
      expect(t.proxies[1]!.pushedIds()).toEqual([...Array(10).keys()].map((i) => i + 1));

      // Retry only revives records still dead: one that a push delivered meanwhile stays delivered.
      await t.database.db
        .updateTable('delivery')
        .set({ [`${t.protocol}_push_success`]: dialect.name === 'sqlite' ? 0 : false })
        .where('id', '<=', 5)
        .execute();
      await t.database.db
        .updateTable('delivery')
        .set({ [`${t.protocol}_push_success`]: dialect.name === 'sqlite' ? 1 : true })
        .where('id', '<=', 2)
        .execute();
      // Those flags were written behind mesh: the report counters follow them after a recount.
      await rebuildRecordCounts(t.database, config);
      const retried = await retryDeadRecords(t.database, config, {});
      expect(retried.reduce((n, r) => n + r.revived, 0)).toBe(3);
      flags = await readFlags(t.database, t.protocol, { pull: false });
      expect([1, 2].map((id) => flags.get(id)!.pushSuccess)).toEqual([true, true]);
      expect([3, 4, 5].map((id) => flags.get(id)!.pushSuccess)).toEqual([null, null, null]);
      await expectCountsMatchRecount(t.database, config, 'after the race');
    });

    it('13.1: two nodes answering together have their flags written together, each still guarded: the batch of an entity moved meanwhile stays pending for its new node', async () => {
      const { t, config, args } = await twoAccountsPushed(dialect.name, 10, [...recordsOf(1, 1, 10), ...recordsOf(2, 11, 10)]);
      const before = await readRecords(t.database);
      expect([idsOnNode(before, 'node1'), idsOnNode(before, 'node2')]).toEqual([range(1, 10), range(11, 20)]);
      const { service } = serviceOf(config);

      const gates = t.proxies.map((proxy) => holdAnswers(proxy, 'push'));
      const push = spawnMesh(['push', '--json', ...args]);
      for (const proxy of t.proxies) await proxy.waitFor((rs) => rs.some((r) => r.endpoint === 'push' && r.forwarded), 'a push');
      await reassignEntity(t.database.db, config, service, '1', { to: 'node2', repush: false });
      // Both answers arrive at once: their flag writes go in one group.
      for (const gate of gates) gate.release();
      const run1 = await push.done;
      expect(run1.stderr).toBe('');
      const summary1 = JSON.parse(run1.stdout) as PushSummary;
      expect(summary1.nodes.find((n) => n.node === 'node1')).toMatchObject({ pushed: 0, skippedRecords: 10 });
      expect(summary1.nodes.find((n) => n.node === 'node2')).toMatchObject({ pushed: 10 });
      const flags = await readFlags(t.database, t.protocol, { pull: false });
      for (const id of range(1, 10)) expect(flags.get(id), `record ${id}`).toMatchObject({ pushSuccess: null, pushAttempts: 0 });
      for (const id of range(11, 20)) expect(flags.get(id), `record ${id}`).toMatchObject({ pushSuccess: true });

      const run2 = await mesh(['push', '--json', ...args]);
      expect(JSON.parse(run2.stdout)).toMatchObject({ pushed: 10 });
      expect(t.proxies[1]!.pushedIds()).toEqual([...range(11, 20), ...range(1, 10)]);
    });

    it('13.2: a pull answer in flight across a re-push is dropped; the result is pulled from the node the record went to', async () => {
      // Before the guard: all 60 results stored from node1 with pull_success TRUE, node2 never asked. After: 0 lost.
      const t = await newTest(dialect.name, 2);
      const spec = { protocol: t.protocol, nodes: t.nodes, batchSize: 20 };
      const config = meshConfig(spec);
      const args = [...writeMeshConfig(tempDir(), spec), '--db', t.url];
      await insertAccounts(t.database, [1, 2]);
      const ids = recordsOf(1, 1, 60);
      await insertRecords(t.database, ids);
      await migrateAndAssign(t.database, config);
      expect(JSON.parse((await mesh(['push', '--json', ...args])).stdout)).toMatchObject({ pushed: 60 });
      await waitProcessed(
        t,
        0,
        ids.map((r) => r.id),
      );
      const { service } = serviceOf(config);

      const gate = holdAnswers(t.proxies[0]!, 'pull');
      const pull = spawnMesh(['pull', '--json', ...args]);
      await t.proxies[0]!.waitFor((rs) => rs.some((r) => r.endpoint === 'pull' && r.forwarded), 'the first pull from node1');
      await reassignEntity(t.database.db, config, service, '1', { to: 'node2', repush: true });
      gate.release();
      const run1 = await pull.done;
      const summary1 = JSON.parse(run1.stdout) as PullSummary;
      // The batch held and the ones read behind it before the re-push (up to two more): all dropped.
      expect(summary1).toMatchObject({ pulled: 0 });
      expect(summary1.skipped).toBeGreaterThanOrEqual(20);

      expect(JSON.parse((await mesh(['push', '--json', ...args])).stdout)).toMatchObject({ pushed: 60 });
      await waitProcessed(
        t,
        1,
        ids.map((r) => r.id),
      );
      const run2 = await mesh(['pull', '--json', ...args]);
      expect(JSON.parse(run2.stdout)).toMatchObject({ pulled: 60, failed: 0 });
      const askedNode2 = new Set(t.proxies[1]!.of('pull').flatMap((r) => r.ids.map(Number)));
      expect(ids.filter((r) => !askedNode2.has(r.id))).toEqual([]);
      const flags = await readFlags(t.database, t.protocol);
      for (const flag of flags.values())
        expect(flag).toMatchObject({ pushSuccess: true, pullSuccess: true, resultHash: expect.stringMatching(/^[0-9a-f]{64}$/) });
      await expectCountsMatchRecount(t.database, config, 'after the race');
    });

    it('13.2: with pull.fn, the function sees only the records still delivered to the node answering', async () => {
      const t = await newTest(dialect.name, 2);
      const spec = { protocol: t.protocol, nodes: t.nodes, batchSize: 20 };
      const seen: number[] = [];
      const config = meshConfig(spec, (objects) => {
        const pull = objects.services[0]!.protocols[0]!.pull!;
        objects.services[0]!.protocols[0]!.pull = {
          statusPath: pull.statusPath,
          path: pull.path,
          fn: async (records) => {
            seen.push(...records.map((r) => Number(r.id)));
          },
        };
      });
      await insertAccounts(t.database, [1, 2]);
      const ids = recordsOf(1, 1, 20).concat(recordsOf(2, 21, 20));
      await insertRecords(t.database, ids);
      await migrateAndAssign(t.database, config);
      const { pushRecords } = await import('../../src/push/push-records.js');
      const { pullRecords } = await import('../../src/pull/pull-records.js');
      expect(await pushRecords(t.database, config)).toMatchObject({ pushed: 40 });
      await waitProcessed(t, 0, range(1, 20));
      await waitProcessed(t, 1, range(21, 40));
      const { service } = serviceOf(config);

      const gate = holdAnswers(t.proxies[0]!, 'pull');
      const pulling = pullRecords(t.database, config);
      await t.proxies[0]!.waitFor((rs) => rs.some((r) => r.endpoint === 'pull' && r.forwarded), 'the pull from node1');
      await reassignEntity(t.database.db, config, service, '1', { to: 'node2', repush: true });
      gate.release();
      const summary = await pulling;
      expect(summary).toMatchObject({ pulled: 20, skipped: 20 });
      expect(seen.sort((a, b) => a - b)).toEqual(range(21, 40));
      const flags = await readFlags(t.database, t.protocol);
      for (const id of range(1, 20)) expect(flags.get(id)).toMatchObject({ pushSuccess: null, pullSuccess: null });
      await expectCountsMatchRecount(t.database, config, 'after the race');
    });

    it('13.3: records resent after a lost acknowledgement together with a late commit are pulled in the next run', async () => {
      // Before the fix: 5 of 6 stranded (the node's bound is the late record, which shares their push time). After: 0.
      const t = await newTest(dialect.name, 2);
      const spec = { protocol: t.protocol, nodes: t.nodes, batchSize: 10 };
      const config = meshConfig(spec);
      const args = [...writeMeshConfig(tempDir(), spec), '--db', t.url];
      await insertAccounts(t.database, [1, 2]);
      await insertRecords(t.database, recordsOf(1, 11, 5, BASE_TIME_MS + 100_000));
      await migrateAndAssign(t.database, config);
      // node1 stores the five, and its answer is lost.
      t.proxies[0]!.fault = (r) => (r.endpoint === 'push' ? { kind: 'lose-answer' } : undefined);
      await mesh(['push', '--json', ...args]);
      t.proxies[0]!.fault = undefined;
      await waitProcessed(t, 0, [11, 12, 13, 14, 15]);
      // A transaction that began earlier commits a record with an earlier sort value.
      await insertRecords(t.database, [{ id: 16, account: 1, timeMs: BASE_TIME_MS }]);
      expect(JSON.parse((await mesh(['push', '--json', ...args])).stdout)).toMatchObject({ pushed: 6 });
      expect(t.proxies[0]!.forwardedPushes().at(-1)!.ids.map(Number)).toEqual([16, 11, 12, 13, 14, 15]);
      await waitProcessed(t, 0, [16]);

      const run = await mesh(['pull', '--json', ...args]);
      const summary = JSON.parse(run.stdout) as PullSummary;
      expect(summary.nodes.find((n) => n.node === 'node1')).toMatchObject({ lastProcessedId: 16 });
      expect(summary).toMatchObject({ pulled: 6, failed: 0 });
      const flags = await readFlags(t.database, t.protocol);
      for (const flag of flags.values()) expect(flag.pullSuccess).toBe(true);
      await expectCountsMatchRecount(t.database, config, 'after the race');
    });

    it('13.3: the sweep asks for delivered records older than pull.sweepAfterMs whatever the status bound says', async () => {
      const t = await newTest(dialect.name, 2);
      const spec = { protocol: t.protocol, nodes: t.nodes, batchSize: 10 };
      await insertAccounts(t.database, [1, 2]);
      await insertRecords(t.database, recordsOf(1, 1, 20));
      const config = meshConfig(spec);
      await migrateAndAssign(t.database, config);
      const { pushRecords } = await import('../../src/push/push-records.js');
      const { pullRecords } = await import('../../src/pull/pull-records.js');
      expect(await pushRecords(t.database, config)).toMatchObject({ pushed: 20 });
      await waitProcessed(
        t,
        0,
        [...Array(20).keys()].map((i) => i + 1),
      );
      // A node whose status is stuck at its first record (a hint, never proof).
      t.proxies[0]!.rewriteStatus = (body) => ({ ...body, lastProcessedId: 1 });
      const withSweep = (ms: number) =>
        meshConfig(spec, (objects) => {
          objects.services[0]!.protocols[0]!.pull = { ...objects.services[0]!.protocols[0]!.pull!, sweepAfterMs: ms };
        });
      // Delivered just now: younger than the default sweep age, so the bound alone applies (the first batch of 10).
      expect(await pullRecords(t.database, config)).toMatchObject({ pulled: 10 });
      expect(await pullRecords(t.database, withSweep(60_000))).toMatchObject({ pulled: 0 });
      expect(await pullRecords(t.database, withSweep(0))).toMatchObject({ pulled: 10 });
      const flags = await readFlags(t.database, t.protocol);
      for (const flag of flags.values()) expect(flag.pullSuccess).toBe(true);
      await expectCountsMatchRecount(t.database, config, 'after the race');
    });

    it('13.4: an entity moved without --repush sends its pending records to the new node after its newer records; per entity, order holds across nodes', async () => {
      // Account 1 (node1): records 1..20 at t=1..20 s; account 2 (node2): records 21..40 at t=21..40 s.
      const { t, config, args } = await twoAccountsPushed(dialect.name, 5, [...recordsOf(1, 1, 20), ...recordsOf(2, 21, 20)]);
      // node1 takes two batches, then fails: records 11..20 stay pending. node2 takes all its records.
      t.proxies[0]!.fault = (r) =>
        t.proxies[0]!.of('push').length > 2 && r.endpoint === 'push' ? { kind: 'answer', status: 503, body: 'down' } : undefined;
      await mesh(['push', '--json', ...args]);
      expect(t.proxies[0]!.pushedIds()).toEqual([...Array(10).keys()].map((i) => i + 1));
      const { service } = serviceOf(config);
      await reassignEntity(t.database.db, config, service, '1', { to: 'node2', repush: false });
      t.proxies[0]!.fault = undefined;
      expect(JSON.parse((await mesh(['push', '--json', ...args])).stdout)).toMatchObject({ pushed: 10, failed: 0 });

      // node2 got account 1's not-yet-delivered records after its own newer ones, as the contract says (v1.1).
      const atNode2 = t.proxies[1]!.pushedIds();
      expect(atNode2).toEqual([...[...Array(20).keys()].map((i) => i + 21), ...[...Array(10).keys()].map((i) => i + 11)]);
      // Per entity, across nodes: 1..10 at node1 then 11..20 at node2, never a record twice or out of order.
      const log = [...t.proxies[0]!.forwardedPushes(), ...t.proxies[1]!.forwardedPushes()].sort((a, b) => a.receivedAt - b.receivedAt);
      const account1 = log.flatMap((r) => r.ids.map(Number)).filter((id) => id <= 20);
      expect(account1).toEqual([...Array(20).keys()].map((i) => i + 1));
      await expectCountsMatchRecount(t.database, config, 'after the race');
    });

    // SQLite only: the servers' transactions wait on row locks by themselves.
    if (dialect.name === 'sqlite')
      it('13.5: a move waits for a write transaction of another process instead of failing with "database is locked"', async () => {
        const t = await newTest(dialect.name, 2);
        const spec = { protocol: t.protocol, nodes: t.nodes, batchSize: 10, pull: false };
        const config = meshConfig(spec);
        await insertAccounts(t.database, [1, 2]);
        await insertRecords(t.database, recordsOf(1, 1, 10));
        await migrateAndAssign(t.database, config);
        const { service } = serviceOf(config);
        const { spawn } = await import('node:child_process');
        const file = t.url.slice('sqlite:'.length);
        // Another process (the application inserting records) holds the write lock for a second and a half.
        const writer = spawn(
          process.execPath,
          [
            '-e',
            `const D = require('better-sqlite3'); const db = new D(${JSON.stringify(file)}); db.pragma('busy_timeout = 10000');
           db.exec('begin immediate'); db.prepare("insert into delivery (id, id_account, create_time, subject) values (1000, 2, '2024-01-02T00:00:00.000Z', 'late')").run();
           console.log('locked'); Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1500); db.exec('commit'); db.close();`,
          ],
          { stdio: ['ignore', 'pipe', 'inherit'] },
        );
        const exited = new Promise((resolve) => writer.on('close', resolve));
        await new Promise<void>((resolve) =>
          writer.stdout!.on('data', (chunk: Buffer) => chunk.toString().includes('locked') && resolve()),
        );
        // A deferred BEGIN reads, then finds the snapshot stale at its first write: "database is locked" at once.
        const moved = await reassignEntity(t.database.db, config, service, '1', { to: 'node2', repush: true });
        await exited;
        expect(moved).toMatchObject({ from: 'node1', to: 'node2' });
        const rows = await t.database.db.selectFrom('delivery').select('id').where('id', '=', 1000).execute();
        expect(rows).toHaveLength(1);
      });
  });
}
