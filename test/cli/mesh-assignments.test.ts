import { afterEach, describe, expect, it } from 'vitest';
import { jsonOf, newProject, NODE, ok, SERVICE, SERVICE_KEYS, words } from '../helpers/cli-project.js';
import { readAssignments, setRecordFlags } from '../helpers/saas-fixture.js';
import { DIALECTS } from '../helpers/test-databases.js';

const cleanups: (() => Promise<void>)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

for (const dialect of DIALECTS) {
  describe.skipIf(!dialect.available)(`mesh on ${dialect.name}`, () => {
    it('mesh assign exits 1 and says why when capacity is short', async () => {
      const project = await newProject(dialect.name, { accounts: 3, recordsPerAccount: 1 }, cleanups);
      project.configure({ nodes: [NODE(1, { maxEntities: 1 }), NODE(2, { maxEntities: 1 })] });
      ok(await project.mesh(['migrate']));

      const run = await project.mesh(['assign']);

      expect(run).toEqual({
        code: 1,
        stdout: 'micro.emails.timeline: assigned 2 (node1 1, node2 1)\n',
        stderr:
          'mesh assign: micro.emails.timeline: 1 entity stays unassigned: no node has room for weight 1: node1 at maxEntities 1, node2 at maxEntities 1\n',
      });
      expect(await readAssignments(project.database)).toEqual({ 1: 'node1', 2: 'node2', 3: null });

      const json = await project.mesh(['assign', '--service', SERVICE, '--json']);
      expect(jsonOf(json, 1)).toEqual([
        {
          service: SERVICE,
          assigned: 0,
          byNode: {},
          unassigned: 1,
          reasons: ['no node has room for weight 1: node1 at maxEntities 1, node2 at maxEntities 1'],
          dryRun: false,
        },
      ]);

      const services = await project.mesh(['--services', '--json']);
      expect(jsonOf(services)).toEqual([{ service: SERVICE, nodes: 2, entities: 3, unassigned: 1, pending: 2, failed: 0, processed: 0 }]);
    });

    it('mesh --services as a table and as JSON, with records in every state', async () => {
      const project = await newProject(dialect.name, { accounts: 3, recordsPerAccount: 3 }, cleanups);
      project.configure({ nodes: [NODE(1), NODE(2), NODE(3)] });
      ok(await project.mesh(['migrate']));
      ok(await project.mesh(['assign']));
      const deliveries = { table: 'delivery', protocol: 'deliveries' };
      // Deliveries 1..9, account ((k-1) % 3) + 1: node1 has 1,4,7; node2 2,5,8; node3 3,6,9.
      await setRecordFlags(project.database, deliveries, [1, 2, 4], { pushSuccess: true, pushAttempts: 1, pullSuccess: true });
      await setRecordFlags(project.database, deliveries, [5], { pushError: 'HTTP 503', pushAttempts: 2 });
      await setRecordFlags(project.database, deliveries, [6], { pushSuccess: false, pushError: 'HTTP 400', pushAttempts: 10 });
      await setRecordFlags(project.database, deliveries, [8], {
        pushSuccess: true,
        pushAttempts: 1,
        pullSuccess: false,
        pullError: 'bad template',
      });
      await setRecordFlags(project.database, deliveries, [9], { pushSuccess: true, pushAttempts: 1 });
      // Flags written by hand, behind mesh: the report counters follow after mesh recount.
      expect(ok(await project.mesh(['recount'])).stdout).toContain('counters corrected');

      const table = await project.mesh(['--services']);
      ok(table);
      expect(words(table.stdout)).toEqual([
        ['SERVICE', 'NODES', 'ENTITIES', 'UNASSIGNED', 'PENDING', 'FAILED', 'PROCESSED'],
        [SERVICE, '3', '3', '0', '3', '3', '3'],
      ]);
      const json = await project.mesh(['--services', '--json']);
      const rows = jsonOf<Record<string, unknown>[]>(json);
      expect(rows).toEqual([{ service: SERVICE, nodes: 3, entities: 3, unassigned: 0, pending: 3, failed: 3, processed: 3 }]);
      expect(Object.keys(rows[0]!)).toEqual(SERVICE_KEYS);

      const nodes = jsonOf<{ name: string; pending: number; failed: number; processed: number }[]>(
        await project.mesh(['--nodes', '--json']),
      );
      expect(nodes.map((n) => [n.name, n.pending, n.failed, n.processed])).toEqual([
        ['node1', 1, 0, 2],
        ['node2', 0, 2, 1],
        ['node3', 2, 1, 0],
      ]);

      const status = await project.mesh(['status', '--service', SERVICE, '--entity', '2', '--json']);
      ok(status);
      expect(jsonOf(status)).toEqual({
        service: SERVICE,
        entity: '2',
        node: 'node2',
        protocols: [{ protocol: 'deliveries', pending: 0, failed: 2, processed: 1 }],
      });
      const statusTable = await project.mesh(['status', '--service', SERVICE, '--entity', '3']);
      ok(statusTable);
      expect(statusTable.stdout.split('\n')[0]).toBe('micro.emails.timeline, entity 3: node node3');
      expect(words(statusTable.stdout).slice(1)).toEqual([
        ['PROTOCOL', 'PENDING', 'FAILED', 'PROCESSED'],
        ['deliveries', '2', '1', '0'],
      ]);
      expect(await project.mesh(['status', '--service', SERVICE, '--entity', '99'])).toEqual({
        code: 2,
        stdout: '',
        stderr: 'mesh: service micro.emails.timeline: no entity 99 in table account\n',
      });
      expect(await project.mesh(['status', '--service', 'micro.nope', '--entity', '1'])).toEqual({
        code: 2,
        stdout: '',
        stderr: 'mesh: unknown service "micro.nope"; services.config.ts declares: micro.emails.timeline\n',
      });
    });

    it("mesh reassign --to moves one entity; --repush clears its records' flags", async () => {
      const project = await newProject(dialect.name, { accounts: 4, recordsPerAccount: 2 }, cleanups);
      project.configure({ nodes: [NODE(1), NODE(2)] });
      ok(await project.mesh(['migrate']));
      ok(await project.mesh(['assign']));
      const all = [1, 2, 3, 4, 5, 6, 7, 8];
      await setRecordFlags(project.database, { table: 'delivery', protocol: 'deliveries' }, all, {
        pushSuccess: true,
        pushAttempts: 1,
        pullSuccess: true,
      });
      ok(await project.mesh(['recount']));
      const pushed = async () =>
        (await project.database.db.selectFrom('delivery').select(['id', 'deliveries_push_success']).orderBy('id').execute())
          .filter((r) => r.deliveries_push_success !== null)
          .map((r) => Number(r.id));

      const moved = await project.mesh(['reassign', '--service', SERVICE, '--entity', '1', '--to', 'node2']);
      expect(moved).toEqual({ code: 0, stdout: 'micro.emails.timeline: entity 1 moved from node1 to node2\n', stderr: '' });
      expect(await readAssignments(project.database)).toEqual({ 1: 'node2', 2: 'node2', 3: 'node1', 4: 'node2' });
      expect(await pushed()).toEqual(all);

      const repushed = await project.mesh(['reassign', '--service', SERVICE, '--entity', '3', '--to', 'node2', '--repush', '--json']);
      ok(repushed);
      expect(jsonOf(repushed)).toEqual({
        service: SERVICE,
        entity: 3,
        from: 'node1',
        to: 'node2',
        repushed: true,
        dryRun: false,
        repushRecords: { deliveries: 2 },
      });
      expect(await readAssignments(project.database)).toEqual({ 1: 'node2', 2: 'node2', 3: 'node2', 4: 'node2' });
      // Account 3's deliveries are 3 and 7.
      expect(await pushed()).toEqual([1, 2, 4, 5, 6, 8]);

      expect(await project.mesh(['reassign', '--service', SERVICE, '--entity', '3', '--to', 'node9'])).toEqual({
        code: 2,
        stdout: '',
        stderr: 'mesh: unknown node "node9"; nodes.config.ts declares: node1, node2\n',
      });
      expect(await project.mesh(['reassign', '--service', SERVICE, '--to', 'node1'])).toEqual({
        code: 2,
        stdout: '',
        stderr: 'mesh: --entity is required\n',
      });
      expect(await readAssignments(project.database)).toEqual({ 1: 'node2', 2: 'node2', 3: 'node2', 4: 'node2' });
    });

    it('mesh rebalance --dry-run writes nothing; mesh rebalance and mesh drain move entities', async () => {
      const project = await newProject(dialect.name, { accounts: 6, recordsPerAccount: 1 }, cleanups);
      project.configure({ nodes: [NODE(1), NODE(2)] });
      ok(await project.mesh(['migrate']));
      ok(await project.mesh(['assign']));
      const before = { 1: 'node1', 2: 'node2', 3: 'node1', 4: 'node2', 5: 'node1', 6: 'node2' };
      expect(await readAssignments(project.database)).toEqual(before);

      // A node is added.
      project.configure({ nodes: [NODE(1), NODE(2), NODE(3)] });
      const dry = await project.mesh(['rebalance', '--dry-run']);
      expect(dry).toEqual({
        code: 0,
        stdout: [
          'micro.emails.timeline: 2 moves (dry run, nothing written)',
          '  entity 5: node1 -> node3',
          '  entity 6: node2 -> node3',
          '',
        ].join('\n'),
        stderr: '',
      });
      expect(await readAssignments(project.database)).toEqual(before);

      const done = await project.mesh(['rebalance', '--service', SERVICE, '--json']);
      ok(done);
      expect(jsonOf(done)).toEqual([
        {
          service: SERVICE,
          moves: [
            { id: 5, from: 'node1', to: 'node3' },
            { id: 6, from: 'node2', to: 'node3' },
          ],
          stuck: 0,
          dryRun: false,
        },
      ]);
      expect(await readAssignments(project.database)).toEqual({ 1: 'node1', 2: 'node2', 3: 'node1', 4: 'node2', 5: 'node3', 6: 'node3' });

      const drained = await project.mesh(['drain', '--node', 'node3']);
      expect(drained).toEqual({ code: 0, stdout: 'micro.emails.timeline: moved 2 off node3 (node1 1, node2 1)\n', stderr: '' });
      const after = await readAssignments(project.database);
      expect(Object.values(after).filter((n) => n === 'node3')).toEqual([]);
      expect(Object.values(after).filter((n) => n === 'node1').length).toBe(3);
      expect(Object.values(after).filter((n) => n === 'node2').length).toBe(3);
    });
  });
}
