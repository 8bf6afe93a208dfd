import { sql, type RawBuilder } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkIndexReads, explain, passIndex } from '../../bench/query-plan.js';
import { assignService } from '../../src/assign/assign-service.js';
import type { MeshConfig, ResolvedProtocol, ResolvedService } from '../../src/config/mesh-config.js';
import { toDbBoolean } from '../../src/db/db-values.js';
import { flagIndexHints } from '../../src/db/flag-index-hints.js';
import { migrateDatabase } from '../../src/db/migrate-database.js';
import { openDatabase, type Database } from '../../src/db/open-database.js';
import { rebuildRecordCounts } from '../../src/db/rebuild-record-counts.js';
import { createDemoTables, seedDemoTablesFast } from '../../src/demo/demo-saas.js';
import { countRecords, recountRecords } from '../../src/report/count-records.js';
import { failedRecordsQuery } from '../../src/report/failed-records.js';
import { liveCountQueries } from '../../src/report/live-counts.js';
import { oldestPendingQueries } from '../../src/report/stream-lag.js';
import { analyzePlanTables, PLAN_ACCOUNTS, PLAN_RECORDS, planTestConfig } from '../helpers/plan-fixture.js';
import { createTestDatabase, DIALECTS, type TestDatabase } from '../helpers/test-databases.js';

/**
 * The reports cost the nodes and the work in flight, not the records (issue
 * 12.1): on a table where 95% of the records are processed, every query the
 * reports run reads the records table only as ranges of the push or pull
 * index (the pending, the delivered, the failed), never as a scan. The
 * queries are the engine's own, prefixed with EXPLAIN, on fresh statistics.
 * Without its index hints, MariaDB scanned the whole table for each of them.
 */

for (const dialect of DIALECTS) {
  describe.skipIf(!dialect.available)(`report query plans (${dialect.name})`, () => {
    let test: TestDatabase;
    let database: Database;
    let config: MeshConfig;
    let service: ResolvedService;
    let protocol: ResolvedProtocol;

    beforeAll(async () => {
      test = await createTestDatabase(dialect.name);
      database = await openDatabase(test.url);
      config = planTestConfig();
      service = config.services[0]!;
      protocol = service.protocols[0]!;
      await createDemoTables(database);
      await seedDemoTablesFast(database, { accounts: PLAN_ACCOUNTS, records: PLAN_RECORDS });
      expect((await migrateDatabase(database, config, { dryRun: false })).problems).toEqual([]);
      await assignService(database.db, config, service);
      // A mesh that keeps up: 95% processed, then 2.5% delivered and not pulled, the newest pending;
      // a dead record and a processing error in every thousand.
      const { flags } = protocol;
      const yes = toDbBoolean(database.dialect, true);
      const no = toDbBoolean(database.dialect, false);
      const set = (what: ReturnType<typeof sql>, where: ReturnType<typeof sql>) =>
        sql`update delivery set ${what} where ${where}`.execute(database.db);
      await set(sql`${sql.ref(flags.pushSuccess)} = ${yes}, ${sql.ref(flags.pushNode)} = 'node1'`, sql`id <= ${PLAN_RECORDS * 0.975}`);
      await set(sql`${sql.ref(flags.pullSuccess)} = ${yes}`, sql`id <= ${PLAN_RECORDS * 0.95}`);
      await set(
        sql`${sql.ref(flags.pullSuccess)} = ${no}, ${sql.ref(flags.pullError)} = 'bad'`,
        sql`id <= ${PLAN_RECORDS * 0.95} and id % 1000 = 5`,
      );
      await set(
        sql`${sql.ref(flags.pushSuccess)} = ${no}, ${sql.ref(flags.pushError)} = 'dead', ${sql.ref(flags.pullSuccess)} = null, ${sql.ref(flags.pushNode)} = null`,
        sql`id % 1000 = 7`,
      );
      await rebuildRecordCounts(database, config);
      await analyzePlanTables(database);
    }, 120_000);

    afterAll(async () => {
      await database?.close();
      await test?.drop();
    });

    const indexes = () => [passIndex(protocol, 'push'), passIndex(protocol, 'pull')];
    // The engine's own hints: MySQL is told the flag index (src/db/flag-index-hints.ts).
    const hints = () => flagIndexHints(database.db, database.dialect, protocol);
    async function expectIndexReads(query: RawBuilder<unknown>, what: string): Promise<void> {
      const plan = await explain(database, query);
      expect(checkIndexReads(database.dialect, plan, indexes()), `${what}, plan:\n${plan.join('\n')}`).toEqual([]);
    }

    it('counts the work in flight through the push and pull index ranges, and gives what a full count gives', async () => {
      const queries = liveCountQueries(database.dialect, service, protocol, await hints());
      expect(queries).toHaveLength(3);
      for (const [i, query] of queries.entries()) await expectIndexReads(query, `live count ${i}`);
      const fast = await countRecords(database.db, database.dialect, service, protocol, { byNode: true });
      const full = await recountRecords(database.db, database.dialect, service, protocol, { byNode: true });
      expect(Object.fromEntries(fast)).toEqual(Object.fromEntries(full));
    });

    it('finds the oldest pending record per node and the failed records through index ranges', async () => {
      for (const [i, query] of oldestPendingQueries(database.dialect, service, protocol, await hints()).entries()) {
        await expectIndexReads(query, `lag ${i}`);
      }
      const failed = failedRecordsQuery(database.dialect, service, protocol, { limit: 100 }, await hints());
      await expectIndexReads(failed, 'failed records');
      const { rows } = await failed.execute(database.db);
      expect(rows.length).toBe(100);
      const onNode = failedRecordsQuery(database.dialect, service, protocol, { node: 'node2', limit: 100 }, await hints());
      await expectIndexReads(onNode, 'failed records of one node');
    });
  });
}
