import type { Db } from '../config/service-config.js';
import { dialectOf } from '../db/dialect-of.js';
import { ignoringConflicts } from '../db/ignore-conflicts.js';
import { chunksOf } from '../db/statement-chunks.js';
import { cleanErrorText } from '../nodes/clean-error-text.js';
import { backOffDelayMs, type BackOffSettings } from './back-off.js';

/** Longest last_error kept: enough to read, bounded whatever a node answered. */
const ERROR_CHARS = 1_000;
/** Tries of the read-then-guarded-write below before giving up (another master writing the same row each time). */
const TRIES = 5;

export interface NodeFailure {
  node: string;
  error: string;
  now: number;
  settings: BackOffSettings;
  /** In [0, 1), for the jitter; Math.random when left out. */
  random?: number;
}

/**
 * Records that a node failed by its own fault: one more failure in a row,
 * since `failing_since` (kept from the first one), with its error, and the
 * next try after the back-off. Read, then written guarded by the count read
 * (or inserted when no row exists): two masters recording at once both
 * count, neither overwrites the other. Returns the next-try time (epoch ms).
 */
export async function recordNodeFailure(db: Db, failure: NodeFailure): Promise<number> {
  const lastError = cleanErrorText(failure.error).slice(0, ERROR_CHARS);
  for (let attempt = 1; ; attempt++) {
    const row = await db
      .selectFrom('workmesh_node_health')
      .select(['failures', 'failing_since'])
      .where('node', '=', failure.node)
      .executeTakeFirst();
    const failures = row === undefined ? 0 : Number(row.failures);
    const nextTryAt = failure.now + backOffDelayMs(failures + 1, failure.settings, failure.random ?? Math.random());
    const values = {
      failing_since: row?.failing_since ?? failure.now,
      failures: failures + 1,
      last_error: lastError,
      next_try_at: nextTryAt,
    };
    try {
      if (row === undefined) {
        await db
          .insertInto('workmesh_node_health')
          .values({ node: failure.node, ...values })
          .execute();
        return nextTryAt;
      }
      const result = await db
        .updateTable('workmesh_node_health')
        .set(values)
        .where('node', '=', failure.node)
        .where('failures', '=', failures)
        .executeTakeFirst();
      if (Number(result.numUpdatedRows) > 0) return nextTryAt;
    } catch (error) {
      // Another master inserted the row first: read it again and count on top of it.
      if (row !== undefined || attempt >= TRIES) throw error;
    }
    if (attempt >= TRIES) throw new Error(`could not record the failure of node ${failure.node}: its health row kept changing`);
  }
}

/**
 * Records that calls to these nodes succeeded: their back-off is over and
 * the count of failures in a row starts again. Per chunk of nodes one
 * UPDATE, and only when some have no row yet (the first time a node is
 * seen) one SELECT of those that do and one INSERT of the others; a row
 * another master inserted meanwhile is left as it is, a success needs no
 * more than that it exists.
 */
export async function recordNodeSuccesses(db: Db, nodes: readonly string[], now: number): Promise<void> {
  const values = { failing_since: null, failures: 0, last_error: null, next_try_at: null, last_success_at: now };
  // Sorted, so two masters writing overlapping nodes lock the rows in the same order.
  for (const chunk of chunksOf([...new Set(nodes)].sort())) {
    const result = await db.updateTable('workmesh_node_health').set(values).where('node', 'in', chunk).executeTakeFirst();
    if (Number(result.numUpdatedRows) >= chunk.length) continue;
    const existing = await db.selectFrom('workmesh_node_health').select('node').where('node', 'in', chunk).execute();
    const have = new Set(existing.map((row) => String(row.node)));
    const missing = chunk.filter((node) => !have.has(node)).map((node) => ({ node, ...values }));
    if (missing.length > 0) await ignoringConflicts(db.insertInto('workmesh_node_health').values(missing), dialectOf(db)).execute();
  }
}
