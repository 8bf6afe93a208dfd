import { sql, type RawBuilder } from 'kysely';
import type { ResolvedProtocol } from '../src/config/mesh-config.js';
import type { Database } from '../src/db/open-database.js';

/**
 * Puts every record back to the state a phase starts from: `push` clears
 * push and pull flags and results (nothing delivered yet), `pull` clears the
 * pull flags and results only (everything delivered, nothing pulled);
 * `only` narrows it to some records, the others keeping their state.
 */
export async function resetFlags(
  database: Database,
  protocol: ResolvedProtocol,
  stage: 'push' | 'pull',
  resultColumn: string,
  /** Only these records (a condition on the table); every record when left out. */
  only?: RawBuilder<unknown>,
): Promise<void> {
  const { flags } = protocol;
  const pull = [flags.pullTime, flags.pullSuccess, flags.pullError, resultColumn].map((c) => sql`${sql.ref(c)} = null`);
  const push = [flags.pushTime, flags.pushSuccess, flags.pushError, flags.pushNode].map((c) => sql`${sql.ref(c)} = null`);
  const set = stage === 'push' ? [...push, sql`${sql.ref(flags.pushAttempts)} = 0`, ...pull] : pull;
  const where = only === undefined ? sql`` : sql` where ${only}`;
  await sql`update ${sql.table(protocol.table)} set ${sql.join(set, sql`, `)}${where}`.execute(database.db);
  // The reset wrote every page into SQLite's WAL; copied back now, the next phase does not pay for it.
  if (database.dialect === 'sqlite') await sql`pragma wal_checkpoint(truncate)`.execute(database.db);
  await analyze(database);
}

/** Fresh planner statistics, as a real database has them. */
export async function analyze(database: Database): Promise<void> {
  if (database.dialect === 'mysql') await sql`analyze table account, delivery`.execute(database.db);
  // An UPDATE of every row leaves as many dead row versions in PostgreSQL; a real table has autovacuum.
  else if (database.dialect === 'postgres') await sql`vacuum analyze`.execute(database.db);
  else await sql`analyze`.execute(database.db);
}
