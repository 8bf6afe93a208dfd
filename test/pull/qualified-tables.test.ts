import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { assignService } from '../../src/assign/assign-service.js';
import { checkSchema } from '../../src/db/check-schema.js';
import { migrateDatabase } from '../../src/db/migrate-database.js';
import { pullRecords } from '../../src/pull/pull-records.js';
import { pushRecords } from '../../src/push/push-records.js';
import { meshConfig, readNodeStore, waitUntil } from '../helpers/mesh-fixture.js';
import { useMeshSuite } from '../helpers/mesh-suite.js';
import { TEST_SERVER_URLS } from '../helpers/test-databases.js';

const { newTest, cleanups } = useMeshSuite({ nodes: 1, tempPrefix: 'workmesh-qualified-' });

/**
 * Tables in a schema of their own (PostgreSQL) or another database (MySQL),
 * configured as `app.account` / `app.delivery`, with decoys of the same
 * names in the connection's own schema that mesh must never touch.
 */
for (const dialect of ['postgres', 'mysql'] as const) {
  describe.skipIf(TEST_SERVER_URLS[dialect] === undefined)(`schema-qualified tables (${dialect})`, () => {
    it('work from migrate to push and pull, and leave same-named tables elsewhere alone', async () => {
      const t = await newTest(dialect, 1);
      const { db } = t.database;
      const app = `${new URL(t.url).pathname.slice(1)}_app`;
      if (dialect === 'postgres') {
        await sql`create schema ${sql.id(app)}`.execute(db);
      } else {
        await sql`create database ${sql.id(app)}`.execute(db);
        cleanups.push(async () => void (await sql`drop database if exists ${sql.id(app)}`.execute(db)));
      }
      const time = dialect === 'postgres' ? 'timestamptz' : 'datetime(6)';
      await sql`create table ${sql.table(`${app}.account`)} (id integer primary key, name varchar(100), weight integer)`.execute(db);
      await sql`create table ${sql.table(`${app}.delivery`)} (
        id bigint primary key, id_account integer not null, create_time ${sql.raw(time)} not null, subject varchar(200), result_hash varchar(64))`.execute(
        db,
      );
      await sql`insert into ${sql.table(`${app}.account`)} (id, name, weight) values (1, 'a', 1), (2, 'b', 1)`.execute(db);
      for (let id = 1; id <= 12; id++) {
        await sql`insert into ${sql.table(`${app}.delivery`)} (id, id_account, create_time, subject)
          values (${id}, ${(id % 2) + 1}, ${`2026-11-20 10:00:${String(60 - id).padStart(2, '0')}`}, ${`d${id}`})`.execute(db);
      }
      const config = meshConfig({ protocol: t.protocol, nodes: t.nodes, batchSize: 5 }, ({ services }) => {
        services[0]!.entity.table = `${app}.account`;
        services[0]!.protocols[0]!.table = `${app}.delivery`;
      });

      const migrated = await migrateDatabase(t.database, config, { dryRun: false });
      expect(migrated.problems).toEqual([]);
      expect(migrated.warnings).toEqual([]);
      expect(migrated.steps.find((step) => step.description.startsWith('statistics'))!.sql).toEqual(
        dialect === 'postgres'
          ? [`analyze "${app}"."account"`, `analyze "${app}"."delivery"`]
          : [`analyze table \`${app}\`.\`account\``, `analyze table \`${app}\`.\`delivery\``],
      );
      // The flags went to the qualified tables; the decoys (the fixture's own account and delivery) got nothing.
      const decoy = await sql<{ n: number }>`
        select count(*) as n from information_schema.columns where table_name = 'delivery' and column_name like ${`${t.protocol}%`}
          and table_schema = ${dialect === 'postgres' ? sql`current_schema()` : sql`database()`}`.execute(db);
      expect(Number(decoy.rows[0]!.n)).toBe(0);
      await checkSchema(t.database, config);
      expect((await migrateDatabase(t.database, config, { dryRun: false })).steps).toEqual([]);

      await assignService(db, config, config.services[0]!);
      expect(await pushRecords(t.database, config)).toMatchObject({ pushed: 12, failed: 0 });
      // Newest id first in time: (sort, id) order is the reverse of id order.
      expect(t.proxies[0]!.pushedIds()).toEqual([12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1]);
      await waitUntil(() => readNodeStore(t.backends[0]!.dataFile, t.protocol).filter((r) => r.done).length === 12, 'the node to process');
      expect(await pullRecords(t.database, config)).toMatchObject({ pulled: 12, failed: 0 });
      const { rows } = await sql<{ n: number }>`
        select count(*) as n from ${sql.table(`${app}.delivery`)} where result_hash is not null`.execute(db);
      expect(Number(rows[0]!.n)).toBe(12);
    });
  });
}
