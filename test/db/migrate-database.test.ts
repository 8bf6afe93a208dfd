import { afterEach, describe, expect, it } from 'vitest';
import type { MeshConfig } from '../../src/config/mesh-config.js';
import type { ServiceConfig } from '../../src/config/service-config.js';
import { migrateDatabase } from '../../src/db/migrate-database.js';
import type { Database } from '../../src/db/open-database.js';
import { readSchema } from '../../src/db/read-schema.js';
import { createSaasSchema, saasConfigObjects, seedSaas, toMeshConfig } from '../helpers/saas-fixture.js';
import { DIALECTS, openTestDatabase } from '../helpers/test-databases.js';

const cleanups: (() => Promise<void>)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const NODES = [
  { name: 'node1', url: 'http://127.0.0.1:3001', apiKey: 'k1' },
  { name: 'node2', url: 'http://127.0.0.1:3002', apiKey: 'k2' },
];

const DELIVERY_FLAGS = [
  'deliveries_push_time',
  'deliveries_push_success',
  'deliveries_push_error',
  'deliveries_push_attempts',
  'deliveries_push_node',
  'deliveries_pull_time',
  'deliveries_pull_success',
  'deliveries_pull_error',
];
const PROFILE_FLAGS = [
  'profiles_push_time',
  'profiles_push_success',
  'profiles_push_error',
  'profiles_push_attempts',
  'profiles_push_node',
];
const OWN_TABLES = [
  'workmesh_lease',
  'workmesh_migration',
  'workmesh_migration_lock',
  'workmesh_node_health',
  'workmesh_record_counts',
  'workmesh_run',
  'workmesh_state',
  'workmesh_stream_history',
  'workmesh_stream_totals',
];

/**
 * The SaaS service with a second protocol on the entity table itself
 * (no entityRef, no pull), so that both kinds of protocol are migrated.
 */
function configWith(change: (service: ServiceConfig) => void = () => undefined): MeshConfig {
  const objects = saasConfigObjects({ nodes: NODES });
  const service = objects.services[0]!;
  service.protocols.push({ name: 'profiles', table: 'account', id: 'id', sort: 'id', push: { path: '/api/1.0/profiles/push.json' } });
  change(service);
  return toMeshConfig(objects);
}

async function saasDatabase(dialect: (typeof DIALECTS)[number]['name']): Promise<Database> {
  const test = await openTestDatabase(dialect);
  cleanups.push(test.cleanup);
  await createSaasSchema(test.database);
  await seedSaas(test.database, { accounts: 3, recordsPerAccount: 2 });
  return test.database;
}

async function tableNames(database: Database): Promise<string[]> {
  return (await database.db.introspection.getTables()).map((t) => t.name).sort();
}

async function columnsOf(database: Database, table: string): Promise<Map<string, string>> {
  const found = (await database.db.introspection.getTables()).find((t) => t.name === table);
  return new Map((found?.columns ?? []).map((c) => [c.name, c.dataType.toLowerCase()]));
}

/** Every index of the table as `col1,col2`, sorted. */
async function indexesOf(database: Database, table: string): Promise<string[]> {
  const schema = (await readSchema(database, [table])).get(table);
  return (schema?.indexes ?? []).map((columns) => columns.join(',')).sort();
}

const EXPECTED_TYPES = {
  sqlite: { time: 'text', boolean: 'integer', text: 'text', counter: 'integer', node: 'varchar(191)' },
  mysql: { time: 'datetime', boolean: 'tinyint', text: 'text', counter: 'int', node: 'varchar' },
  postgres: { time: 'timestamptz', boolean: 'bool', text: 'text', counter: 'int4', node: 'varchar' },
} as const;

