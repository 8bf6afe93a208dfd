import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { migrateDatabase } from '../../src/db/migrate-database.js';
import {
  insertAccounts,
  insertRecords,
  mesh,
  meshConfig,
  range,
  readFlags,
  readNodeStore,
  readRecords,
  scrambledRecords,
  SERVICE,
  spawnMesh,
  waitUntil,
  writeMeshConfig,
  type MeshSpec,
  type MeshTest,
} from '../helpers/mesh-fixture.js';
import { useMeshSuite } from '../helpers/mesh-suite.js';
import { DIALECTS } from '../helpers/test-databases.js';

/**
 * The commands cron and operators run against real node processes (behind
 * recording proxies): `mesh run --once`, interruptions, a reader of stdout
 * that goes away, a node renamed in nodes.config.ts.
 */
const { newTest, tempDir, cleanups } = useMeshSuite({ nodes: 2, tempPrefix: 'workmesh-cron-' });

async function prepared(
  t: MeshTest,
  accounts: number,
  records: number,
  spec: Partial<MeshSpec> = {},
): Promise<{ spec: MeshSpec; dir: string; args: string[] }> {
  const dir = tempDir();
  const full: MeshSpec = { protocol: t.protocol, nodes: t.nodes, batchSize: 4, ...spec };
  const args = [...writeMeshConfig(dir, full), '--db', t.url];
  await insertAccounts(t.database, range(1, accounts));
  await insertRecords(t.database, scrambledRecords({ from: 1, to: records, accounts }));
  expect((await migrateDatabase(t.database, meshConfig(full), { dryRun: false })).problems).toEqual([]);
  return { spec: full, dir, args };
}

/** Every node of nodes.config.ts takes at most `max` entities. */
function limitEntities(dir: string, max: number): void {
  const file = join(dir, 'nodes.config.ts');
  writeFileSync(file, readFileSync(file, 'utf8').replaceAll(`"${SERVICE}": {}`, `"${SERVICE}": { "maxEntities": ${max} }`));
}

const pulledIds = async (t: MeshTest) =>
  [...(await readFlags(t.database, t.protocol))]
    .filter(([, f]) => f.pullSuccess === true)
    .map(([id]) => id)
    .sort((a, b) => a - b);

