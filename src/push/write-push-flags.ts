import { sql } from 'kysely';
import type { ResolvedProtocol, ResolvedService } from '../config/mesh-config.js';
import type { Db } from '../config/service-config.js';
import type { DialectName } from '../db/database-url.js';
import { toDbBoolean, toDbTime } from '../db/db-values.js';
import { inTransaction } from '../db/in-transaction.js';
import { addRecordCounts } from '../db/record-counts.js';
import { rowsChanged, stillPendingFor } from '../db/record-guards.js';
import { cleanErrorText } from '../nodes/clean-error-text.js';

/** Where a batch went: its flags are written only to records still pending with their entity on that node. */
export interface PushGuard {
  service: ResolvedService;
  node: string;
}

/**
 * Flags a batch delivered to `node`: one UPDATE for the whole batch,
 * guarded (record-guards.ts): a record moved or re-pushed while the batch
 * was in flight keeps its new state and stays pending for its new node.
 * For a protocol with no pull, delivered is processed: the node's counter
 * (record-counts.ts) grows in the same transaction.
 * Returns the rows flagged; the rest of `ids` were skipped.
 */
export async function markPushed(
  db: Db,
  dialect: DialectName,
  protocol: ResolvedProtocol,
  ids: unknown[],
  at: Date,
  node: string,
  guard: Omit<PushGuard, 'node'>,
): Promise<number> {
  const { flags } = protocol;
  const update = (on: Db) =>
    sql`
    update ${sql.table(protocol.table)} set
      ${sql.ref(flags.pushSuccess)} = ${toDbBoolean(dialect, true)},
      ${sql.ref(flags.pushTime)} = ${toDbTime(dialect, at)},
      ${sql.ref(flags.pushError)} = null,
      ${sql.ref(flags.pushNode)} = ${node},
      ${sql.ref(flags.pushAttempts)} = ${sql.ref(flags.pushAttempts)} + 1
    where ${sql.ref(protocol.id)} in (${sql.join(ids)}) and ${stillPendingFor(dialect, guard.service, protocol, node)}`.execute(on);
  if (protocol.pull) return rowsChanged(await update(db));
  return inTransaction(db, async (trx) => {
    const flagged = rowsChanged(await update(trx));
    await addRecordCounts(trx, dialect, guard.service, protocol, [{ node, state: 'processed', records: flagged }]);
    return flagged;
  });
}

/**
 * Flags a failed batch: every record keeps push_success NULL (retried next
 * run) until its attempts reach maxAttempts, when it turns FALSE: dead.
 * push_success is assigned before push_attempts because MySQL evaluates SET
 * left to right with the new values; the others use the old ones throughout.
 * Guarded like markPushed (a record that moved meanwhile was not the new
 * node's failure); the error text is stored without control characters.
 * Returns the rows flagged.
 */
export async function markPushFailed(
  db: Db,
  dialect: DialectName,
  protocol: ResolvedProtocol,
  ids: unknown[],
  at: Date,
  error: string,
  guard: PushGuard,
): Promise<number> {
  const { flags } = protocol;
  const dead = dialect === 'sqlite' ? sql`0` : sql`false`;
  const result = await sql`
    update ${sql.table(protocol.table)} set
      ${sql.ref(flags.pushSuccess)} = case when ${sql.ref(flags.pushAttempts)} + 1 >= ${protocol.maxAttempts} then ${dead} else null end,
      ${sql.ref(flags.pushTime)} = ${toDbTime(dialect, at)},
      ${sql.ref(flags.pushError)} = ${cleanErrorText(error)},
      ${sql.ref(flags.pushAttempts)} = ${sql.ref(flags.pushAttempts)} + 1
    where ${sql.ref(protocol.id)} in (${sql.join(ids)}) and ${stillPendingFor(dialect, guard.service, protocol, guard.node)}`.execute(db);
  return rowsChanged(result);
}
