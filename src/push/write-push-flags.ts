import { sql } from 'kysely';
import type { ResolvedProtocol } from '../config/mesh-config.js';
import type { Db } from '../config/service-config.js';
import type { DialectName } from '../db/database-url.js';
import { toDbBoolean, toDbTime } from '../db/db-values.js';

/** Flags a batch delivered to `node`: one UPDATE for the whole batch. */
export async function markPushed(
  db: Db,
  dialect: DialectName,
  protocol: ResolvedProtocol,
  ids: unknown[],
  at: Date,
  node: string,
): Promise<void> {
  const { flags } = protocol;
  await sql`
    update ${sql.table(protocol.table)} set
      ${sql.ref(flags.pushSuccess)} = ${toDbBoolean(dialect, true)},
      ${sql.ref(flags.pushTime)} = ${toDbTime(dialect, at)},
      ${sql.ref(flags.pushError)} = null,
      ${sql.ref(flags.pushNode)} = ${node},
      ${sql.ref(flags.pushAttempts)} = ${sql.ref(flags.pushAttempts)} + 1
    where ${sql.ref(protocol.id)} in (${sql.join(ids)})`.execute(db);
}

/**
 * Flags a failed batch: every record keeps push_success NULL (retried next
 * run) until its attempts reach maxAttempts, when it turns FALSE: dead.
 * push_success is assigned before push_attempts because MySQL evaluates SET
 * left to right with the new values; the others use the old ones throughout.
 */
export async function markPushFailed(
  db: Db,
  dialect: DialectName,
  protocol: ResolvedProtocol,
  ids: unknown[],
  at: Date,
  error: string,
): Promise<void> {
  const { flags } = protocol;
  const dead = dialect === 'sqlite' ? sql`0` : sql`false`;
  await sql`
    update ${sql.table(protocol.table)} set
      ${sql.ref(flags.pushSuccess)} = case when ${sql.ref(flags.pushAttempts)} + 1 >= ${protocol.maxAttempts} then ${dead} else null end,
      ${sql.ref(flags.pushTime)} = ${toDbTime(dialect, at)},
      ${sql.ref(flags.pushError)} = ${error},
      ${sql.ref(flags.pushAttempts)} = ${sql.ref(flags.pushAttempts)} + 1
    where ${sql.ref(protocol.id)} in (${sql.join(ids)})`.execute(db);
}
