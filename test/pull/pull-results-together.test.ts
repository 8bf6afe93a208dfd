import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ResolvedProtocol, ResolvedService } from '../../src/config/mesh-config.js';
import type { Row } from '../../src/config/service-config.js';
import { toDbBoolean } from '../../src/db/db-values.js';
import type { Database } from '../../src/db/open-database.js';
import { readRecordCounts } from '../../src/db/record-counts.js';
import { storableTogether, storePullResultsTogether, type PulledBatch } from '../../src/pull/store-pull-results-together.js';
import { storePullResults } from '../../src/pull/write-pull-results.js';
import { openDemoFixture } from '../helpers/plan-fixture.js';
import type { TestDatabase } from '../helpers/test-databases.js';

const ACCOUNTS = 40;
const RECORDS = 3_000;

/**
 * The results of a group of pull batches, stored together in id order
 * (SQLite), write exactly what each batch's own storePullResults would: the
 * same rows, results, flags and counters, and the same count for each batch.
 */
describe('pull results stored together (sqlite)', () => {
  let test: TestDatabase;
  let database: Database;
  let service: ResolvedService;
  let protocol: ResolvedProtocol;

  beforeAll(async () => {
    ({ test, database, service, protocol } = await openDemoFixture('sqlite', { accounts: ACCOUNTS, records: RECORDS }));
  }, 60_000);

  afterAll(async () => {
    await database?.close();
    await test?.drop();
  });

  /** Every record delivered to its entity's node (of 4) and not pulled; a few re-pushed meanwhile, one delivered elsewhere. */
  async function reset(): Promise<void> {
    const { flags } = protocol;
    const yes = toDbBoolean('sqlite', true);
    await sql`update account set node_for_micro_emails_timeline = 'node' || ((id % 4) + 1)`.execute(database.db);
    await sql`update delivery set ${sql.ref(flags.pushSuccess)} = ${yes}, ${sql.ref(flags.pullSuccess)} = null, ${sql.ref(flags.pullTime)} = null,
      ${sql.ref(flags.pullError)} = null, result_hash = null,
      ${sql.ref(flags.pushNode)} = (select a.node_for_micro_emails_timeline from account a where a.id = delivery.id_account)`.execute(
      database.db,
    );
    await sql`update delivery set ${sql.ref(flags.pushSuccess)} = null, ${sql.ref(flags.pushNode)} = null where id in (5, 77, 1_999)`.execute(
      database.db,
    );
    await sql`update delivery set ${sql.ref(flags.pushNode)} = 'node9' where id = 1_234`.execute(database.db);
    await sql`delete from workmesh_record_counts`.execute(database.db);
  }

  /** Each node's records among the first `count` as answered batches: a result for most, an error for every 13th, none for every 17th. */
  async function batches(count: number): Promise<PulledBatch[]> {
    const { rows } = await sql<Row>`
      select d.id, a.node_for_micro_emails_timeline as node from delivery d join account a on a.id = d.id_account
      where d.id <= ${count} order by d.id`.execute(database.db);
    const byNode = new Map<string, Row[]>();
    for (const row of rows) byNode.set(String(row.node), [...(byNode.get(String(row.node)) ?? []), row]);
    return [...byNode].map(([node, records], i) => {
      const answered: PulledBatch['answered'] = { succeeded: [], failed: [] };
      for (const record of records) {
        const id = Number(record.id);
        if (id % 17 === 0) continue;
        if (id % 13 === 0) answered.failed.push({ record: { id }, error: `bad ${id}` });
        else answered.succeeded.push({ record: { id }, result: id % 11 === 0 ? { id } : { id, hash: `h${id}` } });
      }
      return { node, answered, at: new Date(Date.UTC(2026, 11, 1, 12, 0, i)) };
    });
  }

  const state = async () => ({
    rows: (
      await sql<Row>`select id, result_hash, ${sql.ref(protocol.flags.pullSuccess)} as success, ${sql.ref(protocol.flags.pullTime)} as time,
        ${sql.ref(protocol.flags.pullError)} as error from delivery order by id`.execute(database.db)
    ).rows,
    counts: await readRecordCounts(database.db, service, protocol),
  });

  it('stores the results and flags, and counts for each batch, as storePullResults per batch does', async () => {
    expect(storableTogether(protocol)).toBe(true);
    await reset();
    // More rows than one statement binds (5,000 parameters at 7 a row: 714 rows).
    const written = await batches(RECORDS);
    expect(written.length).toBe(4);
    const alone = [];
    for (const batch of written) {
      alone.push(
        await database.db
          .transaction()
          .execute((trx) => storePullResults(trx, 'sqlite', { service, node: batch.node }, protocol, batch.answered, new Map(), batch.at)),
      );
    }
    const expected = await state();

    await reset();
    const together = await database.db.transaction().execute((trx) => storePullResultsTogether(trx, service, protocol, written));
    expect(together).toEqual(alone);
    expect(await state()).toEqual(expected);
    // The guards cut: some answered records were skipped, and results, errors and records without a field were all written.
    expect(together.reduce((n, s) => n + s.skipped, 0)).toBeGreaterThan(0);
    expect(expected.rows.filter((r) => r.result_hash !== null).length).toBeGreaterThan(RECORDS / 2);
    expect(expected.rows.filter((r) => r.error !== null).length).toBeGreaterThan(100);
  });
});
