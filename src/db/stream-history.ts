import { sql } from 'kysely';
import type { Db } from '../config/service-config.js';
import type { StreamOutcome } from '../stream/run-stage.js';
import { dialectOf } from './dialect-of.js';
import { chunksOf } from './statement-chunks.js';

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
  // Chunked: with thousands of streams one insert would pass the servers' limit on bound parameters.
  for (const chunk of chunksOf(rows)) await db.insertInto('workmesh_stream_history').values(chunk).execute();
  await addToTotals(
    db,
    rows.filter((row) => row.records > 0 || row.failed > 0),
  );
  await db
    .deleteFrom('workmesh_stream_history')
    .where('finished_at', '<', finishedAt - STREAM_HISTORY_MS)
    .execute();
}

/** A type, not an interface: Kysely's insert takes it as a row of any table. */
type TotalsRow = {
  stage: string;
  service: string;
  protocol: string;
  node: string;
  records: number;
  failed: number;
};

const TOTALS = 'workmesh_stream_totals';
const TOTALS_KEY = ['stage', 'service', 'protocol', 'node'] as const;

/**
 * Adds to the streams' totals, one upsert per chunk of streams: a row is
 * inserted or added to in one statement, so two masters finishing at once
 * both count. Rows of the same stream are summed first (one statement may
 * not touch a row twice), and sorted by key so that two masters lock rows
 * in the same order.
 */
async function addToTotals(db: Db, rows: readonly TotalsRow[]): Promise<void> {
  const byKey = new Map<string, TotalsRow>();
  for (const row of rows) {
    const key = JSON.stringify(TOTALS_KEY.map((column) => row[column]));
    const into = byKey.get(key);
    if (into) {
      into.records += row.records;
      into.failed += row.failed;
    } else {
      byKey.set(key, {
        stage: row.stage,
        service: row.service,
        protocol: row.protocol,
        node: row.node,
        records: row.records,
        failed: row.failed,
      });
    }
  }
  const sorted = [...byKey.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, row]) => row);
  const mysql = dialectOf(db) === 'mysql';
  for (const chunk of chunksOf(sorted)) {
    const insert = db.insertInto(TOTALS).values(chunk);
    await (
      mysql
        ? insert.onDuplicateKeyUpdate({
            records: sql`${sql.ref('records')} + values(${sql.ref('records')})`,
            failed: sql`${sql.ref('failed')} + values(${sql.ref('failed')})`,
          })
        : insert.onConflict((oc) =>
            oc.columns([...TOTALS_KEY]).doUpdateSet({
              records: sql`${sql.ref(`${TOTALS}.records`)} + excluded.records`,
              failed: sql`${sql.ref(`${TOTALS}.failed`)} + excluded.failed`,
            }),
          )
    ).execute();
  }
}
