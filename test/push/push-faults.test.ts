import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import type { Db } from '../../src/config/service-config.js';
import { openDatabase } from '../../src/db/open-database.js';
import { readNodeHealth, type NodeHealth } from '../../src/health/node-health.js';
import { recordNodeFailure } from '../../src/health/record-node-health.js';
import { pullRecords } from '../../src/pull/pull-records.js';
import { pushRecords } from '../../src/push/push-records.js';
import {
  idsOnNode,
  insertAccounts,
  insertRecords,
  mesh,
  meshConfig,
  migrateAndAssign,
  protocolPaths,
  range,
  readFlags,
  readNodeStore,
  readRecords,
  scrambledRecords,
  SERVICE,
  spawnMesh,
  waitUntil,
  writeMeshConfig,
  type MeshNodeSpec,
} from '../helpers/mesh-fixture.js';
import { useMeshSuite } from '../helpers/mesh-suite.js';
import type { ProxyFault } from '../helpers/recording-proxy.js';
import { DIALECTS } from '../helpers/test-databases.js';

const { newTest, tempDir, cleanups } = useMeshSuite({ nodes: 3, tempPrefix: 'workmesh-faults-' });

/** A back-off long enough that no test waits it out by accident. */
const LONG_BACK_OFF = { baseMs: 600_000, capMs: 600_000 };
/** A back-off over at once: every run tries again. */
const NO_BACK_OFF = { baseMs: 1, capMs: 1 };
const TIMEOUT_MS = 400;
const REJECTION = '{"status":"error","message":"unreadable payload"}';

async function healthOf(database: { db: Db }, node: string): Promise<NodeHealth | undefined> {
  return (await readNodeHealth(database.db)).get(node);
}

