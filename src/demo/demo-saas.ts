import { sql } from 'kysely';
import type { Database } from '../db/open-database.js';

/**
 * A small SaaS schema to show and measure workmesh on: `account` rows are
 * the entities, `delivery` rows the records, each with the account it
 * belongs to, a creation time and a subject.
 */
export async function createDemoTables(database: Database): Promise<void> {
  const time = database.dialect === 'mysql' ? sql`datetime(3)` : database.dialect === 'postgres' ? sql`timestamptz` : sql`text`;
  await database.db.schema
    .createTable('account')
    .addColumn('id', 'integer', (col) => col.primaryKey())
    .addColumn('name', 'varchar(100)', (col) => col.notNull())
    .addColumn('weight', 'integer', (col) => col.notNull().defaultTo(1))
    .execute();
  await database.db.schema
    .createTable('delivery')
    .addColumn('id', 'integer', (col) => col.primaryKey())
    .addColumn('id_account', 'integer', (col) => col.notNull())
    .addColumn('create_time', time, (col) => col.notNull())
    .addColumn('subject', 'varchar(200)')
    .addColumn('result_hash', 'varchar(64)')
    .execute();
}

export interface DemoSeed {
  accounts: number;
  records: number;
  /** Time of record 1; record k is k seconds later, so ids grow with time as in a real table. */
  startTime?: Date;
  /** Every n-th record carries a subject the demo nodes refuse to process; 0 for none. */
  failEvery?: number;
}

const INSERT_ROWS = 500;

/**
 * Fills the demo tables: accounts 1..N with weights 1..5, and records whose
 * ids grow with their time, spread over the accounts in turn. Multi-row
 * INSERTs, one transaction per chunk.
 */
export async function seedDemoTables(database: Database, seed: DemoSeed): Promise<void> {
  const start = (seed.startTime ?? new Date(Date.UTC(2026, 0, 1))).getTime();
  const time = (ms: number) => (database.dialect === 'sqlite' ? new Date(ms).toISOString() : new Date(ms));
  const accounts = Array.from({ length: seed.accounts }, (_, i) => ({ id: i + 1, name: `account ${i + 1}`, weight: (i % 5) + 1 }));
  for (let i = 0; i < accounts.length; i += INSERT_ROWS) {
    await database.db.insertInto('account').values(accounts.slice(i, i + INSERT_ROWS)).execute();
  }
  for (let first = 1; first <= seed.records; first += INSERT_ROWS * 10) {
    await database.db.transaction().execute(async (trx) => {
      for (let chunk = first; chunk < first + INSERT_ROWS * 10 && chunk <= seed.records; chunk += INSERT_ROWS) {
        const rows = [];
        for (let id = chunk; id < chunk + INSERT_ROWS && id <= seed.records; id++) {
          const failing = seed.failEvery !== undefined && seed.failEvery > 0 && id % seed.failEvery === 0;
          rows.push({
            id,
            id_account: ((id - 1) % seed.accounts) + 1,
            create_time: time(start + id * 1000),
            subject: failing ? `FAIL: unreadable message ${id}` : `message ${id}`,
          });
        }
        await trx.insertInto('delivery').values(rows).execute();
      }
    });
  }
}