for (const dialect of DIALECTS) {
  describe.skipIf(!dialect.available)(`migrateDatabase on ${dialect.name}`, () => {
    it('creates its own tables, the node column, every flag column and the indexes', async () => {
      const database = await saasDatabase(dialect.name);
      const result = await migrateDatabase(database, configWith(), { dryRun: false });

      expect(result.problems).toEqual([]);
      expect(result.dryRun).toBe(false);
      expect(result.steps.map((s) => s.description)).toEqual([
        'own migration 0001-own-tables',
        'own migration 0002-node-health',
        'own migration 0003-stream-history',
        'own migration 0004-record-counts',
        'configured tables: 14 columns, 5 indexes',
        'statistics of the tables indexed: account, delivery',
        'report counters counted from the records (mesh recount): micro.emails.timeline deliveries, micro.emails.timeline profiles',
      ]);
      expect(result.steps[5]!.sql).toEqual(
        dialect.name === 'mysql' ? ['analyze table `account`', 'analyze table `delivery`'] : ['analyze "account"', 'analyze "delivery"'],
      );
      expect(await tableNames(database)).toEqual(['account', 'delivery', ...OWN_TABLES]);

      const types = EXPECTED_TYPES[dialect.name];
      const account = await columnsOf(database, 'account');
      expect([...account.keys()].sort()).toEqual(['id', 'name', 'node_for_micro_emails_timeline', ...PROFILE_FLAGS, 'weight'].sort());
      expect(account.get('node_for_micro_emails_timeline')).toBe(types.node);
      const delivery = await columnsOf(database, 'delivery');
      expect([...delivery.keys()].sort()).toEqual(['create_time', 'id', 'id_account', 'result_hash', 'subject', ...DELIVERY_FLAGS].sort());
      expect(DELIVERY_FLAGS.map((c) => delivery.get(c))).toEqual([
        types.time,
        types.boolean,
        types.text,
        types.counter,
        types.node,
        types.time,
        types.boolean,
        types.text,
      ]);

      expect((await indexesOf(database, 'account')).filter((i) => i !== 'id')).toEqual([
        'node_for_micro_emails_timeline',
        'profiles_push_success,id',
      ]);
      expect((await indexesOf(database, 'delivery')).filter((i) => i !== 'id')).toEqual([
        'deliveries_pull_success,deliveries_push_success,create_time,id',
        'deliveries_push_success,create_time,id',
        'id_account',
      ]);

      // Rows that were there before get no node and 0 attempts; the flags start empty.
      const rows = await database.db
        .selectFrom('delivery')
        .select(['id', 'deliveries_push_attempts', 'deliveries_push_success', 'deliveries_pull_time'])
        .orderBy('id')
        .execute();
      expect(
        rows.map((r) => [Number(r.id), Number(r.deliveries_push_attempts), r.deliveries_push_success, r.deliveries_pull_time]),
      ).toEqual([
        [1, 0, null, null],
        [2, 0, null, null],
        [3, 0, null, null],
        [4, 0, null, null],
        [5, 0, null, null],
        [6, 0, null, null],
      ]);
      const accounts = await database.db
        .selectFrom('account')
        .select(['id', 'node_for_micro_emails_timeline', 'profiles_push_attempts'])
        .orderBy('id')
        .execute();
      expect(accounts.map((a) => [Number(a.id), a.node_for_micro_emails_timeline, Number(a.profiles_push_attempts)])).toEqual([
        [1, null, 0],
        [2, null, 0],
        [3, null, 0],
      ]);
      const migrations = await database.db.selectFrom('workmesh_migration').select('name').execute();
      expect(migrations.map((m) => m.name).sort()).toEqual([
        '0001-own-tables',
        '0002-node-health',
        '0003-stream-history',
        '0004-record-counts',
      ]);
    });

    it('finds nothing to do the second time', async () => {
      const database = await saasDatabase(dialect.name);
      const config = configWith();
      await migrateDatabase(database, config, { dryRun: false });
      const indexesBefore = await indexesOf(database, 'delivery');

      const again = await migrateDatabase(database, config, { dryRun: false });
      expect(again).toEqual({ steps: [], problems: [], warnings: [], dryRun: false });
      expect(await indexesOf(database, 'delivery')).toEqual(indexesBefore);
      const dryAgain = await migrateDatabase(database, config, { dryRun: true });
      expect(dryAgain).toEqual({ steps: [], problems: [], warnings: [], dryRun: true });
    });

    it('in a dry run returns the SQL and writes nothing', async () => {
      const database = await saasDatabase(dialect.name);
      const before = await tableNames(database);
      const accountBefore = [...(await columnsOf(database, 'account')).keys()].sort();
      const deliveryBefore = [...(await columnsOf(database, 'delivery')).keys()].sort();

      const dry = await migrateDatabase(database, configWith(), { dryRun: true });

      expect(dry.dryRun).toBe(true);
      expect(dry.problems).toEqual([]);
      const q = dialect.name === 'mysql' ? '`' : '"';
      const [own, health, history, counts, configured] = dry.steps;
      expect(own!.description).toBe('own migration 0001-own-tables');
      expect(own!.sql.map((s) => s.split('(')[0]!.trim())).toEqual([
        `create table ${q}workmesh_state${q}`,
        `create table ${q}workmesh_lease${q}`,
        `create table ${q}workmesh_run${q}`,
        `create index ${q}workmesh_run_started_at${q} on ${q}workmesh_run${q}`,
      ]);
      expect(health!.description).toBe('own migration 0002-node-health');
      expect(health!.sql.map((s) => s.split('(')[0]!.trim())).toEqual([`create table ${q}workmesh_node_health${q}`]);
      expect(history!.description).toBe('own migration 0003-stream-history');
      expect(history!.sql.map((s) => s.split('(')[0]!.trim())).toEqual([
        `create table ${q}workmesh_stream_history${q}`,
        `create index ${q}workmesh_stream_history_finished_at${q} on ${q}workmesh_stream_history${q}`,
        `create table ${q}workmesh_stream_totals${q}`,
      ]);
      expect(counts!.description).toBe('own migration 0004-record-counts');
      expect(counts!.sql.map((s) => s.split('(')[0]!.trim())).toEqual([`create table ${q}workmesh_record_counts${q}`]);
      expect(configured!.description).toBe('configured tables: 14 columns, 5 indexes');
      const statements = configured!.sql;
      // MySQL and PostgreSQL alter each table once; SQLite adds one column per statement.
      const alters = statements.filter((s) => s.startsWith('alter table'));
      expect(alters.length).toBe(dialect.name === 'sqlite' ? 14 : 2);
      expect(statements.filter((s) => s.startsWith('create index'))).toEqual([
        `create index ${q}wm_account_node_for_micro_emails_timeline${q} on ${q}account${q} (${q}node_for_micro_emails_timeline${q})`,
        `create index ${q}wm_delivery_deliveries_push${q} on ${q}delivery${q} (${q}deliveries_push_success${q}, ${q}create_time${q}, ${q}id${q})`,
        `create index ${q}wm_delivery_deliveries_pull${q} on ${q}delivery${q} (${q}deliveries_pull_success${q}, ${q}deliveries_push_success${q}, ${q}create_time${q}, ${q}id${q})`,
        `create index ${q}wm_delivery_id_account${q} on ${q}delivery${q} (${q}id_account${q})`,
        `create index ${q}wm_account_profiles_push${q} on ${q}account${q} (${q}profiles_push_success${q}, ${q}id${q})`,
      ]);
      const joined = alters.join('\n');
      for (const column of [...DELIVERY_FLAGS, ...PROFILE_FLAGS, 'node_for_micro_emails_timeline']) {
        expect(joined).toContain(`add column ${q}${column}${q}`);
      }

      expect(await tableNames(database)).toEqual(before);
      expect([...(await columnsOf(database, 'account')).keys()].sort()).toEqual(accountBefore);
      expect([...(await columnsOf(database, 'delivery')).keys()].sort()).toEqual(deliveryBefore);
      expect(await indexesOf(database, 'delivery')).toEqual(dialect.name === 'sqlite' ? [] : ['id']);
    });

    it('reports a missing configured table and writes nothing, its own tables included', async () => {
      const database = await saasDatabase(dialect.name);
      const before = await tableNames(database);
      const config = configWith((service) => {
        service.protocols[0]!.table = 'delivery_archive';
      });

      const result = await migrateDatabase(database, config, { dryRun: false });

      expect(result).toEqual({
        steps: [],
        problems: ['service "micro.emails.timeline" protocol "deliveries": table "delivery_archive" does not exist'],
        warnings: [],
        dryRun: false,
      });
      expect(await tableNames(database)).toEqual(before);
      expect(before).toEqual(['account', 'delivery']);
      expect((await columnsOf(database, 'account')).has('node_for_micro_emails_timeline')).toBe(false);
    });

    it('reports missing configured columns and writes nothing', async () => {
      const database = await saasDatabase(dialect.name);
      const config = configWith((service) => {
        service.entity.weight = 'plan_weight';
        service.protocols[0]!.sort = 'sent_time';
      });

      const result = await migrateDatabase(database, config, { dryRun: false });

      expect(result.steps).toEqual([]);
      expect(result.problems).toEqual([
        'service "micro.emails.timeline": column "account.plan_weight" does not exist',
        'service "micro.emails.timeline" protocol "deliveries": column "delivery.sent_time" does not exist',
      ]);
      expect(await tableNames(database)).toEqual(['account', 'delivery']);
      expect([...(await columnsOf(database, 'delivery')).keys()].sort()).toEqual([
        'create_time',
        'id',
        'id_account',
        'result_hash',
        'subject',
      ]);
    });
  });
}
