import { sql } from 'kysely';
import type { MeshConfig, ResolvedProtocol, ResolvedService } from '../../src/config/mesh-config.js';
import { validateConfig } from '../../src/config/validate-config.js';
import type { DialectName } from '../../src/db/database-url.js';
import { migrateDatabase } from '../../src/db/migrate-database.js';
import { openDatabase, type Database } from '../../src/db/open-database.js';
import { createDemoTables, seedDemoTablesFast } from '../../src/demo/demo-saas.js';
import { createTestDatabase, type TestDatabase } from './test-databases.js';

/** The plan tests' table: large enough, with fresh statistics, for the planners to choose as they do on real data. */
export const PLAN_ACCOUNTS = 400;
export const PLAN_RECORDS = 60_000;
export const PLAN_NODES = ['node1', 'node2', 'node3', 'node4'];
export const PLAN_BATCH = 500;

/** The demo schema's service, with a pull, on PLAN_NODES. */
export function planTestConfig(): MeshConfig {
  const result = validateConfig(
    PLAN_NODES.map((name) => ({ name, url: 'http://127.0.0.1:9', apiKey: 'unused', services: { 'micro.emails.timeline': {} } })),
    [
      {
        name: 'micro.emails.timeline',
        entity: { table: 'account', id: 'id', node: 'node_for_micro_emails_timeline', weight: 'weight' },
        assign: 'roundrobin',
        protocols: [
          {
            name: 'deliveries',
            table: 'delivery',
            id: 'id',
            sort: 'create_time',
            entityRef: 'id_account',
            batchSize: PLAN_BATCH,
            push: { path: '/api/1.0/deliveries/push.json' },
            pull: {
              statusPath: '/api/1.0/deliveries/status.json',
              path: '/api/1.0/deliveries/pull.json',
              columns: { hash: 'result_hash' },
            },
          },
        ],
      },
    ],
  );
  if (!result.ok) throw new Error(result.problems.map((p) => `${p.path}: ${p.message}`).join('; '));
  return result.config;
}

/** Fresh statistics, as after autovacuum or an operator's ANALYZE. */
export async function analyzePlanTables(database: Database): Promise<void> {
  if (database.dialect === 'mysql') await sql`analyze table account, delivery`.execute(database.db);
  else await sql`analyze`.execute(database.db);
}

/** A test database holding the demo tables, seeded and migrated for planTestConfig's service. */
export interface DemoFixture {
  test: TestDatabase;
  database: Database;
  config: MeshConfig;
  service: ResolvedService;
  protocol: ResolvedProtocol;
}

export async function openDemoFixture(dialect: DialectName, seed: { accounts: number; records: number }): Promise<DemoFixture> {
  const test = await createTestDatabase(dialect);
  const database = await openDatabase(test.url);
  const config = planTestConfig();
  const service = config.services[0]!;
  await createDemoTables(database);
  await seedDemoTablesFast(database, seed);
  const migrated = await migrateDatabase(database, config, { dryRun: false });
  if (migrated.problems.length > 0) throw new Error(`migrate: ${JSON.stringify(migrated.problems)}`);
  return { test, database, config, service, protocol: service.protocols[0]! };
}