for (const dialect of DIALECTS) {
  describe.skipIf(!dialect.available)(`push faults stay with their cause (${dialect.name})`, () => {
    it("each failure class: the node's writes no flag, counts no attempt and backs the node off; the records' costs one attempt to the record at fault", async () => {
      const faults: (ProxyFault | 'closed' | 'wrong key' | 'healthy')[] = [
        'healthy',
        'closed',
        { kind: 'answer', status: 500, body: '{"status":"error","message":"disk full"}' },
        'wrong key',
        { kind: 'answer', status: 403, body: '{"status":"error","message":"forbidden"}' },
        { kind: 'answer', status: 404, body: '{"status":"error","message":"no such path"}' },
        { kind: 'answer', status: 429, body: '{"status":"error","message":"slow down"}' },
        { kind: 'answer', status: 200, body: '<html>Bad gateway</html>' },
        { kind: 'hang', ms: 3_000 },
        { kind: 'answer', status: 400, body: '<html>Bad request</html>' },
        { kind: 'answer', status: 400, body: REJECTION },
        { kind: 'answer', status: 409, body: REJECTION },
        { kind: 'answer', status: 413, body: REJECTION },
        { kind: 'answer', status: 422, body: REJECTION },
      ];
      const recordsClass = new Set(['node11', 'node12', 'node13', 'node14']);
      const t = await newTest(dialect.name, faults.length);
      for (const [i, fault] of faults.entries()) {
        if (fault === 'closed') await t.proxies[i]!.close();
        else if (typeof fault === 'object') t.proxies[i]!.fault = (r) => (r.endpoint === 'push' ? fault : undefined);
      }
      const nodes: MeshNodeSpec[] = t.nodes.map((n, i) => ({
        ...n,
        ...(typeof faults[i] === 'object' && (faults[i] as ProxyFault).kind === 'hang' && { timeoutMs: TIMEOUT_MS }),
        ...(faults[i] === 'wrong key' && { apiKey: 'not-the-key' }),
      }));
      const config = meshConfig({ protocol: t.protocol, nodes, batchSize: 5, maxAttempts: 3, pull: false });
      await insertAccounts(t.database, range(1, faults.length));
      await insertRecords(t.database, scrambledRecords({ from: 1, to: faults.length * 10, accounts: faults.length }));
      await migrateAndAssign(t.database, config);
      const records = await readRecords(t.database);

      const before = Date.now();
      const summary = await pushRecords(t.database, config, { backOff: LONG_BACK_OFF });
      const flags = await readFlags(t.database, t.protocol, { pull: false });
      const health = await readNodeHealth(t.database.db);
      const errors: Record<string, string> = {
        node2: `connect ECONNREFUSED 127.0.0.1:${t.proxies[1]!.port}`,
        node3: 'HTTP 500: {"status":"error","message":"disk full"}',
        node4: 'HTTP 401: {"status":"error","message":"missing or wrong API key"}',
        node5: 'HTTP 403: {"status":"error","message":"forbidden"}',
        node6: 'HTTP 404: {"status":"error","message":"no such path"}',
        node7: 'HTTP 429: {"status":"error","message":"slow down"}',
        node8: 'HTTP 200: <html>Bad gateway</html>',
        node9: `timed out after ${TIMEOUT_MS} ms`,
        node10: 'HTTP 400: <html>Bad request</html>',
      };
      for (const [i, proxy] of t.proxies.entries()) {
        const node = `node${i + 1}`;
        const outcome = summary.nodes.find((n) => n.node === node)!;
        const ids = idsOnNode(records, node);
        if (node === 'node1') {
          expect(outcome, JSON.stringify(outcome)).toMatchObject({ pushed: 10, failed: 0 });
          expect(health.get(node)).toMatchObject({ failingSince: null, failures: 0, nextTryAt: null, lastSuccessAt: expect.any(Number) });
        } else if (recordsClass.has(node)) {
          // Halved down to the first record (5 → 3 → 2 → 1): it alone counts an attempt; the stream stops there.
          const error = `HTTP ${(faults[i] as { status: number }).status}: ${REJECTION}`;
          expect(outcome, node).toMatchObject({ pushed: 0, failed: 1 });
          expect(outcome.unavailable, node).toBeUndefined();
          expect(
            proxy.of('push').map((r) => r.ids.length),
            node,
          ).toEqual([5, 3, 2, 1]);
          expect(flags.get(ids[0]!), node).toMatchObject({ pushSuccess: null, pushError: error, pushAttempts: 1 });
          for (const id of ids.slice(1)) expect(flags.get(id), node).toMatchObject({ pushSuccess: null, pushError: null, pushAttempts: 0 });
          // Reachable: its success is recorded.
          expect(health.get(node), node).toMatchObject({ failingSince: null, failures: 0, lastSuccessAt: expect.any(Number) });
        } else {
          // The stream's error names the request; the flags would keep the contract's text alone (none is written).
          const error = `POST ${protocolPaths(t.protocol).push}: ${errors[node]!}`;
          expect(outcome, node).toMatchObject({ pushed: 0, failed: 0, unavailable: error, error });
          expect(Date.parse(outcome.nextTryAt!), node).toBeGreaterThan(before);
          // One request (none for a closed port), no flag, no attempt.
          if (node !== 'node2') expect(proxy.of('push'), node).toHaveLength(1);
          for (const id of ids) expect(flags.get(id), node).toMatchObject({ pushSuccess: null, pushError: null, pushAttempts: 0 });
          expect(health.get(node), node).toMatchObject({ failures: 1, lastError: error, nextTryAt: Date.parse(outcome.nextTryAt!) });
          expect(health.get(node)!.failingSince, node).toBeGreaterThanOrEqual(before);
        }
      }
      expect(summary).toMatchObject({ pushed: 10, failed: 4 });
    });

    it('a node down for three times maxAttempts runs, then back: nothing dead, every record delivered once, in order', async () => {
      const t = await newTest(dialect.name, 2);
      const config = meshConfig({ protocol: t.protocol, nodes: t.nodes, batchSize: 4, maxAttempts: 2, pull: false });
      await insertAccounts(t.database, range(1, 4));
      await insertRecords(t.database, scrambledRecords({ from: 1, to: 40, accounts: 4 }));
      await migrateAndAssign(t.database, config);
      const records = await readRecords(t.database);
      const down = t.proxies[1]!;
      await down.close();
      for (let run = 1; run <= 6; run++) {
        const summary = await pushRecords(t.database, config, { backOff: NO_BACK_OFF });
        expect(summary.nodes.find((n) => n.node === 'node2')).toMatchObject({
          pushed: 0,
          failed: 0,
          unavailable: expect.stringContaining('ECONNREFUSED'),
        });
        await sleep(5);
      }
      expect((await healthOf(t.database, 'node2'))?.failures).toBe(6);
      let flags = await readFlags(t.database, t.protocol, { pull: false });
      for (const id of idsOnNode(records, 'node2'))
        expect(flags.get(id)).toMatchObject({ pushSuccess: null, pushError: null, pushAttempts: 0 });

      await down.listen();
      const back = await pushRecords(t.database, config, { backOff: NO_BACK_OFF });
      expect(back).toMatchObject({ pushed: 20, failed: 0 });
      expect(down.pushedIds()).toEqual(idsOnNode(records, 'node2'));
      expect(readNodeStore(t.backends[1]!.dataFile, t.protocol).map((r) => r.id)).toEqual(idsOnNode(records, 'node2'));
      flags = await readFlags(t.database, t.protocol, { pull: false });
      expect([...flags.values()].filter((f) => f.pushSuccess !== true || f.pushAttempts !== 1)).toEqual([]);
      expect(await healthOf(t.database, 'node2')).toMatchObject({ failingSince: null, failures: 0, lastError: null, nextTryAt: null });
    });

    it('a poison record in a batch of 500 costs only itself: the others delivered in order, it dead after maxAttempts', async () => {
      const t = await newTest(dialect.name, 2);
      const config = meshConfig({ protocol: t.protocol, nodes: t.nodes, batchSize: 500, maxAttempts: 3, pull: false });
      await insertAccounts(t.database, range(1, 2));
      await insertRecords(t.database, scrambledRecords({ from: 1, to: 1_000, accounts: 2 }));
      await migrateAndAssign(t.database, config);
      const records = await readRecords(t.database);
      const onNode1 = idsOnNode(records, 'node1');
      expect(onNode1).toHaveLength(500);
      const poison = onNode1[200]!;
      const proxy = t.proxies[0]!;
      proxy.fault = (r) =>
        r.endpoint === 'push' && r.ids.map(Number).includes(poison) ? { kind: 'answer', status: 422, body: REJECTION } : undefined;
      const error = `HTTP 422: ${REJECTION}`;

      let mark = 0;
      for (let run = 1; run <= 3; run++) {
        const summary = await pushRecords(t.database, config);
        const node1 = summary.nodes.find((n) => n.node === 'node1')!;
        expect(node1).toMatchObject({ pushed: run === 1 ? 200 : run === 2 ? 0 : 299, failed: 1 });
        expect(node1.unavailable).toBeUndefined();
        expect(summary.nodes.find((n) => n.node === 'node2')).toMatchObject({ pushed: run === 1 ? 500 : 0, failed: 0 });
        // About log2(batch) requests to isolate it: the batch, then one half per level down to the record alone
        // (500 → 250 → 125 → … → 1: 10 requests); once it is dead, the halves after it (9 more).
        const requests = proxy.of('push').length - mark;
        expect(requests).toBe(run === 3 ? 10 + 9 : 10);
        mark = proxy.of('push').length;
        const flags = await readFlags(t.database, t.protocol, { pull: false });
        expect(flags.get(poison)).toMatchObject({ pushSuccess: run === 3 ? false : null, pushError: error, pushAttempts: run });
        if (run < 3) {
          // Nothing after it was sent.
          for (const id of onNode1.slice(201)) expect(flags.get(id)).toMatchObject({ pushSuccess: null, pushAttempts: 0 });
        }
      }
      const delivered = onNode1.filter((id) => id !== poison);
      expect(proxy.pushedIds()).toEqual(delivered);
      const flags = await readFlags(t.database, t.protocol, { pull: false });
      for (const id of delivered) expect(flags.get(id)).toMatchObject({ pushSuccess: true, pushAttempts: 1, pushError: null });
      expect((await healthOf(t.database, 'node1'))?.failingSince ?? null).toBeNull();
    });

    it('a success answer with "rejected" delivers the others, counts an attempt for the listed one and sends nothing after it; an invalid one is the node failure', async () => {
      const t = await newTest(dialect.name, 2);
      const config = meshConfig({ protocol: t.protocol, nodes: t.nodes, batchSize: 5, maxAttempts: 2, pull: false });
      await insertAccounts(t.database, range(1, 2));
      await insertRecords(t.database, scrambledRecords({ from: 1, to: 40, accounts: 2 }));
      await migrateAndAssign(t.database, config);
      const records = await readRecords(t.database);
      const onNode1 = idsOnNode(records, 'node1');
      const onNode2 = idsOnNode(records, 'node2');
      const rejectedId = onNode1[2]!;
      t.proxies[0]!.rewritePush = (body, request) =>
        request.ids.map(Number).includes(rejectedId)
          ? { ...body, rejected: [{ id: rejectedId, error: 'unreadable\u0000 payload\u001b[31m' }] }
          : body;
      t.proxies[1]!.rewritePush = (body) => ({ ...body, rejected: [{ id: 999_999, error: 'x' }] });

      const first = await pushRecords(t.database, config, { backOff: LONG_BACK_OFF });
      const node1 = first.nodes.find((n) => n.node === 'node1')!;
      expect(node1).toMatchObject({ pushed: 4, failed: 1 });
      expect(t.proxies[0]!.of('push').map((r) => r.ids.map(Number))).toEqual([onNode1.slice(0, 5)]);
      let flags = await readFlags(t.database, t.protocol, { pull: false });
      // NUL and the escape character are stored as spaces.
      expect(flags.get(rejectedId)).toMatchObject({ pushSuccess: null, pushError: 'unreadable  payload [31m', pushAttempts: 1 });
      for (const id of onNode1.slice(0, 5).filter((id) => id !== rejectedId))
        expect(flags.get(id)).toMatchObject({ pushSuccess: true, pushAttempts: 1 });
      for (const id of onNode1.slice(5)) expect(flags.get(id)).toMatchObject({ pushSuccess: null, pushAttempts: 0 });

      const node2 = first.nodes.find((n) => n.node === 'node2')!;
      const invalid = 'node node2 answered the push with an invalid rejected[0].id: 999999 is not in the batch';
      expect(node2).toMatchObject({ pushed: 0, failed: 0, unavailable: invalid, error: invalid });
      for (const id of onNode2) expect(flags.get(id)).toMatchObject({ pushSuccess: null, pushError: null, pushAttempts: 0 });
      expect(await healthOf(t.database, 'node2')).toMatchObject({ failures: 1, lastError: invalid });

      // Second run: the rejected record goes first again, dies at maxAttempts, and the stream moves on to the end.
      const second = await pushRecords(t.database, config, { backOff: LONG_BACK_OFF });
      expect(second.nodes.find((n) => n.node === 'node1')).toMatchObject({ pushed: 15, failed: 1 });
      expect(second.nodes.find((n) => n.node === 'node2')).toMatchObject({
        pushed: 0,
        skipped: expect.stringMatching(/^in back-off until \S+: node node2 answered/),
      });
      expect(t.proxies[1]!.of('push')).toHaveLength(1);
      expect(t.proxies[0]!.of('push').slice(1)[0]!.ids.map(Number)).toEqual([rejectedId, ...onNode1.slice(5, 9)]);
      flags = await readFlags(t.database, t.protocol, { pull: false });
      expect(flags.get(rejectedId)).toMatchObject({ pushSuccess: false, pushAttempts: 2 });
      expect(onNode1.filter((id) => flags.get(id)!.pushSuccess !== true)).toEqual([rejectedId]);
    });

    it('back-off: no request reaches a failing node before its next try; a second master shares it; --now tries at once; the first success resets it', async () => {
      const t = await newTest(dialect.name, 1);
      const backOff = { baseMs: 4_000, capMs: 60_000 };
      const config = meshConfig({ protocol: t.protocol, nodes: t.nodes, batchSize: 5, pull: false });
      await insertAccounts(t.database, range(1, 2));
      await insertRecords(t.database, scrambledRecords({ from: 1, to: 20, accounts: 2 }));
      await migrateAndAssign(t.database, config);
      const proxy = t.proxies[0]!;
      proxy.fault = (r) => (r.endpoint === 'push' ? { kind: 'answer', status: 503, body: 'maintenance' } : undefined);
      const second = await openDatabase(t.url);
      cleanups.push(() => second.close());
      /** The next-try time before each request reached the node. */
      const nextTryBefore: number[] = [];
      const run = async (master = t.database, options: { now?: boolean } = {}) => {
        const health = await healthOf(t.database, 'node1');
        const requests = proxy.of('push').length;
        const summary = await pushRecords(master, config, { backOff, ...options });
        for (let i = requests; i < proxy.of('push').length; i++) nextTryBefore[i] = options.now ? 0 : (health?.nextTryAt ?? 0);
        return summary;
      };

      const first = await run();
      expect(first.nodes[0]).toMatchObject({ unavailable: `POST ${protocolPaths(t.protocol).push}: HTTP 503: maintenance` });
      const h1 = (await healthOf(t.database, 'node1'))!;
      expect(h1.failures).toBe(1);
      expect(h1.nextTryAt! - h1.failingSince!).toBeGreaterThanOrEqual(3_000 - 50);
      // At once again, by this master and by another one: skipped, no request.
      for (const master of [t.database, second]) {
        const skipped = await run(master);
        expect(skipped.nodes[0]!.skipped).toBe(
          `in back-off until ${new Date(h1.nextTryAt!).toISOString()}: POST ${protocolPaths(t.protocol).push}: HTTP 503: maintenance`,
        );
        expect(skipped.nodes[0]!.nextTryAt).toBe(new Date(h1.nextTryAt!).toISOString());
      }
      expect(proxy.of('push')).toHaveLength(1);

      // Once its time has come, the second master tries it: it fails again, and the wait doubles.
      await sleep(h1.nextTryAt! - Date.now() + 20);
      await run(second);
      expect(proxy.of('push')).toHaveLength(2);
      const h2 = (await healthOf(t.database, 'node1'))!;
      expect(h2).toMatchObject({
        failures: 2,
        failingSince: h1.failingSince,
        lastError: `POST ${protocolPaths(t.protocol).push}: HTTP 503: maintenance`,
      });
      expect(h2.nextTryAt! - proxy.of('push')[1]!.receivedAt).toBeGreaterThanOrEqual(6_000 - 100);

      // Two masters recording a failure at the same moment both count.
      await Promise.all(
        [t.database, second].map((m) => recordNodeFailure(m.db, { node: 'node1', error: 'both', now: Date.now(), settings: backOff })),
      );
      expect((await healthOf(t.database, 'node1'))?.failures).toBe(4);

      // The node is back but still in back-off: skipped; --now calls it at once and its success resets the back-off.
      proxy.fault = undefined;
      expect((await run()).nodes[0]!.skipped).toMatch(/^in back-off until/);
      expect(proxy.of('push')).toHaveLength(2);
      const now = await run(t.database, { now: true });
      expect(now).toMatchObject({ pushed: 20, failed: 0 });
      expect(now.nodes[0]!.nextTryAt).toBeUndefined();
      expect(await healthOf(t.database, 'node1')).toMatchObject({ failingSince: null, failures: 0, lastError: null, nextTryAt: null });
      expect((await run()).pushed).toBe(0);
      for (const [i, request] of proxy.of('push').entries())
        expect(request.receivedAt, `request ${i + 1}`).toBeGreaterThanOrEqual(nextTryBefore[i]!);
    });

    it('mesh push and pull while a node is down name it on stderr and exit 1; mesh --nodes shows its health; mesh push --node N --now delivers once it is back', async () => {
      const t = await newTest(dialect.name, 2);
      const spec = { protocol: t.protocol, nodes: t.nodes, batchSize: 5 };
      const args = [...writeMeshConfig(tempDir(), spec), '--db', t.url];
      const env = { WORKMESH_BACKOFF_BASE_MS: '600000', WORKMESH_BACKOFF_CAP_MS: '600000' };
      await insertAccounts(t.database, range(1, 2));
      await insertRecords(t.database, scrambledRecords({ from: 1, to: 20, accounts: 2 }));
      await migrateAndAssign(t.database, meshConfig(spec));
      const records = await readRecords(t.database);
      const down = t.proxies[1]!;
      await down.close();
      const refused = `POST ${protocolPaths(t.protocol).push}: connect ECONNREFUSED 127.0.0.1:${down.port}`;
      const stream = `node2 (${SERVICE} ${t.protocol})`;

      const first = await mesh(['push', '--json', ...args], env);
      expect(first.code).toBe(1);
      const summary = JSON.parse(first.stdout) as { pushed: number; failed: number; nodes: Record<string, unknown>[] };
      expect(summary).toMatchObject({ pushed: 10, failed: 0 });
      expect(summary.nodes[1]).toMatchObject({
        node: 'node2',
        pushed: 0,
        failed: 0,
        unavailable: refused,
        error: refused,
        nextTryAt: expect.any(String),
      });
      expect(first.stderr).toBe(`mesh push: ${stream}: unavailable: ${refused}; next try at ${summary.nodes[1]!.nextTryAt as string}\n`);

      // Never a silent "pushed 0, failed 0", exit 0: the skipped node is named.
      const again = await mesh(['push', ...args], env);
      expect(again.code).toBe(1);
      expect(again.stdout).toMatch(/^pushed 0, failed 0\n/);
      expect(again.stderr).toBe(`mesh push: ${stream}: skipped, in back-off until ${summary.nodes[1]!.nextTryAt as string}: ${refused}\n`);
      const pull = await mesh(['pull', ...args], env);
      expect(pull.code).toBe(1);
      expect(pull.stderr).toContain(`mesh pull: ${stream}: skipped, in back-off until`);

      const report = await mesh(['--nodes', '--json', ...args], env);
      expect(report.code).toBe(0);
      const rows = JSON.parse(report.stdout) as Record<string, unknown>[];
      expect(rows[0]).toMatchObject({ name: 'node1', health: 'ok', failingSince: null, lastError: null, nextTryAt: null });
      expect(rows[1]).toMatchObject({ name: 'node2', health: 'failing', lastError: refused, nextTryAt: summary.nodes[1]!.nextTryAt });
      expect(Date.parse(rows[1]!.failingSince as string)).toBeLessThanOrEqual(Date.parse(rows[1]!.nextTryAt as string));
      const table = await mesh(['--nodes', ...args], env);
      expect(table.stdout.split('\n')[0]).toMatch(/ HEALTH$/);
      expect(table.stdout).toContain(`failing since ${rows[1]!.failingSince as string}`);
      expect(table.stderr).toBe(
        `mesh --nodes: node2 failing since ${rows[1]!.failingSince as string}, next try ${rows[1]!.nextTryAt as string}: ${refused}\n`,
      );

      await down.listen();
      const now = await mesh(['push', '--node', 'node2', '--now', '--json', ...args], env);
      expect(now.stderr).toBe('');
      expect(now.code).toBe(0);
      expect(JSON.parse(now.stdout)).toMatchObject({ pushed: 10, failed: 0 });
      expect(down.pushedIds()).toEqual(idsOnNode(records, 'node2'));
      const healthy = JSON.parse((await mesh(['--nodes', '--json', ...args], env)).stdout) as Record<string, unknown>[];
      expect(healthy[1]).toMatchObject({ name: 'node2', health: 'ok', failingSince: null });
    });

    it('mesh run names a node that is down, then in back-off, on stderr each cycle, and exits 1', async () => {
      const t = await newTest(dialect.name, 2);
      const spec = { protocol: t.protocol, nodes: t.nodes, batchSize: 5, pull: false };
      const args = [...writeMeshConfig(tempDir(), spec), '--db', t.url];
      await insertAccounts(t.database, range(1, 2));
      await insertRecords(t.database, scrambledRecords({ from: 1, to: 10, accounts: 2 }));
      await migrateAndAssign(t.database, meshConfig(spec));
      await t.proxies[1]!.close();
      const run = spawnMesh(['run', '--every', '1s', ...args], { WORKMESH_BACKOFF_BASE_MS: '600000' });
      cleanups.push(async () => {
        if (run.child.exitCode === null && run.child.signalCode === null) run.child.kill('SIGKILL');
      });
      const stream = `node2 (${SERVICE} ${t.protocol})`;
      await waitUntil(
        () => run.stderr().includes(`mesh run: ${stream}: skipped, in back-off until`),
        'a second cycle to skip node2',
        30_000,
      );
      run.child.kill('SIGTERM');
      const exited = await run.done;
      // Stopped by SIGTERM: 143, as cli.md v1.1 says (a node down alone would be 1).
      expect(exited.code).toBe(143);
      expect(exited.stderr).toContain(
        `mesh run: ${stream}: unavailable: POST ${protocolPaths(t.protocol).push}: connect ECONNREFUSED 127.0.0.1:${t.proxies[1]!.port}; next try at `,
      );
      expect(t.proxies[0]!.pushedIds()).toHaveLength(5);
    });

    it("push.fn: an error with failure 'records' is halved down to the record at fault; any other throw is the node's", async () => {
      const t = await newTest(dialect.name, 2);
      let poison = -1;
      const calls: number[][] = [];
      const config = meshConfig({ protocol: t.protocol, nodes: t.nodes, batchSize: 8, maxAttempts: 5, pull: false }, (objects) => {
        objects.services[0]!.protocols[0]!.push = {
          fn: async (records, node) => {
            const ids = records.map((r) => Number(r.id));
            if (node.name === 'node2') throw new Error('downstream queue unreachable');
            calls.push(ids);
            if (ids.includes(poison)) throw Object.assign(new Error(`record ${poison} is malformed`), { failure: 'records' });
          },
        };
      });
      await insertAccounts(t.database, range(1, 2));
      await insertRecords(t.database, scrambledRecords({ from: 1, to: 32, accounts: 2 }));
      await migrateAndAssign(t.database, config);
      const records = await readRecords(t.database);
      const onNode1 = idsOnNode(records, 'node1');
      poison = onNode1[5]!;

      const summary = await pushRecords(t.database, config, { backOff: LONG_BACK_OFF });
      expect(summary.nodes.find((n) => n.node === 'node1')).toMatchObject({ pushed: 5, failed: 1 });
      expect(summary.nodes.find((n) => n.node === 'node2')).toMatchObject({
        pushed: 0,
        failed: 0,
        unavailable: 'downstream queue unreachable',
      });
      // 8 → 4 (accepted) → the second half's halves: 2 (poison in it) → 1 (the record before it) → 1 (the poison).
      expect(calls).toEqual([onNode1.slice(0, 8), onNode1.slice(0, 4), onNode1.slice(4, 6), [onNode1[4]!], [poison]]);
      const flags = await readFlags(t.database, t.protocol, { pull: false });
      expect(flags.get(poison)).toMatchObject({ pushSuccess: null, pushError: `record ${poison} is malformed`, pushAttempts: 1 });
      for (const id of onNode1.slice(0, 5)) expect(flags.get(id)).toMatchObject({ pushSuccess: true });
      for (const id of [...onNode1.slice(6), ...idsOnNode(records, 'node2')])
        expect(flags.get(id)).toMatchObject({ pushSuccess: null, pushAttempts: 0 });
    });

    it('pull: a status call failing by the node backs it off; a successful one resets it', async () => {
      const t = await newTest(dialect.name, 1);
      const config = meshConfig({ protocol: t.protocol, nodes: t.nodes, batchSize: 5 });
      await insertAccounts(t.database, range(1, 1));
      await insertRecords(t.database, scrambledRecords({ from: 1, to: 5, accounts: 1 }));
      await migrateAndAssign(t.database, config);
      await pushRecords(t.database, config);
      t.proxies[0]!.fault = (r) => (r.endpoint === 'status' ? { kind: 'answer', status: 502, body: 'bad gateway' } : undefined);
      const failed = await pullRecords(t.database, config, { backOff: LONG_BACK_OFF });
      const badGateway = `GET ${protocolPaths(t.protocol).status}: HTTP 502: bad gateway`;
      expect(failed.nodes[0]).toMatchObject({ unavailable: badGateway, nextTryAt: expect.any(String) });
      expect(await healthOf(t.database, 'node1')).toMatchObject({ failures: 1, lastError: badGateway });
      t.proxies[0]!.fault = undefined;
      const ok = await pullRecords(t.database, config, { backOff: LONG_BACK_OFF, now: true });
      expect(ok.nodes[0]!.unavailable).toBeUndefined();
      expect(await healthOf(t.database, 'node1')).toMatchObject({ failingSince: null, failures: 0 });
    });
  });
}
