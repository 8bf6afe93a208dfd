import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ResolvedProtocol, ResolvedService } from '../../src/config/mesh-config.js';
import type { Row } from '../../src/config/service-config.js';
import { toDbBoolean } from '../../src/db/db-values.js';
import type { Database } from '../../src/db/open-database.js';
import { markPushed, markPushedTogether, type DeliveredBatch } from '../../src/push/write-push-flags.js';
import { openDemoFixture } from '../helpers/plan-fixture.js';
import type { TestDatabase } from '../helpers/test-databases.js';

const ACCOUNTS = 40;
const RECORDS = 2_000;

/**
 * The deliveries of a group of batches, written together in id order
 * (SQLite), flag exactly what each batch's own guarded UPDATE would: the
 * same rows, the same values, the same count for each batch.
 */
describe('deliveries flagged together (sqlite)', () => {
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

  /** Entities dealt over 4 nodes, every record pending but the ones given, which are delivered already. */
  async function reset(delivered: number[]): Promise<void> {
    const { flags } = protocol;
    await sql`update account set node_for_micro_emails_timeline = 'node' || ((id % 4) + 1)`.execute(database.db);
    await sql`update delivery set ${sql.ref(flags.pushSuccess)} = null, ${sql.ref(flags.pushTime)} = null, ${sql.ref(flags.pushNode)} = null,
      ${sql.ref(flags.pushAttempts)} = 0`.execute(database.db);
    await sql`update delivery set ${sql.ref(flags.pushSuccess)} = ${toDbBoolean('sqlite', true)} where id in (${sql.join(delivered)})`.execute(
      database.db,
    );
  }

  /** Each node's records among the first `count`, as batches sent about together: a record of every node in turn. */
  async function batches(count: number): Promise<DeliveredBatch[]> {
    const { rows } = await sql<Row>`
      select d.id, a.node_for_micro_emails_timeline as node from delivery d join account a on a.id = d.id_account
      where d.id <= ${count} order by d.id`.execute(database.db);
    const byNode = new Map<string, unknown[]>();
    for (const row of rows) byNode.set(String(row.node), [...(byNode.get(String(row.node)) ?? []), row.id]);
    return [...byNode].map(([node, ids], i) => ({ node, ids, at: new Date(Date.UTC(2026, 11, 1, 12, 0, i)) }));
  }

  const flagRows = async () =>
    (
      await sql<Row>`select id, ${sql.ref(protocol.flags.pushSuccess)} as success, ${sql.ref(protocol.flags.pushTime)} as time,
        ${sql.ref(protocol.flags.pushNode)} as node, ${sql.ref(protocol.flags.pushAttempts)} as attempts from delivery order by id`.execute(
        database.db,
      )
    ).rows;

  it('flags the rows, and counts for each batch, as one guarded UPDATE per batch does', async () => {
    // More records than one statement takes (1,000), a few delivered already, and an entity moved after its batch was read.
    const delivered = [3, 8, 1_500];
    await reset(delivered);
    const written = await batches(1_600);
    expect(written.length).toBe(4);
    const moveEntity = async () => sql`update account set node_for_micro_emails_timeline = 'node9' where id = 7`.execute(database.db);

    await reset(delivered);
    await moveEntity();
    const alone: number[] = [];
    for (const batch of written)
      alone.push(await markPushed(database.db, 'sqlite', protocol, batch.ids, batch.at, batch.node, { service }));
    const expected = await flagRows();

    await reset(delivered);
    await moveEntity();
    const together = await database.db.transaction().execute((trx) => markPushedTogether(trx, protocol, written, { service }));
    expect(together).toEqual(alone);
    expect(await flagRows()).toEqual(expected);

    // The guards cut: neither all nor none of the batches' records were flagged.
    const sent = written.reduce((n, b) => n + b.ids.length, 0);
    const flagged = together.reduce((n, c) => n + c, 0);
    expect(flagged).toBeLessThan(sent - delivered.length + 1);
    expect(flagged).toBeGreaterThan(sent * 0.9);
  });
});
