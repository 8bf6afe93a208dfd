import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import type { MeshConfig } from '../../src/config/mesh-config.js';
import type { ServiceConfig } from '../../src/config/service-config.js';
import { checkSchema, SchemaNotReadyError } from '../../src/db/check-schema.js';
import { migrateDatabase } from '../../src/db/migrate-database.js';
import type { Database } from '../../src/db/open-database.js';
import { NODE } from '../helpers/cli-project.js';
import { createSaasSchema, runMesh, saasConfigObjects, seedSaas, toMeshConfig, writeConfigFiles } from '../helpers/saas-fixture.js';
import { DIALECTS, openTestDatabase } from '../helpers/test-databases.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const NODES = [{ name: 'node1', url: 'http://127.0.0.1:3001', apiKey: 'k1' }];
const WHO = 'service "micro.emails.timeline" protocol "deliveries"';

function configWith(change: (service: ServiceConfig) => void = () => undefined): MeshConfig {
  const objects = saasConfigObjects({ nodes: NODES });
  change(objects.services[0]!);
  return toMeshConfig(objects);
}

async function saasDatabase(dialect: (typeof DIALECTS)[number]['name']): Promise<{ database: Database; url: string }> {
  const test = await openTestDatabase(dialect);
  cleanups.push(test.cleanup);
  await createSaasSchema(test.database);
  return { database: test.database, url: test.url };
}

async function tables(database: Database): Promise<string[]> {
  return (await database.db.introspection.getTables()).map((t) => t.name).sort();
}

async function schemaError(database: Database, config: MeshConfig): Promise<string> {
  try {
    await checkSchema(database, config);
  } catch (error) {
    expect(error).toBeInstanceOf(SchemaNotReadyError);
    return (error as Error).message;
  }
  throw new Error('checkSchema passed');
}

