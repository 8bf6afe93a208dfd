import { sql } from 'kysely';
import { assignService } from '../src/assign/assign-service.js';
import type { MeshConfig } from '../src/config/mesh-config.js';
import { migrateDatabase } from '../src/db/migrate-database.js';
import type { Database } from '../src/db/open-database.js';
import { createDemoTables, seedDemoTablesFast } from '../src/demo/demo-saas.js';
import { analyze } from './reset-flags.js';

export interface SetupTimes {
  seedSeconds: number;
  migrateSeconds: number;
  assignSeconds: number;
}

/**
 * Builds the SaaS side: the demo schema with `entities` accounts and
 * `records` deliveries (ids grow with time), `mesh migrate` (flag columns
 * and indexes), every account assigned round-robin, fresh statistics.
 */
export async function setUpBenchDatabase(database: Database, config: MeshConfig, entities: number, records: number): Promise<SetupTimes> {
  const clock = () => process.hrtime.bigint();
  const since = (t: bigint) => Number(clock() - t) / 1e9;
  let t = clock();
  await createDemoTables(database);
  await seedDemoTablesFast(database, { accounts: entities, records });
  const seedSeconds = since(t);
  t = clock();
  const migrated = await migrateDatabase(database, config, { dryRun: false });
  if (migrated.problems.length > 0) throw new Error(`mesh migrate: ${migrated.problems.join('; ')}`);
  const migrateSeconds = since(t);
  t = clock();
  const assigned = await assignService(database.db, config, config.services[0]!);
  if (assigned.assigned !== entities)
    throw new Error(`assigned ${assigned.assigned} of ${entities} entities: ${assigned.reasons.join('; ')}`);
  await analyze(database);
  return { seedSeconds, migrateSeconds, assignSeconds: since(t) };
}

/** `sqlite 3.x`, `10.11.x-MariaDB`, `PostgreSQL 15.x`. */
export async function databaseVersion(database: Database): Promise<string> {
  if (database.dialect === 'sqlite') {
    const { rows } = await sql<{ v: string }>`select sqlite_version() as v`.execute(database.db);
    return `SQLite ${rows[0]?.v}`;
  }
  const { rows } = await sql<{ v: string }>`select version() as v`.execute(database.db);
  const version = String(rows[0]?.v ?? '');
  return database.dialect === 'postgres' ? version.split(' on ')[0]! : version;
}
