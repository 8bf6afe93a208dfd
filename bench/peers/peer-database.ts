import { sql } from 'kysely';
import { openDatabase, type Database } from '../../src/db/open-database.js';
import { createDemoTables, seedDemoTablesFast } from '../../src/demo/demo-saas.js';
import { createBenchDatabase, type BenchDatabase } from '../bench-database.js';

export interface PeerDatabase extends BenchDatabase {
  /** The database's own name on the server (for pg_stat_activity). */
  name: string;
  database: Database;
  /** Closes the connection and drops the database (unless kept). */
  close(keep: boolean): Promise<void>;
}

/**
 * A fresh PostgreSQL database with the demo tables, `records` deliveries of
 * `entities` accounts and what the peers' workers write: `processed_seq`
 * (the order results were written in, per system) and the sequence feeding it.
 */
export async function createPeerDatabase(server: string, entities: number, records: number): Promise<PeerDatabase> {
  const bench = await createBenchDatabase(server, 'postgres');
  const database = await openDatabase(bench.url);
  try {
    await createDemoTables(database);
    await sql`alter table delivery add column processed_seq bigint`.execute(database.db);
    await sql`create sequence bench_seq`.execute(database.db);
    await seedDemoTablesFast(database, { accounts: entities, records });
    await sql`vacuum analyze`.execute(database.db);
  } catch (error) {
    await database.close().catch(() => undefined);
    await bench.drop().catch(() => undefined);
    throw error;
  }
  return {
    ...bench,
    name: new URL(bench.url).pathname.slice(1),
    database,
    close: async (keep) => {
      await database.close().catch(() => undefined);
      if (!keep) await bench.drop();
    },
  };
}