for (const dialect of DIALECTS) {
  describe.skipIf(!dialect.available)(`mesh from cron (${dialect.name})`, () => {
    it('mesh run --once: an entity no node has room for is said on stderr, and push and pull go on for the others; quiet when all is well', async () => {
      const t = await newTest(dialect.name, 2);
      const { dir, args } = await prepared(t, 3, 12);
      limitEntities(dir, 1);
      // Accounts 1 and 2 get node1 and node2; account 3 (records 3, 6, 9, 12) has no room anywhere.
      const placed = range(1, 12).filter((id) => id % 3 !== 0);
      for (let attempt = 0; ; attempt++) {
        const run = await mesh(['run', '--once', ...args]);
        expect(run.code).toBe(1);
        expect(run.stdout).toBe('');
        expect(run.stderr).toBe(
          `mesh run: ${SERVICE}: 1 entity stays unassigned: no node has room for weight 1: node1 at maxEntities 1, node2 at maxEntities 1; ` +
            'push and pull go on for the others\n',
        );
        // The nodes process in the background: a result may need the next run to be pulled.
        if ((await pulledIds(t)).length === placed.length || attempt === 20) break;
        await new Promise((done) => setTimeout(done, 200));
      }
      expect(await pulledIds(t)).toEqual(placed);
      const flags = await readFlags(t.database, t.protocol);
      for (const id of [3, 6, 9, 12]) expect(flags.get(id)!.pushSuccess).toBe(null);

      // Room for everyone: the next runs place account 3 and say nothing at all once it is done.
      writeMeshConfig(dir, { protocol: t.protocol, nodes: t.nodes, batchSize: 4 });
      await waitUntil(async () => {
        const run = await mesh(['run', '--once', ...args]);
        expect(run.stderr).toBe('');
        expect(run.stdout).toBe('');
        expect(run.code).toBe(0);
        return (await pulledIds(t)).length === 12;
      }, 'every record to be pulled by mesh run --once');
      const json = await mesh(['run', '--once', '--json', ...args]);
      expect(json.code).toBe(0);
      expect(JSON.parse(json.stdout)).toEqual({ cycles: 1, assigned: 0, unassigned: 0, pushed: 0, pulled: 0, failed: 0 });
    });

    it("mesh run --once pushes and pulls over one connection to each node: the pull's calls reuse the push's", async () => {
      const t = await newTest(dialect.name, 2);
      const { args } = await prepared(t, 2, 16);
      const run = await mesh(['run', '--once', '--json', ...args]);
      expect(run.code).toBe(0);
      expect(JSON.parse(run.stdout)).toMatchObject({ cycles: 1, pushed: 16 });
      for (const proxy of t.proxies) {
        expect(proxy.of('push').length).toBe(2);
        expect(proxy.of('status').length).toBe(1);
        expect(proxy.connections).toBe(1);
      }
    });

    it('SIGINT during mesh push exits 130 and SIGTERM during mesh pull 143, after the batches in flight, saying "interrupted"', async () => {
      const t = await newTest(dialect.name, 2);
      const { args } = await prepared(t, 2, 40);
      expect((await mesh(['assign', ...args])).code).toBe(0);

      const push = spawnMesh(['push', '--json', ...args]);
      cleanups.push(async () => void (push.child.exitCode === null && push.child.kill('SIGKILL')));
      let signalled = false;
      for (const proxy of t.proxies) {
        proxy.fault = (r) => {
          if (r.endpoint !== 'push') return undefined;
          if (!signalled) push.child.kill('SIGINT');
          signalled = true;
          return { kind: 'delay-answer', ms: 500 };
        };
      }
      const pushed = await push.done;
      expect({ code: pushed.code, signal: pushed.signal }).toEqual({ code: 130, signal: null });
      expect(pushed.stderr).toBe(
        'mesh push: interrupted by SIGINT (exit 130): the batches in flight were finished, the rest waits for the next run\n',
      );
      const summary = JSON.parse(pushed.stdout) as { pushed: number; interrupted: string };
      expect(summary.interrupted).toBe('SIGINT');
      expect(summary.pushed).toBeGreaterThan(0);
      expect(summary.pushed).toBeLessThan(40);
      for (const proxy of t.proxies) for (const request of proxy.of('push')) expect(request.answered).toBe(true);

      for (const proxy of t.proxies) proxy.fault = undefined;
      expect((await mesh(['push', ...args])).code).toBe(0);
      const pull = spawnMesh(['pull', ...args]);
      cleanups.push(async () => void (pull.child.exitCode === null && pull.child.kill('SIGKILL')));
      signalled = false;
      for (const proxy of t.proxies) {
        proxy.fault = (r) => {
          if (r.endpoint === 'push') return undefined;
          if (!signalled) pull.child.kill('SIGTERM');
          signalled = true;
          return { kind: 'delay-answer', ms: 500 };
        };
      }
      const pulled = await pull.done;
      expect({ code: pulled.code, signal: pulled.signal }).toEqual({ code: 143, signal: null });
      expect(pulled.stdout).toMatch(/^pulled \d+, failed 0, interrupted by SIGTERM\n/);
      expect(pulled.stderr).toBe(
        'mesh pull: interrupted by SIGTERM (exit 143): the batches in flight were finished, the rest waits for the next run\n',
      );
    });

    it('a reader of stdout that goes away ends the command quietly: no stack trace, the work done, mesh run stops', async () => {
      const t = await newTest(dialect.name, 2);
      const { args } = await prepared(t, 2, 8);
      expect((await mesh(['assign', ...args])).code).toBe(0);
      // Records 1..4 failed once (and will be sent again): `mesh failed` has something to print.
      await t.database.db
        .updateTable('delivery')
        .set({ [`${t.protocol}_push_error`]: 'HTTP 503' })
        .where('id', '<=', 4)
        .execute();

      for (const command of [['failed', '--json'], ['push'], ['--nodes']]) {
        const run = spawnMesh([...command, ...args]);
        // As `mesh ... | true`: the read end is closed before mesh writes a word.
        run.child.stdout!.destroy();
        const exited = await run.done;
        expect({ command, stderr: exited.stderr, signal: exited.signal }).toEqual({ command, stderr: '', signal: null });
        expect(exited.code).toBe(0);
      }
      expect((await readFlags(t.database, t.protocol)).get(5)!.pushSuccess).toBe(true);

      // The loop would print a line per cycle to nobody: it stops after its first one.
      const loop = spawnMesh(['run', '--every', '1s', ...args]);
      cleanups.push(async () => void (loop.child.exitCode === null && loop.child.kill('SIGKILL')));
      loop.child.stdout!.destroy();
      const ended = await loop.done;
      expect({ code: ended.code, stderr: ended.stderr }).toEqual({ code: 0, stderr: '' });
    });

    it('a node renamed in nodes.config.ts: pull warns and leaves its results; after mesh rename-node they are pulled from it under the new name', async () => {
      const t = await newTest(dialect.name, 2);
      const { dir, spec, args } = await prepared(t, 2, 8);
      expect((await mesh(['assign', ...args])).code).toBe(0);
      expect((await mesh(['push', ...args])).code).toBe(0);
      const onNode1 = [...(await readRecords(t.database)).values()]
        .filter((r) => r.node === 'node1')
        .map((r) => r.id)
        .sort((a, b) => a - b);
      expect(onNode1).toEqual([1, 3, 5, 7]);
      // Both nodes have processed everything they were sent.
      await waitUntil(
        () => t.backends.every((b) => readNodeStore(b.dataFile, t.protocol).filter((r) => r.result).length >= 4),
        'the nodes to process',
      );

      writeMeshConfig(dir, { ...spec, nodes: spec.nodes.map((n) => (n.name === 'node1' ? { ...n, name: 'node1b' } : n)) });
      const before = await mesh(['pull', ...args]);
      expect(before.code).toBe(0);
      expect(before.stderr).toContain('mesh: warning: node "node1" is not in nodes.config.ts but holds 1 entity');
      expect(before.stderr).toContain('4 records delivered and not pulled yet');
      expect(await pulledIds(t)).toEqual([2, 4, 6, 8]);

      const renamed = await mesh(['rename-node', '--from', 'node1', '--to', 'node1b', ...args]);
      expect({ code: renamed.code, stderr: renamed.stderr }).toEqual({ code: 0, stderr: '' });
      await waitUntil(async () => {
        const run = await mesh(['pull', ...args]);
        expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: '' });
        return (await pulledIds(t)).length === 8;
      }, "the renamed node's results to be pulled");
      const results = new Map(t.backends.flatMap((b) => readNodeStore(b.dataFile, t.protocol)).map((r) => [r.id, r.result!.hash]));
      for (const [id, flag] of await readFlags(t.database, t.protocol)) expect(flag.resultHash).toBe(results.get(id));
    });
  });
}
