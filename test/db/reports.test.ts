import { sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import type { MeshConfig } from '../../src/config/mesh-config.js';
import type { DialectName } from '../../src/db/database-url.js';
import { migrateDatabase } from '../../src/db/migrate-database.js';
import type { Database } from '../../src/db/open-database.js';
import { rebuildRecordCounts } from '../../src/db/rebuild-record-counts.js';
import { entityStatus } from '../../src/report/entity-status.js';
import { failedRecordsPage } from '../../src/report/failed-records-page.js';
import { failedRecords } from '../../src/report/failed-records.js';
import { recordStates } from '../../src/report/record-states.js';
import { nodeReport } from '../../src/report/node-report.js';
import { serviceReport } from '../../src/report/service-report.js';
import { createSaasSchema, saasConfigObjects, SAAS_NODE_COLUMN, seedSaas, setRecordFlags, toMeshConfig } from '../helpers/saas-fixture.js';
import { DIALECTS, openTestDatabase } from '../helpers/test-databases.js';

const cleanups: (() => Promise<void>)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const WEIGHTS = [5, 7, 11, 13, 17];

/**
 * Three configured nodes (node3 holds nothing) and the SaaS service with a
 * second protocol, `profiles`, on the entity table itself and without pull:
 * its records are processed once pushed.
 */
/** The fields one row per (node, service) added, for nodes without limits. */
const NO_LIMITS = { service: 'micro.emails.timeline', maxEntities: null, maxWeight: null };

function meshConfig(): MeshConfig {
  const objects = saasConfigObjects({
    nodes: [
      { name: 'node1', url: 'http://127.0.0.1:3001', apiKey: 'secret-1' },
      { name: 'node2', url: 'https://ops:hunter2@node2.example.com:8443/', apiKey: 'secret-2' },
      { name: 'node3', url: 'http://127.0.0.1:3003', apiKey: 'secret-3' },
    ],
  });
  objects.services[0]!.protocols.push({
    name: 'profiles',
    table: 'account',
    id: 'id',
    sort: 'id',
    push: { path: '/api/1.0/profiles/push.json' },
  });
  return toMeshConfig(objects);
}

/**
 * Five accounts, three deliveries each (account a has deliveries a, a+5, a+10),
 * with flags set by hand to every state record-states.ts knows:
 *
 * | account | node     | deliveries                                              | profile          |
 * | 1       | node1    | 1 processed, 6 push error (retrying), 11 new            | processed        |
 * | 2       | node2    | 2 dead, 7 pull failed, 12 pushed not yet pulled          | push error       |
 * | 3       | node1    | 3 processed, 8 new, 13 pull error text (retrying)        | new              |
 * | 4       | (none)   | 4 processed, 9 dead, 14 new                              | new              |
 * | 5       | node-old | 5 processed, 10 new, 15 new (node gone from the config)  | dead             |
 */
async function reportDatabase(dialect: DialectName, config: MeshConfig): Promise<Database> {
  const test = await openTestDatabase(dialect);
  cleanups.push(test.cleanup);
  const database = test.database;
  await createSaasSchema(database);
  await seedSaas(database, { accounts: 5, recordsPerAccount: 3, accountWeight: (i) => WEIGHTS[i - 1]! });
  expect((await migrateDatabase(database, config, { dryRun: false })).problems).toEqual([]);

  const assign = (ids: number[], node: string) =>
    database.db
      .updateTable('account')
      .set({ [SAAS_NODE_COLUMN]: node })
      .where('id', 'in', ids)
      .execute();
  await assign([1, 3], 'node1');
  await assign([2], 'node2');
  await assign([5], 'node-old');

  const at = new Date(Date.UTC(2024, 5, 1, 12));
  const deliveries = { table: 'delivery', protocol: 'deliveries' };
  const profiles = { table: 'account', protocol: 'profiles' };
  // processed: pushed and pulled
  await setRecordFlags(database, deliveries, [1, 3, 4, 5], {
    pushTime: at,
    pushSuccess: true,
    pushAttempts: 1,
    pullTime: at,
    pullSuccess: true,
  });
  // the last push failed and will be retried
  await setRecordFlags(database, deliveries, [6], { pushTime: at, pushSuccess: null, pushError: 'connect ETIMEDOUT', pushAttempts: 3 });
  // dead after maxAttempts
  await setRecordFlags(database, deliveries, [2, 9], { pushTime: at, pushSuccess: false, pushError: 'HTTP 500', pushAttempts: 10 });
  // the node reported a processing error
  await setRecordFlags(database, deliveries, [7], {
    pushTime: at,
    pushSuccess: true,
    pushAttempts: 1,
    pullTime: at,
    pullSuccess: false,
    pullError: 'boom',
  });
  // pushed, not pulled yet: still pending
  await setRecordFlags(database, deliveries, [12], { pushTime: at, pushSuccess: true, pushAttempts: 1 });
  // the last pull failed and will be retried
  await setRecordFlags(database, deliveries, [13], {
    pushTime: at,
    pushSuccess: true,
    pushAttempts: 1,
    pullTime: at,
    pullError: 'status timeout',
  });

  await setRecordFlags(database, profiles, [1], { pushTime: at, pushSuccess: true, pushAttempts: 1 });
  await setRecordFlags(database, profiles, [2], { pushTime: at, pushError: 'HTTP 502', pushAttempts: 1 });
  await setRecordFlags(database, profiles, [5], { pushTime: at, pushSuccess: false, pushError: 'HTTP 400', pushAttempts: 10 });
  // Flags written by hand, not by mesh: the report counters are rebuilt from them, as `mesh recount` does.
  const recount = await rebuildRecordCounts(database, config);
  expect(recount.flatMap((r) => r.corrections).length).toBeGreaterThan(0);
  return database;
}

for (const dialect of DIALECTS) {
  describe.skipIf(!dialect.available)(`reports on ${dialect.name}`, () => {
    it('nodeReport counts entities, weight and records per node', async () => {
      const config = meshConfig();
      const database = await reportDatabase(dialect.name, config);

      const rows = await nodeReport(database, config);

      expect(rows).toEqual([
        {
          name: 'node1',
          url: 'http://127.0.0.1:3001',
          services: ['micro.emails.timeline'],
          entities: 2,
          weight: 16,
          pending: 3,
          failed: 2,
          processed: 3,
          ...NO_LIMITS,
          health: 'ok',
          failingSince: null,
          lastError: null,
          nextTryAt: null,
        },
        {
          // The URL is shown without its credentials.
          name: 'node2',
          url: 'https://node2.example.com:8443/',
          services: ['micro.emails.timeline'],
          entities: 1,
          weight: 7,
          pending: 1,
          failed: 3,
          processed: 0,
          ...NO_LIMITS,
          health: 'ok',
          failingSince: null,
          lastError: null,
          nextTryAt: null,
        },
        {
          name: 'node3',
          url: 'http://127.0.0.1:3003',
          services: ['micro.emails.timeline'],
          entities: 0,
          weight: 0,
          pending: 0,
          failed: 0,
          processed: 0,
          ...NO_LIMITS,
          health: 'ok',
          failingSince: null,
          lastError: null,
          nextTryAt: null,
        },
        {
          // No longer in nodes.config.ts, but still holding account 5.
          name: 'node-old',
          url: null,
          services: [],
          entities: 1,
          weight: 17,
          pending: 2,
          failed: 1,
          processed: 1,
          ...NO_LIMITS,
          health: 'ok',
          failingSince: null,
          lastError: null,
          nextTryAt: null,
        },
      ]);
    });

    it('serviceReport counts entities, unassigned ones and records per service', async () => {
      const config = meshConfig();
      const database = await reportDatabase(dialect.name, config);

      expect(await serviceReport(database, config)).toEqual([
        // 20 records: 6 pending, 7 failed, 5 processed, and 2 of the unassigned account 4 that are none of these.
        { service: 'micro.emails.timeline', nodes: 3, entities: 5, unassigned: 1, pending: 6, failed: 7, processed: 5 },
      ]);
    });

    it('entityStatus gives the node and the counts per protocol of one entity', async () => {
      const config = meshConfig();
      const database = await reportDatabase(dialect.name, config);
      const service = config.services[0]!;

      expect(await entityStatus(database, service, '1')).toEqual({
        service: 'micro.emails.timeline',
        entity: '1',
        node: 'node1',
        protocols: [
          { protocol: 'deliveries', pending: 1, failed: 1, processed: 1 },
          { protocol: 'profiles', pending: 0, failed: 0, processed: 1 },
        ],
      });
      expect(await entityStatus(database, service, '2')).toEqual({
        service: 'micro.emails.timeline',
        entity: '2',
        node: 'node2',
        protocols: [
          { protocol: 'deliveries', pending: 1, failed: 2, processed: 0 },
          { protocol: 'profiles', pending: 0, failed: 1, processed: 0 },
        ],
      });
      expect(await entityStatus(database, service, '3')).toEqual({
        service: 'micro.emails.timeline',
        entity: '3',
        node: 'node1',
        protocols: [
          { protocol: 'deliveries', pending: 1, failed: 1, processed: 1 },
          { protocol: 'profiles', pending: 1, failed: 0, processed: 0 },
        ],
      });
      // Unassigned: its new records are not pending, since no node will take them yet.
      expect(await entityStatus(database, service, '4')).toEqual({
        service: 'micro.emails.timeline',
        entity: '4',
        node: null,
        protocols: [
          { protocol: 'deliveries', pending: 0, failed: 1, processed: 1 },
          { protocol: 'profiles', pending: 0, failed: 0, processed: 0 },
        ],
      });
      expect(await entityStatus(database, service, '5')).toEqual({
        service: 'micro.emails.timeline',
        entity: '5',
        node: 'node-old',
        protocols: [
          { protocol: 'deliveries', pending: 2, failed: 0, processed: 1 },
          { protocol: 'profiles', pending: 0, failed: 1, processed: 0 },
        ],
      });
      expect(await entityStatus(database, service, '99')).toBeNull();
    });

    it('failedRecords and failedRecordsPage read the failed records through index ranges: the same records, in the same order, as the failed state', async () => {
      const config = meshConfig();
      const database = await reportDatabase(dialect.name, config);
      const service = config.services[0]!;
      // Every failed record by the state's own condition over the whole table, oldest first, protocol after protocol.
      const expected: string[] = [];
      for (const protocol of service.protocols) {
        const { failed } = recordStates(protocol, database.dialect);
        const { rows } = await sql<{ id: unknown }>`
          select r.${sql.ref(protocol.id)} as id from ${sql.table(protocol.table)} r where ${failed}
          order by r.${sql.ref(protocol.sort)}, r.${sql.ref(protocol.id)}`.execute(database.db);
        expected.push(...rows.map((row) => `${protocol.name}:${String(row.id)}`));
      }
      // Accounts 2, 6, 7, 9 and 13 of deliveries; profiles 2 and 5 (see reportDatabase).
      expect(expected.length).toBe(7);
      const listed = await failedRecords(database, config, { limit: 100 });
      expect(listed.map((r) => `${r.protocol}:${String(r.id)}`)).toEqual(expected);
      const paged: string[] = [];
      for (let offset = 0; offset < expected.length + 2; offset += 2) {
        const page = await failedRecordsPage(database, config, {}, { offset, limit: 2 });
        expect(page.total).toBe(expected.length);
        paged.push(...page.records.map((r) => `${r.protocol}:${String(r.id)}`));
      }
      expect(paged).toEqual(expected);
      const dead = await failedRecordsPage(database, config, { state: 'dead' }, { offset: 0, limit: 50 });
      expect(dead.records.map((r) => `${r.protocol}:${String(r.id)}`).sort()).toEqual(['deliveries:2', 'deliveries:9', 'profiles:5']);
    });

    it('counts nothing on an empty database', async () => {
      const config = meshConfig();
      const test = await openTestDatabase(dialect.name);
      cleanups.push(test.cleanup);
      await createSaasSchema(test.database);
      await migrateDatabase(test.database, config, { dryRun: false });

      expect(
        (await nodeReport(test.database, config)).map((r) => [r.name, r.entities, r.weight, r.pending, r.failed, r.processed]),
      ).toEqual([
        ['node1', 0, 0, 0, 0, 0],
        ['node2', 0, 0, 0, 0, 0],
        ['node3', 0, 0, 0, 0, 0],
      ]);
      expect(await serviceReport(test.database, config)).toEqual([
        { service: 'micro.emails.timeline', nodes: 3, entities: 0, unassigned: 0, pending: 0, failed: 0, processed: 0 },
      ]);
    });
  });
}
