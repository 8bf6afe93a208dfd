import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import type { DialectName } from '../../src/db/database-url.js';
import type { Database } from '../../src/db/open-database.js';
import { pullRecords } from '../../src/pull/pull-records.js';
import { pushRecords } from '../../src/push/push-records.js';
import { insertAccounts, meshConfig, migrateAndAssign, readFlags, readNodeStore, waitUntil } from '../helpers/mesh-fixture.js';
import { useMeshSuite } from '../helpers/mesh-suite.js';
import { DIALECTS } from '../helpers/test-databases.js';

const { newTest } = useMeshSuite({ nodes: 1, tempPrefix: 'workmesh-values-' });

const BIG = ['9007199254740993', '9007199254740995', '9007199254740997'];

/** `delivery` again, with a 64-bit id, a nullable sort and times with microseconds. */
async function recreateDelivery(database: Database): Promise<void> {
  const time = { mysql: 'datetime(6)', postgres: 'timestamptz', sqlite: 'text' }[database.dialect];
  const local = { mysql: 'timestamp(6) null', postgres: 'timestamp(6)', sqlite: 'text' }[database.dialect];
  const id = database.dialect === 'sqlite' ? 'integer' : 'bigint';
  await sql`drop table delivery`.execute(database.db);
  await sql`create table delivery (
    id ${sql.raw(id)} primary key, id_account integer not null, create_time ${sql.raw(time)} null,
    local_time ${sql.raw(local)}, subject varchar(200), result_hash varchar(64))`.execute(database.db);
}

/** The id as the database holds it, as text: exact on every dialect. */
function idText(dialect: DialectName) {
  return dialect === 'mysql' ? sql<string>`cast(id as char)` : sql<string>`cast(id as text)`;
}