for (const { name: dialect, available } of DIALECTS) {
  describe.skipIf(!available)(`schema checks against the database (${dialect})`, () => {
    it('a pull.columns target that does not exist stops migrate and every command, naming service, protocol and column', async () => {
      const { database } = await saasDatabase(dialect);
      const typo = configWith((s) => (s.protocols[0]!.pull!.columns = { hash: 'result_hsh' }));
      const problem = `${WHO}: pull.columns.hash: column "delivery.result_hsh" does not exist`;
      const result = await migrateDatabase(database, typo, { dryRun: false });
      expect(result.problems).toEqual([problem]);
      expect(await tables(database)).toEqual(['account', 'delivery']);
      // Migrated with the right name, then the typo: the command's check names it before any work.
      expect((await migrateDatabase(database, configWith(), { dryRun: false })).problems).toEqual([]);
      expect(await schemaError(database, typo)).toBe(problem);
    });

    it('a flag column of the wrong type, or NOT NULL, is a problem; a short result column and a nullable sort are warnings', async () => {
      const { database } = await saasDatabase(dialect);
      await sql`alter table delivery add column deliveries_push_success varchar(5)`.execute(database.db);
      await sql`alter table delivery add column deliveries_push_error text not null default ''`.execute(database.db);
      await sql`alter table delivery add column short_hash varchar(20)`.execute(database.db);
      await sql`alter table delivery add column sent_time varchar(30)`.execute(database.db);
      const config = configWith((s) => {
        s.protocols[0]!.pull!.columns = { hash: 'short_hash' };
        s.protocols[0]!.sort = 'sent_time';
      });
      const result = await migrateDatabase(database, config, { dryRun: false });
      expect(result.problems).toEqual([
        ...(dialect === 'sqlite'
          ? []
          : [`${WHO}: column "delivery.deliveries_push_success" is of type varchar, which cannot hold a true/false flag`]),
        `${WHO}: column "delivery.deliveries_push_error" is NOT NULL; mesh needs NULL there (not set yet, pending)`,
      ]);
      expect(result.warnings).toEqual([
        `${WHO}: sort column "delivery.sent_time" is nullable; records with a NULL sort are pushed and pulled first, as the oldest, in id order`,
        `${WHO}: pull.columns.hash: column "delivery.short_hash" holds at most 20 characters (varchar(20)); a longer result fails its batch`,
      ]);
      expect(await tables(database)).toEqual(['account', 'delivery']);
    });

    it('a missing index (dropped after migrate) stops every command until migrate puts it back', async () => {
      const { database } = await saasDatabase(dialect);
      const config = configWith();
      await migrateDatabase(database, config, { dryRun: false });
      await checkSchema(database, config);
      await sql`drop index ${sql.id('wm_delivery_deliveries_push')}${sql.raw(dialect === 'mysql' ? ' on delivery' : '')}`.execute(
        database.db,
      );
      expect(await schemaError(database, config)).toBe(
        'the database is not prepared: missing index wm_delivery_deliveries_push on delivery(deliveries_push_success, create_time, id); run mesh migrate',
      );
      await migrateDatabase(database, config, { dryRun: false });
      await checkSchema(database, config);
    });

    it('runs ANALYZE on the tables it indexed', async () => {
      const { database } = await saasDatabase(dialect);
      await seedSaas(database, { accounts: 3, recordsPerAccount: 2 });
      const result = await migrateDatabase(database, configWith(), { dryRun: false });
      expect(result.steps.map((step) => step.description)).toContain('statistics of the tables indexed: account, delivery');
      if (dialect === 'postgres') {
        const { rows } = await sql<{ relname: string }>`
          select relname from pg_stat_user_tables where last_analyze is not null and relname in ('account', 'delivery') order by relname`.execute(
          database.db,
        );
        expect(rows.map((r) => r.relname)).toEqual(['account', 'delivery']);
      } else if (dialect === 'sqlite') {
        // SQLite writes a row per analyzed index of a table with rows into sqlite_stat1.
        const { rows } = await sql<{ tbl: string }>`select distinct tbl from sqlite_stat1 order by tbl`.execute(database.db);
        expect(rows.map((r) => r.tbl)).toEqual(['account', 'delivery']);
      }
      // MySQL/MariaDB: InnoDB keeps persistent statistics of its own from the start, so the effect is not observable here;
      // the statements are the step above.
    });

    if (dialect !== 'mysql') {
      it('a failure in the middle of migrate leaves the database as it was, own tables included', async () => {
        const { database } = await saasDatabase(dialect);
        // An index of the name migrate will use, on other columns: its CREATE INDEX fails after the own tables and columns.
        await sql`create index wm_delivery_id_account on delivery (subject)`.execute(database.db);
        await expect(migrateDatabase(database, configWith(), { dryRun: false })).rejects.toThrow(/wm_delivery_id_account/);
        expect(await tables(database)).toEqual(['account', 'delivery']);
        const columns = (await database.db.introspection.getTables()).find((t) => t.name === 'delivery')!.columns.map((c) => c.name);
        expect(columns.sort()).toEqual(['create_time', 'id', 'id_account', 'result_hash', 'subject']);
      });
    }
  });
}

describe('mesh migrate', () => {
  it('prints a warning line for a nullable sort column', async () => {
    const test = await openTestDatabase('sqlite');
    cleanups.push(test.cleanup);
    await createSaasSchema(test.database);
    await sql`drop table delivery`.execute(test.database.db);
    await sql`create table delivery (id integer primary key, id_account integer not null, create_time text, result_hash varchar(64))`.execute(
      test.database.db,
    );
    const dir = mkdtempSync(join(tmpdir(), 'workmesh-migrate-'));
    const { nodesConfig, servicesConfig } = writeConfigFiles(dir, { nodes: [NODE(1)] });
    const run = await runMesh(['migrate', '--nodes-config', nodesConfig, '--services-config', servicesConfig, '--db', test.url]);
    expect(run.code).toBe(0);
    expect(run.stderr).toBe(
      `mesh migrate: warning: service "micro.emails.timeline" protocol "deliveries": sort column "delivery.create_time" is nullable; ` +
        'records with a NULL sort are pushed and pulled first, as the oldest, in id order\n',
    );
  });
});
