import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { API_KEYS, jsonOf, newProject, NODE, NODE_KEYS, ok, SERVICE, tableNames, words } from '../helpers/cli-project.js';

/** The fields of a `mesh --nodes` row that these tests leave at their defaults. */
const NODE_ROW = { service: SERVICE, maxEntities: null, maxWeight: null, pending: 0, failed: 0, processed: 0 };
import { readAssignments, writeConfigFiles } from '../helpers/saas-fixture.js';
import { DIALECTS } from '../helpers/test-databases.js';

/** A node that never failed, as mesh --nodes --json shows its health. */
const HEALTHY = { health: 'ok', failingSince: null, lastError: null, nextTryAt: null };

const cleanups: (() => Promise<void>)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

for (const dialect of DIALECTS) {
  describe.skipIf(!dialect.available)(`mesh on ${dialect.name}`, () => {
    it('a new user configures two nodes and a service, and sees the assignments in mesh --nodes', async () => {
      const project = await newProject(dialect.name, { accounts: 4, recordsPerAccount: 2, accountWeight: (i) => i * 10 }, cleanups);
      project.configure({ nodes: [NODE(1), NODE(2)] });

      const migrated = await project.mesh(['migrate']);
      ok(migrated);
      expect(migrated.stdout).toContain('applied: own migration 0001-own-tables\n');
      expect(migrated.stdout).toContain('applied: configured tables: 9 columns, 4 indexes\n');

      const assigned = await project.mesh(['assign']);
      expect(assigned).toEqual({ code: 0, stdout: 'micro.emails.timeline: assigned 4 (node1 2, node2 2)\n', stderr: '' });

      const table = await project.mesh(['--nodes']);
      ok(table);
      expect(words(table.stdout)).toEqual([
        ['NAME', 'URL', 'SERVICE', 'ENTITIES', 'WEIGHT', 'PENDING', 'FAILED', 'PROCESSED', 'HEALTH'],
        ['node1', 'http://127.0.0.1:3001', SERVICE, '2', '40', '4', '0', '0', 'ok'],
        ['node2', 'http://127.0.0.1:3002', SERVICE, '2', '60', '4', '0', '0', 'ok'],
      ]);

      const json = await project.mesh(['--nodes', '--json']);
      ok(json);
      const rows = jsonOf<Record<string, unknown>[]>(json);
      expect(rows).toEqual([
        { ...NODE_ROW, ...HEALTHY, name: 'node1', url: 'http://127.0.0.1:3001', services: [SERVICE], entities: 2, weight: 40, pending: 4 },
        { ...NODE_ROW, ...HEALTHY, name: 'node2', url: 'http://127.0.0.1:3002', services: [SERVICE], entities: 2, weight: 60, pending: 4 },
      ]);
      expect(rows.map((row) => Object.keys(row))).toEqual([NODE_KEYS, NODE_KEYS]);
      expect(await readAssignments(project.database)).toEqual({ 1: 'node1', 2: 'node2', 3: 'node1', 4: 'node2' });
    });

    it('mesh migrate --dry-run prints the SQL and writes nothing; a second migrate has nothing to do', async () => {
      const project = await newProject(dialect.name, { accounts: 2, recordsPerAccount: 1 }, cleanups);
      // Config files elsewhere than the working folder, named with --nodes-config / --services-config.
      const { nodesConfig, servicesConfig } = writeConfigFiles(join(project.dir, 'config'), { nodes: [NODE(1)] });
      const paths = ['--nodes-config', nodesConfig, '--services-config', servicesConfig];

      const dry = await project.mesh(['migrate', '--dry-run', ...paths]);
      ok(dry);
      const lines = dry.stdout.trimEnd().split('\n');
      expect(lines.filter((l) => !l.startsWith('  '))).toEqual([
        'would apply: own migration 0001-own-tables',
        'would apply: own migration 0002-node-health',
        'would apply: own migration 0003-stream-history',
        'would apply: own migration 0004-record-counts',
        'would apply: configured tables: 9 columns, 4 indexes',
        'would apply: statistics of the tables indexed: account, delivery',
        'would apply: report counters counted from the records (mesh recount): micro.emails.timeline deliveries',
      ]);
      const q = dialect.name === 'mysql' ? '`' : '"';
      expect(lines).toContain(`  create index ${q}wm_delivery_id_account${q} on ${q}delivery${q} (${q}id_account${q});`);
      expect(await tableNames(project.database)).toEqual(['account', 'delivery']);

      const dryJson = await project.mesh(['migrate', '--dry-run', '--json', ...paths]);
      const planned = jsonOf<{ steps: { description: string; sql: string[] }[]; problems: string[]; dryRun: boolean }>(dryJson);
      expect(planned.dryRun).toBe(true);
      expect(planned.problems).toEqual([]);
      expect(planned.steps.map((s) => s.sql.length)).toEqual([4, 1, 3, 1, dialect.name === 'sqlite' ? 13 : 6, 2, 0]);
      expect(await tableNames(project.database)).toEqual(['account', 'delivery']);

      // Before the real migrate, the other commands say what is missing.
      const unprepared = await project.mesh(['assign', ...paths]);
      expect(unprepared.code).toBe(2);
      expect(unprepared.stdout).toBe('');
      expect(unprepared.stderr).toMatch(
        /^mesh: the database is not prepared: missing table workmesh_state, table workmesh_lease, table workmesh_run, table workmesh_node_health, table workmesh_stream_history, table workmesh_stream_totals, table workmesh_record_counts, column account\.node_for_micro_emails_timeline, .*; run mesh migrate\n$/,
      );

      ok(await project.mesh(['migrate', ...paths]));
      expect(await tableNames(project.database)).toEqual([
        'account',
        'delivery',
        'workmesh_lease',
        'workmesh_migration',
        'workmesh_migration_lock',
        'workmesh_node_health',
        'workmesh_record_counts',
        'workmesh_run',
        'workmesh_state',
        'workmesh_stream_history',
        'workmesh_stream_totals',
      ]);
      expect(await project.mesh(['migrate', ...paths])).toEqual({
        code: 0,
        stdout: 'nothing to do: the database is up to date\n',
        stderr: '',
      });
    });

    it('mesh migrate exits 2 and writes nothing when a configured table is missing', async () => {
      const project = await newProject(dialect.name, { accounts: 2, recordsPerAccount: 1 }, cleanups);
      await project.database.db.schema.dropTable('delivery').execute();
      project.configure({ nodes: [NODE(1)] });

      const run = await project.mesh(['migrate']);

      expect(run).toEqual({
        code: 2,
        stdout: '',
        stderr: 'mesh migrate: service "micro.emails.timeline" protocol "deliveries": table "delivery" does not exist\n',
      });
      expect(await tableNames(project.database)).toEqual(['account']);
    });

    it('an invalid configuration: exit 2, one line per problem, nothing written', async () => {
      const project = await newProject(dialect.name, { accounts: 2, recordsPerAccount: 1 }, cleanups);
      const { nodesConfig, servicesConfig } = project.configure({ nodes: [NODE(1), NODE(2)] });
      const services = readFileSync(servicesConfig, 'utf8');
      expect(services).toContain('"sort": "create_time",');
      writeFileSync(servicesConfig, services.replace(/\n\s*"sort": "create_time",/, ''));
      const nodes = readFileSync(nodesConfig, 'utf8');
      writeFileSync(
        nodesConfig,
        nodes
          .replace('"url": "http://127.0.0.1:3001"', '"url": "ftp://127.0.0.1:3001"')
          .replace(`"apiKey": "${API_KEYS[1]}"`, '"apiKey": process.env.WORKMESH_TEST_UNSET_NODE2_KEY'),
      );
      const expectedStderr = [
        'mesh: invalid configuration (3 problems):',
        '  services[0].protocols[0].sort: required',
        '  nodes[0].url: must be http or https (got ftp)',
        '  nodes[1].apiKey: required (is its environment variable set?)',
        '',
      ].join('\n');

      for (const args of [['migrate'], ['assign'], ['--nodes', '--json']]) {
        const run = await project.mesh(args);
        expect(run).toEqual({ code: 2, stdout: '', stderr: expectedStderr });
      }
      expect(await tableNames(project.database)).toEqual(['account', 'delivery']);
      const columns = (await project.database.db.introspection.getTables()).find((t) => t.name === 'account')!.columns.map((c) => c.name);
      expect(columns).toEqual(['id', 'name', 'weight']);
    });

    it('reads the database from WORKMESH_DB when --db is not given', async () => {
      const project = await newProject(dialect.name, { accounts: 1, recordsPerAccount: 1 }, cleanups);
      project.configure({ nodes: [NODE(1)] });
      ok(await project.mesh(['migrate', '--db', project.url], { db: false }));

      const run = await project.mesh(['--services', '--json'], { db: false, env: { WORKMESH_DB: project.url } });

      ok(run);
      expect(jsonOf(run)).toEqual([{ service: SERVICE, nodes: 1, entities: 1, unassigned: 1, pending: 0, failed: 0, processed: 0 }]);
    });
  });
}
