import { describe, expect, it } from 'vitest';
import { pushRecords } from '../../src/push/push-records.js';
import { nodeReport } from '../../src/report/node-report.js';
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
  writeMeshConfig,
  type MeshNodeSpec,
} from '../helpers/mesh-fixture.js';
import { useMeshSuite } from '../helpers/mesh-suite.js';
import type { ProxyFault } from '../helpers/recording-proxy.js';
import { DIALECTS } from '../helpers/test-databases.js';

const { newTest, tempDir } = useMeshSuite({ nodes: 3, tempPrefix: 'workmesh-push-' });

const PUSH_SUMMARY_KEYS = ['failed', 'nodes', 'pushed', 'skipped'];
const SLOW_TIMEOUT_MS = 400;

for (const dialect of DIALECTS) {
  describe.skipIf(!dialect.available)(`push to failing nodes (${dialect.name})`, () => {
    it('a node that is down, slow, answers non-JSON, 500 or 401 keeps its records pending, untouched, while the others get all theirs; the next run catches up in order', async () => {
      // node1 and node7 are healthy; node2..node6 fail each in their own way.
      const t = await newTest(dialect.name, 7);
      const [, down, slow, nonJson, failing, refusing] = t.proxies;
      const faults: Record<string, ProxyFault> = {
        node3: { kind: 'hang', ms: 3_000 },
        node4: { kind: 'answer', status: 200, body: '<html><body>Bad gateway</body></html>' },
        node5: { kind: 'answer', status: 500, body: '{"status":"error","message":"disk full"}' },
      };
      slow!.fault = (r) => (r.endpoint === 'push' ? faults.node3 : undefined);
      nonJson!.fault = (r) => (r.endpoint === 'push' ? faults.node4 : undefined);
      failing!.fault = (r) => (r.endpoint === 'push' ? faults.node5 : undefined);
      await down!.close();
      const nodes = (wrongKey: boolean): MeshNodeSpec[] =>
        t.nodes.map((n) => ({
          ...n,
          // Short only while the node hangs: on a loaded machine a real answer can take longer once it is back.
          ...(n.name === 'node3' && wrongKey && { timeoutMs: SLOW_TIMEOUT_MS }),
          ...(n.name === 'node6' && wrongKey && { apiKey: 'not-the-key' }),
        }));
      const spec = { protocol: t.protocol, nodes: nodes(true), batchSize: 5, pull: false };
      await insertAccounts(t.database, range(1, 14));
      await insertRecords(t.database, scrambledRecords({ from: 1, to: 140, accounts: 14 }));
      await migrateAndAssign(t.database, meshConfig(spec));
      const records = await readRecords(t.database);

      const first = await pushRecords(t.database, meshConfig(spec));
      const outcome = (node: string) => first.nodes.find((n) => n.node === node)!;
      for (const node of ['node1', 'node7']) expect(outcome(node)).toMatchObject({ pushed: 20, failed: 0 });
      for (const node of ['node1', 'node7']) expect(outcome(node).error).toBeUndefined();
      // A stream's error names the request that failed (the flags would keep the contract's text alone).
      const push = `POST ${protocolPaths(t.protocol).push}`;
      expect(outcome('node2').error).toBe(`${push}: connect ECONNREFUSED 127.0.0.1:${down!.port}`);
      expect(outcome('node3').error).toBe(`${push}: timed out after ${SLOW_TIMEOUT_MS} ms`);
      expect(outcome('node4').error).toBe(`${push}: HTTP 200: <html><body>Bad gateway</body></html>`);
      expect(outcome('node5').error).toBe(`${push}: HTTP 500: {"status":"error","message":"disk full"}`);
      expect(outcome('node6').error).toBe(`${push}: HTTP 401: {"status":"error","message":"missing or wrong API key"}`);
      // All the node's failures (node contract v1.1): no record failed.
      expect(first).toMatchObject({ pushed: 40, failed: 0 });
      for (const node of ['node2', 'node3', 'node4', 'node5', 'node6']) expect(outcome(node).unavailable).toBe(outcome(node).error);

      // Healthy nodes got all their records, in order; the failing ones got nothing stored.
      expect(t.proxies[0]!.pushedIds()).toEqual(idsOnNode(records, 'node1'));
      expect(t.proxies[6]!.pushedIds()).toEqual(idsOnNode(records, 'node7'));
      expect(readNodeStore(t.backends[5]!.dataFile, t.protocol).some((r) => idsOnNode(records, 'node6').includes(r.id))).toBe(false);
      // Each failing stream tried its first batch once and stopped there.
      for (const proxy of [slow, nonJson, failing, refusing]) expect(proxy!.of('push')).toHaveLength(1);
      let flags = await readFlags(t.database, t.protocol, { pull: false });
      for (const node of ['node2', 'node3', 'node4', 'node5', 'node6']) {
        for (const id of idsOnNode(records, node))
          expect(flags.get(id)).toMatchObject({ pushSuccess: null, pushError: null, pushAttempts: 0 });
      }

      // Every node is back: the failing ones get all their records, the first batch again first.
      await down!.listen();
      for (const proxy of [slow, nonJson, failing]) proxy!.fault = undefined;
      const marks = t.proxies.map((p) => p.forwardedPushes().length);
      const second = await pushRecords(t.database, meshConfig({ ...spec, nodes: nodes(false) }));
      expect(second).toMatchObject({ pushed: 100, failed: 0 });
      for (const [i, proxy] of t.proxies.entries()) {
        const node = `node${i + 1}`;
        const sent = proxy
          .forwardedPushes()
          .slice(marks[i])
          .flatMap((r) => r.ids.map(Number));
        expect(sent).toEqual(node === 'node1' || node === 'node7' ? [] : idsOnNode(records, node));
      }
      flags = await readFlags(t.database, t.protocol, { pull: false });
      for (const node of ['node2', 'node3', 'node4', 'node5', 'node6']) {
        const ids = idsOnNode(records, node);
        for (const id of ids) expect(flags.get(id)).toMatchObject({ pushSuccess: true, pushError: null, pushAttempts: 1 });
      }
    });

    it('a record rejected maxAttempts times is dead: counted failed, listed by mesh failed, made pending by mesh retry and sent by the next push', async () => {
      const t = await newTest(dialect.name, 2);
      const spec = { protocol: t.protocol, nodes: t.nodes, batchSize: 4, maxAttempts: 2, pull: false };
      const config = meshConfig(spec);
      const dir = tempDir();
      const args = [...writeMeshConfig(dir, spec), '--db', t.url];
      await insertAccounts(t.database, range(1, 4));
      await insertRecords(t.database, scrambledRecords({ from: 1, to: 24, accounts: 4 }));
      await migrateAndAssign(t.database, config);
      const records = await readRecords(t.database);
      const onNode2 = idsOnNode(records, 'node2');
      const poison = onNode2[0]!;
      const body = '{"status":"error","message":"unreadable payload"}';
      const error = `HTTP 422: ${body}`;
      t.proxies[1]!.fault = (r) =>
        r.endpoint === 'push' && r.ids.map(Number).includes(poison) ? { kind: 'answer', status: 422, body } : undefined;

      // Attempt 1, by the command: exit 1, the summary as documented; only the record at fault counts it.
      const run1 = await mesh(['push', '--json', ...args]);
      expect(run1.code).toBe(1);
      const summary1 = JSON.parse(run1.stdout) as Record<string, unknown>;
      expect(Object.keys(summary1).sort()).toEqual(PUSH_SUMMARY_KEYS);
      expect(summary1).toMatchObject({ pushed: 12, failed: 1 });
      expect(summary1.nodes).toEqual([
        { service: SERVICE, protocol: t.protocol, node: 'node1', pushed: 12, failed: 0 },
        { service: SERVICE, protocol: t.protocol, node: 'node2', pushed: 0, failed: 1, error: `record ${poison} rejected: ${error}` },
      ]);
      expect(run1.stderr).toContain(`node2 (${SERVICE} ${t.protocol}): record ${poison} rejected: ${error}`);
      let flags = await readFlags(t.database, t.protocol, { pull: false });
      expect(flags.get(poison)).toMatchObject({ pushSuccess: null, pushError: error, pushAttempts: 1 });
      for (const id of onNode2.slice(1)) expect(flags.get(id)).toMatchObject({ pushSuccess: null, pushError: null, pushAttempts: 0 });

      // Attempt 2 reaches maxAttempts: dead, and the stream moves on past it.
      expect(await pushRecords(t.database, config)).toMatchObject({ pushed: 11, failed: 1 });
      flags = await readFlags(t.database, t.protocol, { pull: false });
      expect(flags.get(poison)).toMatchObject({ pushSuccess: false, pushError: error, pushAttempts: 2 });
      for (const id of onNode2.slice(1)) expect(flags.get(id)).toMatchObject({ pushSuccess: true, pushError: null, pushAttempts: 1 });
      const report = await nodeReport(t.database, config);
      expect(report.find((r) => r.name === 'node2')).toMatchObject({ failed: 1, pending: 0, processed: 11, health: 'ok' });
      expect(report.find((r) => r.name === 'node1')).toMatchObject({ failed: 0, pending: 0, processed: 12 });

      const failed = await mesh(['failed', '--json', ...args]);
      expect(failed.code).toBe(0);
      expect(JSON.parse(failed.stdout)).toEqual([
        { service: SERVICE, protocol: t.protocol, id: poison, node: 'node2', state: 'dead', attempts: 2, error },
      ]);

      const retry = await mesh(['retry', '--json', ...args]);
      expect(retry.code).toBe(0);
      expect(JSON.parse(retry.stdout)).toEqual([{ service: SERVICE, protocol: t.protocol, revived: 1 }]);
      flags = await readFlags(t.database, t.protocol, { pull: false });
      expect(flags.get(poison)).toMatchObject({ pushSuccess: null, pushError: null, pushAttempts: 0 });

      // The node accepts it now: the revived record is sent (after the newer ones, as a retried dead record is); exit 0.
      t.proxies[1]!.fault = undefined;
      const run3 = await mesh(['push', '--json', ...args]);
      expect(run3.code).toBe(0);
      expect(JSON.parse(run3.stdout)).toEqual({
        pushed: 1,
        failed: 0,
        skipped: 0,
        nodes: [
          { service: SERVICE, protocol: t.protocol, node: 'node1', pushed: 0, failed: 0 },
          { service: SERVICE, protocol: t.protocol, node: 'node2', pushed: 1, failed: 0 },
        ],
      });
      expect(t.proxies[1]!.pushedIds()).toEqual([...onNode2.slice(1), poison]);
      expect(t.proxies[0]!.pushedIds()).toEqual(idsOnNode(records, 'node1'));
      flags = await readFlags(t.database, t.protocol, { pull: false });
      expect([...flags.values()].every((f) => f.pushSuccess === true && f.pushError === null)).toBe(true);
    });
  });
}
