import { sql } from 'kysely';
import type { Db } from '../config/service-config.js';
import type { StreamOutcome } from '../stream/run-stage.js';

/** How long the per-run history is kept: the dashboard charts the last hours, a week leaves room to look back. */
export const STREAM_HISTORY_MS = 7 * 24 * 60 * 60 * 1000;

/** A stream outcome of either stage: push counts `pushed`, pull `pulled`. */
type CountedOutcome = StreamOutcome & { pushed?: number; pulled?: number; failed?: number };

/**
 * Writes one row per stream the run worked (streams skipped for another
 * master's lease or a back-off moved nothing and are left out) into
 * `workmesh_stream_history`, adds the run's records to
 * `workmesh_stream_totals`, and prunes the history older than 7 days. Called
 * once at the end of each push or pull run; the run's start is read from its
 * `workmesh_run` row.
 */
export async function recordStreamHistory(
  db: Db,
  runId: string,
  stage: 'push' | 'pull',
  outcomes: readonly CountedOutcome[],
): Promise<void> {
  const finishedAt = Date.now();
  const run = await db.selectFrom('workmesh_run').select('started_at').where('id', '=', runId).executeTakeFirst();
  const startedAt = run === undefined ? finishedAt : Number(run.started_at);
  const rows = outcomes
    .filter((o) => o.skipped === undefined)
    .map((o) => ({
      run_id: runId,
      stage,
      service: o.service,
      protocol: o.protocol,
      node: o.node,
      started_at: startedAt,
      finished_at: finishedAt,
      records: (stage === 'push' ? o.pushed : o.pulled) ?? 0,
      failed: o.failed ?? 0,
      error: o.error ?? null,
    }));
  if (rows.length > 0) await db.insertInto('workmesh_stream_history').values(rows).execute();
  for (const row of rows) if (row.records > 0 || row.failed > 0) await addToTotals(db, row);
  await db
    .deleteFrom('workmesh_stream_history')
    .where('finished_at', '<', finishedAt - STREAM_HISTORY_MS)
    .execute();
}

interface TotalsRow {
  stage: string;
  service: string;
  protocol: string;
  node: string;
  records: number;
  failed: number;
}

/** Adds to a stream's totals in one statement, so two masters finishing at once both count. */
async function addToTotals(db: Db, row: TotalsRow): Promise<void> {
  const update = () =>
    db
      .updateTable('workmesh_stream_totals')
      .set({ records: sql`${sql.ref('records')} + ${row.records}`, failed: sql`${sql.ref('failed')} + ${row.failed}` })
      .where('stage', '=', row.stage)
      .where('service', '=', row.service)
      .where('protocol', '=', row.protocol)
      .where('node', '=', row.node)
      .executeTakeFirst();
  if (Number((await update()).numUpdatedRows) > 0) return;
  try {
    await db
      .insertInto('workmesh_stream_totals')
      .values({ stage: row.stage, service: row.service, protocol: row.protocol, node: row.node, records: row.records, failed: row.failed })
      .execute();
  } catch (error) {
    // Another master inserted the row between our update and insert: add to it.
    if (Number((await update()).numUpdatedRows) === 0) throw error;
  }
}