for (const { name: dialect, available } of DIALECTS) {
  describe.skipIf(!available)(`values as the database holds them (${dialect})`, () => {
    it('sends ids beyond 2^53 exactly, flags them and never sends them again; NULL sorts go first, in id order, push and pull', async () => {
      const t = await newTest(dialect, 1);
      await recreateDelivery(t.database);
      const config = meshConfig({ protocol: t.protocol, nodes: t.nodes, batchSize: 2 });
      await insertAccounts(t.database, [1]);
      const at = (second: number | null) =>
        second === null
          ? null
          : dialect === 'sqlite'
            ? `2026-11-20T10:00:${String(second).padStart(2, '0')}.000Z`
            : `2026-11-20 10:00:${String(second).padStart(2, '0')}`;
      // (id, sort second): sort order differs from id order; three NULL sorts, one of them a big id, inserted last.
      const rows: [string, number | null][] = [
        [BIG[0]!, 5],
        ['1', 40],
        ['2', 3],
        [BIG[1]!, 20],
        ['3', null],
        ['4', 20],
        ['5', null],
        [BIG[2]!, null],
        ['6', 1],
      ];
      for (const [id, second] of rows) {
        await sql`insert into delivery (id, id_account, create_time, subject) values (${sql.raw(id)}, 1, ${at(second)}, ${`Delivery ${id}`})`.execute(
          t.database.db,
        );
      }
      await migrateAndAssign(t.database, config);
      const expected = ['3', '5', BIG[2]!, '6', '2', BIG[0]!, '4', BIG[1]!, '1'];

      expect(await pushRecords(t.database, config)).toMatchObject({ pushed: 9, failed: 0 });
      const received = t.proxies[0]!.forwardedPushes().flatMap((p) => p.ids);
      expect(received.map(String)).toEqual(expected);
      // Big ids travel as strings (a JSON number would round them), the others as numbers.
      for (const id of received) expect(typeof id).toBe(BIG.includes(String(id)) ? 'string' : 'number');

      const { protocol } = t;
      const flags = await sql<{ id: string; ok: unknown }>`
        select ${idText(dialect)} as id, ${sql.ref(`${protocol}_push_success`)} as ok from delivery`.execute(t.database.db);
      expect(flags.rows.filter((r) => !(r.ok === true || r.ok === 1)).map((r) => r.id)).toEqual([]);
      expect(await pushRecords(t.database, config)).toMatchObject({ pushed: 0, failed: 0 });
      expect(t.proxies[0]!.forwardedPushes().flatMap((p) => p.ids)).toHaveLength(9);

      // Pull: the node's last processed record may be a NULL sort or a big id; every result comes back.
      await waitUntil(() => readNodeStore(t.backends[0]!.dataFile, protocol).filter((r) => r.done).length >= 9, 'the node to process');
      const pulled = await pullRecords(t.database, config);
      expect(pulled).toMatchObject({ pulled: 9, failed: 0 });
      const pullFlags = await readFlags(t.database, protocol);
      expect([...pullFlags.values()].filter((f) => f.pullSuccess !== true || f.resultHash === null)).toEqual([]);
      const asked = t.proxies[0]!.of('pull')
        .flatMap((p) => p.ids)
        .map(String);
      expect(asked).toEqual(expected);
    });

    it('sends timestamps with every digit the database holds, in ISO 8601 UTC', async () => {
      const t = await newTest(dialect, 1);
      await recreateDelivery(t.database);
      const config = meshConfig({ protocol: t.protocol, nodes: t.nodes, batchSize: 10, pull: false });
      await insertAccounts(t.database, [1]);
      const values =
        dialect === 'sqlite'
          ? ['2026-11-20T10:00:41.899246Z', '2026-11-20T10:00:42.123Z']
          : dialect === 'postgres'
            ? ['2026-11-20 11:00:41.899246+01', '2026-11-20 10:00:42.123+00']
            : ['2026-11-20 10:00:41.899246', '2026-11-20 10:00:42.123'];
      const local = dialect === 'sqlite' ? '2026-11-20T10:00:43.000001Z' : '2026-11-20 10:00:43.000001';
      for (const [i, value] of values.entries()) {
        await sql`insert into delivery (id, id_account, create_time, local_time, subject) values (${i + 1}, 1, ${value}, ${local}, 'x')`.execute(
          t.database.db,
        );
      }
      await migrateAndAssign(t.database, config);
      expect(await pushRecords(t.database, config)).toMatchObject({ pushed: 2, failed: 0 });

      // The rows as the database prints them, turned into ISO 8601 UTC by the database itself.
      const iso = (column: string) =>
        dialect === 'postgres'
          ? sql<string>`to_char(${sql.ref(column)} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`
          : dialect === 'mysql'
            ? sql<string>`concat(replace(cast(${sql.ref(column)} as char), ' ', 'T'), 'Z')`
            : sql<string>`${sql.ref(column)}`;
      const localIso = dialect === 'postgres' ? sql<string>`to_char(local_time, 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')` : iso('local_time');
      const { rows } = await sql<{ id: number; create_time: string; local_time: string }>`
        select id, ${iso('create_time')} as create_time, ${localIso} as local_time from delivery order by id`.execute(t.database.db);
      const sent = t.proxies[0]!.forwardedPushes().flatMap((p) => p.body!.records as Record<string, unknown>[]);
      const pick = (records: Record<string, unknown>[]) =>
        records.map((r) => ({ id: Number(r.id), create_time: r.create_time, local_time: r.local_time }));
      // Millisecond values are printed by the databases with six digits, by mesh with three: compare as instants beyond that.
      const normal = (text: unknown) => String(text).replace(/\.(\d{3})000Z$/, '.$1Z');
      expect(pick(sent).map((r) => ({ ...r, create_time: normal(r.create_time), local_time: normal(r.local_time) }))).toEqual(
        rows.map((r) => ({ id: Number(r.id), create_time: normal(r.create_time), local_time: normal(r.local_time) })),
      );
      expect(sent[0]!.create_time).toBe('2026-11-20T10:00:41.899246Z');
      expect(sent[0]!.local_time).toBe('2026-11-20T10:00:43.000001Z');
    });
  });
}
