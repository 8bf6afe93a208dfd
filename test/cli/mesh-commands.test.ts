import { afterEach, describe, expect, it } from 'vitest';
import { jsonOf, newProject, NODE, ok, SERVICE, snapshot, words } from '../helpers/cli-project.js';
import { readNodeHealth } from '../../src/health/node-health.js';
import { ensureNodeFailing } from '../helpers/node-health-rows.js';
import { readAssignments, setRecordFlags } from '../helpers/saas-fixture.js';
import { DIALECTS } from '../helpers/test-databases.js';

const cleanups: (() => Promise<void>)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const DELIVERIES = { table: 'delivery', protocol: 'deliveries' };

for (const dialect of DIALECTS) {
  describe.skipIf(!dialect.available)(`mesh commands on ${dialect.name}`, () => {
    it('each stray option, word, value or number is exit 2 naming what the command takes, with nothing written', async () => {
      const project = await newProject(dialect.name, { accounts: 3, recordsPerAccount: 2 }, cleanups);
      project.configure({ nodes: [NODE(1), NODE(2)] });
      ok(await project.mesh(['migrate']));
      // Unassigned and unpushed: every command below would write if it ran.
      const before = await snapshot(project.database);
      const cases: [string[], RegExp][] = [
        [
          ['push', '--to', 'node2'],
          /^mesh: unknown option --to for mesh push; mesh push takes --service S, --node N, --concurrency N, --now, --quiet, /,
        ],
        [['push', '--dry-run'], /^mesh: unknown option --dry-run for mesh push;/],
        [['assign', 'extra-word'], /^mesh: unexpected word "extra-word" for mesh assign; mesh assign takes --service S, --dry-run, /],
        [['assign', '--service', SERVICE, '--service', SERVICE], /^mesh: --service is given twice\n$/],
        // project.mesh puts `--db URL` last: the option takes "--db" for its value, which parseArgs calls ambiguous.
        [['assign', '--service'], /^mesh: Option '--service' argument is ambiguous/],
        [['assign', '--dry-run=yes'], /^mesh: Option '--dry-run' does not take an argument/],
        [['assign', '--', 'x'], /^mesh: mesh assign takes nothing after "--";/],
        [['rebalance', '--repush'], /^mesh: unknown option --repush for mesh rebalance;/],
        [['drain', '--node', 'node1', '--to', 'node2'], /^mesh: unknown option --to for mesh drain;/],
        [['pull', '--entity', '1'], /^mesh: unknown option --entity for mesh pull;/],
        [
          ['push', '--concurrency', '0x10'],
          /^mesh: --concurrency must be a whole number from 1 to 256, in decimal digits \(got "0x10"\)\n$/,
        ],
        [['push', '--concurrency', '1e2'], /^mesh: --concurrency must be a whole number from 1 to 256, in decimal digits \(got "1e2"\)\n$/],
        [['pull', '--concurrency', '0'], /^mesh: --concurrency must be a whole number from 1 to 256/],
        [['run', '--once', '--concurrency', '257'], /^mesh: --concurrency must be a whole number from 1 to 256/],
        [
          ['run', '--every', '1000h'],
          /^mesh: --every must be at most 2147483647ms \(about 596h\), what Node's timers hold \(got "1000h"\)\n$/,
        ],
        [['run', '--every', '10ms'], /^mesh: --every must be at least 100ms \(got "10ms"\)\n$/],
        [['run', '--every', '5x'], /^mesh: --every takes a duration such as 500ms, 60s, 5m or 1h \(got "5x"\)\n$/],
        [['run', '--once', '--every', '1s'], /^mesh: give --once or --every, not both\n$/],
        [['run'], /^mesh: --once or --every is required/],
        [['--nodes', '--dry-run'], /^mesh: unknown option --dry-run for mesh --nodes;/],
        [['--services', '--node', 'node1'], /^mesh: unknown option --node for mesh --services;/],
        [['failed', '--to', 'node1'], /^mesh: unknown option --to for mesh failed;/],
        [['failed', '--protocol', 'nope'], /^mesh: unknown protocol "nope"; services.config.ts declares: deliveries\n$/],
        [['failed', '--node', 'node9'], /^mesh: unknown node "node9"/],
        [['retry', '--every', '1s'], /^mesh: unknown option --every for mesh retry;/],
        [['rename-node', '--from', 'old'], /^mesh: --to is required\n$/],
        [['rename-node', '--from', 'node1', '--to', 'node2'], /^mesh: node "node1" is still in nodes.config.ts/],
        [['rename-node', '--from', 'old', '--to', 'node9'], /^mesh: unknown node "node9": rename it in nodes.config.ts first/],
        [
          ['reassign', '--service', SERVICE, '--entity', '1', '--to', 'node9'],
          /^mesh: unknown node "node9"; nodes.config.ts declares: node1, node2\n$/,
        ],
        [['status', '--service', SERVICE, '--entity', '1', '--node', 'node1'], /^mesh: unknown option --node for mesh status;/],
        [['exec', '--node', 'node1', '--service', SERVICE, '--', 'true'], /^mesh: unknown option --service for mesh exec;/],
        [['demo', '--db', 'sqlite::memory:'], /^mesh: unknown option --db for mesh demo;/],
      ];
      for (const [args, stderr] of cases) {
        const run = await project.mesh(args);
        expect({ args, code: run.code, stdout: run.stdout }).toEqual({ args, code: 2, stdout: '' });
        expect(run.stderr, args.join(' ')).toMatch(stderr);
      }
      expect(await snapshot(project.database)).toEqual(before);
    }, 300_000);

    it('each --dry-run says what would change, as a table and as JSON, and writes nothing', async () => {
      const project = await newProject(dialect.name, { accounts: 4, recordsPerAccount: 2 }, cleanups);
      project.configure({ nodes: [NODE(1), NODE(2)] });
      ok(await project.mesh(['migrate']));
      let before = await snapshot(project.database);

      const assign = await project.mesh(['assign', '--dry-run', '--json']);
      expect(jsonOf(assign)).toEqual([
        {
          service: SERVICE,
          assigned: 4,
          byNode: { node1: 2, node2: 2 },
          unassigned: 0,
          reasons: [],
          dryRun: true,
          moves: [
            { id: 1, from: null, to: 'node1' },
            { id: 2, from: null, to: 'node2' },
            { id: 3, from: null, to: 'node1' },
            { id: 4, from: null, to: 'node2' },
          ],
        },
      ]);
      const assignTable = ok(await project.mesh(['assign', '--dry-run']));
      expect(words(assignTable.stdout)).toEqual([
        [`${SERVICE}:`, 'would', 'assign', '4', '(node1', '2,', 'node2', '2);', 'dry', 'run,', 'nothing', 'written'],
        ['ENTITY', 'NODE'],
        ['1', 'node1'],
        ['2', 'node2'],
        ['3', 'node1'],
        ['4', 'node2'],
      ]);
      expect(await snapshot(project.database)).toEqual(before);
      // The dry run did not move the round-robin position either: the real run places them the same way.
      ok(await project.mesh(['assign']));
      expect(await readAssignments(project.database)).toEqual({ 1: 'node1', 2: 'node2', 3: 'node1', 4: 'node2' });
      // Deliveries 1..8 of account ((k-1) % 4) + 1: 1 and 5 are account 1's; 3 is dead.
      await setRecordFlags(project.database, DELIVERIES, [1, 2, 4, 5, 6], { pushSuccess: true, pushAttempts: 1, pushNode: 'node1' });
      await setRecordFlags(project.database, DELIVERIES, [3], { pushSuccess: false, pushError: 'HTTP 400', pushAttempts: 10 });
      // Flags written by hand, behind mesh: the report counters follow after mesh recount.
      ok(await project.mesh(['recount']));
      before = await snapshot(project.database);

      const reassign = await project.mesh([
        'reassign',
        '--service',
        SERVICE,
        '--entity',
        '1',
        '--to',
        'node2',
        '--repush',
        '--dry-run',
        '--json',
      ]);
      expect(jsonOf(reassign)).toEqual({
        service: SERVICE,
        entity: 1,
        from: 'node1',
        to: 'node2',
        repushed: true,
        dryRun: true,
        repushRecords: { deliveries: 2 },
      });
      expect(ok(await project.mesh(['reassign', '--service', SERVICE, '--entity', '1', '--repush', '--dry-run'])).stdout).toBe(
        `${SERVICE}: entity 1 would move from node1 to node2; its 2 records would be pushed again from the beginning; dry run, nothing written\n`,
      );

      const drain = await project.mesh(['drain', '--node', 'node1', '--dry-run', '--json']);
      expect(jsonOf(drain)).toEqual({
        node: 'node1',
        dryRun: true,
        services: [
          {
            service: SERVICE,
            moved: 2,
            byNode: { node2: 2 },
            stayed: 0,
            reasons: [],
            moves: [
              { id: 1, from: 'node1', to: 'node2' },
              { id: 3, from: 'node1', to: 'node2' },
            ],
          },
        ],
      });
      expect(words(ok(await project.mesh(['drain', '--node', 'node1', '--dry-run'])).stdout).slice(1)).toEqual([
        ['ENTITY', 'FROM', 'TO'],
        ['1', 'node1', 'node2'],
        ['3', 'node1', 'node2'],
      ]);

      const retry = await project.mesh(['retry', '--dry-run', '--json']);
      expect(jsonOf(retry)).toEqual([{ service: SERVICE, protocol: 'deliveries', revived: 1 }]);
      expect(ok(await project.mesh(['retry', '--dry-run'])).stdout).toBe(
        `${SERVICE} deliveries: 1 dead record would be pending again; dry run, nothing written\n`,
      );

      expect(jsonOf(await project.mesh(['rebalance', '--dry-run', '--json']))).toEqual([
        { service: SERVICE, moves: [], stuck: 0, dryRun: true },
      ]);
      expect(ok(await project.mesh(['migrate', '--dry-run'])).stdout).toBe('nothing to do: the database is up to date\n');
      expect(await snapshot(project.database)).toEqual(before);

      // The real commands do write: each dry run above was a real plan that was not applied.
      ok(await project.mesh(['retry']));
      expect(await snapshot(project.database)).not.toEqual(before);
    });

    it('a node renamed in nodes.config.ts: commands warn with counts and the fix; rename-node --dry-run counts, rename-node renames', async () => {
      const project = await newProject(dialect.name, { accounts: 4, recordsPerAccount: 2 }, cleanups);
      project.configure({ nodes: [NODE(1), NODE(2)] });
      ok(await project.mesh(['migrate']));
      ok(await project.mesh(['assign']));
      // Account 1 (deliveries 1, 5) and 3 (3, 7) are on node1; 1 and 3 were delivered there, not pulled yet.
      await setRecordFlags(project.database, DELIVERIES, [1, 3], { pushSuccess: true, pushAttempts: 1, pushNode: 'node1' });
      project.configure({ nodes: [NODE(1, { name: 'node1b' }), NODE(2)] });

      const warning =
        'mesh: warning: node "node1" is not in nodes.config.ts but holds 2 entities (micro.emails.timeline 2) and 2 records delivered and not pulled yet; ' +
        'if it was renamed: mesh rename-node --from node1 --to NEW_NAME; if it was removed: mesh drain --node node1 (see README, "Renaming or removing a node")\n';
      for (const args of [
        ['--nodes'],
        ['--services'],
        ['assign'],
        ['rebalance', '--dry-run'],
        ['retry', '--dry-run'],
        ['failed'],
        ['status', '--service', SERVICE, '--entity', '1'],
      ]) {
        const run = await project.mesh(args);
        expect(run.stderr, args.join(' ')).toContain(warning);
      }
      // assign warned, and did not fill the renamed node as if it were empty: nothing is unassigned, so nothing moved.
      expect(await readAssignments(project.database)).toEqual({ 1: 'node1', 2: 'node2', 3: 'node1', 4: 'node2' });
      const before = await snapshot(project.database);

      const dry = await project.mesh(['rename-node', '--from', 'node1', '--to', 'node1b', '--dry-run', '--json']);
      expect(jsonOf(dry)).toEqual({
        from: 'node1',
        to: 'node1b',
        dryRun: true,
        entities: [{ service: SERVICE, entities: 2 }],
        records: [{ service: SERVICE, protocol: 'deliveries', records: 2 }],
      });
      expect(await snapshot(project.database)).toEqual(before);

      await ensureNodeFailing(project.database, 'node1', 'connect ECONNREFUSED');
      const renamed = await project.mesh(['rename-node', '--from', 'node1', '--to', 'node1b']);
      expect(renamed.code).toBe(0);
      expect(renamed.stderr).toBe('');
      expect(renamed.stdout.split('\n')[0]).toBe('node1 -> node1b: renamed 2 entities and 2 delivered records');
      expect(await readAssignments(project.database)).toEqual({ 1: 'node1b', 2: 'node2', 3: 'node1b', 4: 'node2' });
      const pushNodes = await project.database.db
        .selectFrom('delivery')
        .select(['id', 'deliveries_push_node'])
        .where('id', 'in', [1, 3])
        .orderBy('id')
        .execute();
      expect(pushNodes.map((r) => r.deliveries_push_node)).toEqual(['node1b', 'node1b']);
      // Its back-off follows it: the renamed node is not called before its next try.
      const health = await readNodeHealth(project.database.db);
      expect([...health.keys()]).toEqual(['node1b']);
      expect(health.get('node1b')?.lastError).toBe('connect ECONNREFUSED');
      const nodes = await project.mesh(['--nodes']);
      expect(nodes.code).toBe(0);
      expect(nodes.stderr).toContain('node1b');
      expect(nodes.stderr).toContain('connect ECONNREFUSED');
    });

    it('--nodes: one row per node and service with the limits, processed work counted where it was done, filters', async () => {
      const project = await newProject(dialect.name, { accounts: 4, recordsPerAccount: 2 }, cleanups);
      project.configure({ nodes: [NODE(1, { maxEntities: 3 }), NODE(2, { maxEntities: 4, maxWeight: 10 })] });
      ok(await project.mesh(['migrate']));
      // --quiet: the work is done, stdout stays empty.
      expect(await project.mesh(['assign', '--quiet'])).toEqual({ code: 0, stdout: '', stderr: '' });
      expect(await readAssignments(project.database)).toEqual({ 1: 'node1', 2: 'node2', 3: 'node1', 4: 'node2' });
      // Account 1's deliveries 1 and 5 were processed on node1; then node1 is drained and account 1 sits on node2.
      await setRecordFlags(project.database, DELIVERIES, [1, 5], {
        pushSuccess: true,
        pushAttempts: 1,
        pushNode: 'node1',
        pullSuccess: true,
      });
      ok(await project.mesh(['recount']));
      ok(await project.mesh(['drain', '--node', 'node1']));
      expect(await readAssignments(project.database)).toEqual({ 1: 'node2', 2: 'node2', 3: 'node2', 4: 'node2' });

      const rows = jsonOf<Record<string, unknown>[]>(await project.mesh(['--nodes', '--json'], {}));
      expect(rows.map((r) => [r.name, r.service, r.entities, r.maxEntities, r.weight, r.maxWeight, r.pending, r.processed])).toEqual([
        ['node1', SERVICE, 0, 3, 0, null, 0, 2],
        ['node2', SERVICE, 4, 4, 4, 10, 6, 0],
      ]);
      expect(words(ok(await project.mesh(['--nodes'])).stdout)).toEqual([
        ['NAME', 'URL', 'SERVICE', 'ENTITIES', 'WEIGHT', 'PENDING', 'FAILED', 'PROCESSED', 'HEALTH'],
        ['node1', 'http://127.0.0.1:3001', SERVICE, '0/3', '0', '0', '0', '2', 'ok'],
        ['node2', 'http://127.0.0.1:3002', SERVICE, '4/4', '4/10', '6', '0', '0', 'ok'],
      ]);
      const one = jsonOf<{ name: string }[]>(await project.mesh(['--nodes', '--node', 'node2', '--json']));
      expect(one.map((r) => r.name)).toEqual(['node2']);
      expect(jsonOf<unknown[]>(await project.mesh(['--nodes', '--service', SERVICE, '--json']))).toHaveLength(2);
      expect((await project.mesh(['--nodes', '--service', 'nope'])).code).toBe(2);
      expect(jsonOf<unknown[]>(await project.mesh(['--services', '--service', SERVICE, '--json']))).toHaveLength(1);
    });

    it('failed and retry narrow by --entity and --protocol; a capacity refusal of reassign exits 1 with nothing written', async () => {
      const project = await newProject(dialect.name, { accounts: 2, recordsPerAccount: 2 }, cleanups);
      project.configure({ nodes: [NODE(1, { maxEntities: 1 }), NODE(2, { maxEntities: 1 })] });
      ok(await project.mesh(['migrate']));
      ok(await project.mesh(['assign']));
      // Deliveries 1, 3 are account 1's; 2, 4 account 2's. All four dead.
      await setRecordFlags(project.database, DELIVERIES, [1, 2, 3, 4], { pushSuccess: false, pushError: 'HTTP 400', pushAttempts: 10 });
      const failed = jsonOf<{ id: unknown }[]>(await project.mesh(['failed', '--entity', '2', '--json']));
      expect(failed.map((r) => Number(r.id))).toEqual([2, 4]);
      expect(jsonOf<unknown[]>(await project.mesh(['failed', '--protocol', 'deliveries', '--json']))).toHaveLength(4);
      expect(jsonOf(await project.mesh(['retry', '--entity', '1', '--json']))).toEqual([
        { service: SERVICE, protocol: 'deliveries', revived: 2 },
      ]);
      expect(jsonOf<unknown[]>(await project.mesh(['failed', '--json']))).toHaveLength(2);

      const before = await snapshot(project.database);
      const full = await project.mesh(['reassign', '--service', SERVICE, '--entity', '1', '--to', 'node2']);
      expect(full).toEqual({
        code: 1,
        stdout: '',
        stderr: 'mesh: service micro.emails.timeline, entity 1: node2 has no room for weight 1: at maxEntities 1\n',
      });
      expect((await project.mesh(['reassign', '--service', SERVICE, '--entity', '1'])).code).toBe(1);
      expect(await snapshot(project.database)).toEqual(before);
    });
  });
}
