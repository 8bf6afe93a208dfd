import { describe, expect, it } from 'vitest';
import type { DialectName } from '../../src/db/database-url.js';
import { pullRecords } from '../../src/pull/pull-records.js';
import { pushRecords } from '../../src/push/push-records.js';
import {
  idsOnNode,
  insertAccounts,
  insertRecords,
  meshConfig,
  migrateAndAssign,
  range,
  readFlags,
  readNodeStore,
  readRecords,
  scrambledRecords,
  waitUntil,
  type MeshTest,
} from '../helpers/mesh-fixture.js';
import { useMeshSuite } from '../helpers/mesh-suite.js';
import type { RecordingProxy } from '../helpers/recording-proxy.js';
import { DIALECTS } from '../helpers/test-databases.js';

/**
 * Issue 9.4 on pull: a node's bad answer, or an answer the database refuses
 * to store, fails only that node's batch, with a text naming the node and
 * the field (or the database's message); the other nodes finish.
 */

const { newTest } = useMeshSuite({ nodes: 3, tempPrefix: 'workmesh-hostile-' });

interface Hostility {
  name: string;
  /** Makes node2's proxy answer badly. */
  apply(proxy: RecordingProxy): void;
  /** What node2's stream ends with, per dialect: an error text pattern, or undefined when the answer is stored. */
  error(dialect: DialectName): RegExp | undefined;
}

const resultsOf = (body: Record<string, unknown>) => body.results as Record<string, unknown>[];
const withResults = (change: (r: Record<string, unknown>) => Record<string, unknown>) => (body: Record<string, unknown>) => ({
  ...body,
  results: resultsOf(body).map(change),
});
const badStatus =
  (value: unknown): Hostility['apply'] =>
  (proxy) =>
    (proxy.rewriteStatus = (body) => ({ ...body, lastProcessedId: value }));
const LAST_PROCESSED = /^node node2: status answer field "lastProcessedId" must be null, a number or a string; got /;

const HOSTILITIES: Hostility[] = [
  {
    name: 'a result nested 100,000 arrays deep',
    apply: (proxy) => {
      proxy.fault = (request) => {
        if (request.endpoint !== 'pull') return undefined;
        const deep = `${'['.repeat(100_000)}${']'.repeat(100_000)}`;
        return { kind: 'answer', status: 200, body: `{"status":"success","results":[{"id":${String(request.ids[0])},"hash":${deep}}]}` };
      };
    },
    error: () => /^node node2: pull answer results\[0\] \(id \d+\) field "hash": nested deeper than 32 levels$/,
  },
  {
    name: 'a result longer than its column',
    apply: (proxy) => (proxy.rewritePull = withResults((r) => ({ ...r, hash: 'x'.repeat(100) }))),
    error: (dialect) =>
      dialect === 'mysql'
        ? /^database refused the batch: Data too long for column 'result_hash'/
        : dialect === 'postgres'
          ? /^database refused the batch: value too long/
          : undefined,
  },
  {
    name: 'a NUL byte in a result',
    apply: (proxy) => (proxy.rewritePull = withResults((r) => ({ ...r, hash: 'ab\u0000cd' }))),
    error: (dialect) =>
      dialect === 'postgres' ? /^database refused the batch: invalid byte sequence for encoding "UTF8": 0x00/ : undefined,
  },
  {
    name: 'results that are not an array',
    apply: (proxy) => (proxy.rewritePull = (body) => ({ ...body, results: { 1: 'a' } })),
    error: () => /^node node2: pull answer field "results" must be an array; got object$/,
  },
  { name: 'a lastProcessedId that is true', apply: badStatus(true), error: () => new RegExp(`${LAST_PROCESSED.source}a boolean$`) },
  {
    name: 'a lastProcessedId that is an object',
    apply: badStatus({ id: 1 }),
    error: () => new RegExp(`${LAST_PROCESSED.source}an object$`),
  },
  { name: 'a lastProcessedId that is an array', apply: badStatus([1, 2]), error: () => new RegExp(`${LAST_PROCESSED.source}an array$`) },
  {
    // No record has it (PostgreSQL refuses the text for an integer id): a hint without use, node2's records have no bound.
    name: 'a lastProcessedId that is no id of the table',
    apply: badStatus('not-an-id'),
    error: () => undefined,
  },
  {
    name: 'a lastProcessedId that is a 70 KB string',
    apply: badStatus('7'.repeat(70_000)),
    error: () => new RegExp(`${LAST_PROCESSED.source}a string of 70000 characters \\(at most 100\\)$`),
  },
];

async function seed(t: MeshTest): Promise<{ config: ReturnType<typeof meshConfig>; onNode: number[][] }> {
  const config = meshConfig({ protocol: t.protocol, nodes: t.nodes, batchSize: 5 });
  await insertAccounts(t.database, range(1, 3));
  await insertRecords(t.database, scrambledRecords({ from: 1, to: 30, accounts: 3 }));
  await migrateAndAssign(t.database, config);
  expect(await pushRecords(t.database, config)).toMatchObject({ pushed: 30, failed: 0 });
  for (const backend of t.backends) {
    await waitUntil(() => readNodeStore(backend.dataFile, t.protocol).every((r) => r.done), `${backend.name} to process`);
  }
  const records = await readRecords(t.database);
  return { config, onNode: ['node1', 'node2', 'node3'].map((n) => idsOnNode(records, n)) };
}

for (const dialect of DIALECTS) {
  describe.skipIf(!dialect.available)(`hostile pull answers (${dialect.name})`, () => {
    for (const hostility of HOSTILITIES) {
      it(`${hostility.name}: fails only node2's batch, the other nodes finish`, async () => {
        const t = await newTest(dialect.name, 3);
        const { config, onNode } = await seed(t);
        hostility.apply(t.proxies[1]!);
        const summary = await pullRecords(t.database, config);
        const [node1, node2, node3] = summary.nodes;
        expect(node1).toMatchObject({ node: 'node1', pulled: 10, failed: 0 });
        expect(node3).toMatchObject({ node: 'node3', pulled: 10, failed: 0 });
        const flags = await readFlags(t.database, t.protocol);
        for (const id of [...onNode[0]!, ...onNode[2]!])
          expect(flags.get(id)).toMatchObject({ pullSuccess: true, resultHash: expect.stringMatching(/^[0-9a-f]{64}$/) });
        const expected = hostility.error(dialect.name);
        if (expected === undefined) {
          expect(node2).toMatchObject({ node: 'node2', pulled: 10, failed: 0 });
          expect(node2!.error).toBeUndefined();
          return;
        }
        expect(node2!.error).toMatch(expected);
        expect(node2!.pulled).toBe(0);
        // The batch was rolled back: nothing of node2 is stored, its records wait for the next pull.
        for (const id of onNode[1]!) expect(flags.get(id)).toMatchObject({ pushSuccess: true, pullSuccess: null, resultHash: null });
        // The next pull, the node healed, takes everything.
        t.proxies[1]!.fault = undefined;
        t.proxies[1]!.rewritePull = undefined;
        t.proxies[1]!.rewriteStatus = undefined;
        expect(await pullRecords(t.database, config)).toMatchObject({ pulled: 10, failed: 0 });
      });
    }

    it('error texts are stored without NUL bytes or control characters; entries not asked for, or not objects, are ignored', async () => {
      const t = await newTest(dialect.name, 3);
      const { config, onNode } = await seed(t);
      const failing = onNode[1]![0]!;
      t.proxies[1]!.rewritePull = (body) => ({
        ...body,
        results: [
          42,
          null,
          'x',
          [1],
          { id: 99_999, hash: 'not asked' },
          { id: { nested: true }, hash: 'no' },
          ...resultsOf(body).map((r) => (Number(r.id) === failing ? { id: r.id, error: 'bad\u0000input\u001b[31m red\r\n' } : r)),
        ],
      });
      const summary = await pullRecords(t.database, config);
      expect(summary).toMatchObject({ pulled: 29, failed: 1 });
      const flags = await readFlags(t.database, t.protocol);
      expect(flags.get(failing)).toMatchObject({ pullSuccess: false, pullError: 'bad input [31m red  ' });
    });

    it('a push failure whose text has a NUL byte still records the failure and the other nodes get their records', async () => {
      const t = await newTest(dialect.name, 3);
      const config = meshConfig({ protocol: t.protocol, nodes: t.nodes, batchSize: 5 });
      await insertAccounts(t.database, range(1, 3));
      await insertRecords(t.database, scrambledRecords({ from: 1, to: 30, accounts: 3 }));
      await migrateAndAssign(t.database, config);
      t.proxies[1]!.fault = (r) => (r.endpoint === 'push' ? { kind: 'answer', status: 500, body: 'boom\u0000\u001b[2J' } : undefined);
      const summary = await pushRecords(t.database, config);
      expect(summary.nodes.map((n) => [n.node, n.pushed])).toEqual([
        ['node1', 10],
        ['node2', 0],
        ['node3', 10],
      ]);
      expect(summary.nodes[1]!.error).toContain('boom');
      const flags = await readFlags(t.database, t.protocol);
      for (const flag of flags.values()) {
        // eslint-disable-next-line no-control-regex
        expect(flag.pushError ?? '').not.toMatch(/[\u0000-\u001f]/);
        if (flag.pushError !== null) expect(flag.pushError).toBe('HTTP 500: boom  [2J');
      }
    });
  });
}
