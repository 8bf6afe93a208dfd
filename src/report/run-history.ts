import type { Db } from '../config/service-config.js';
import { toCount } from '../db/db-values.js';

export interface RunHistoryRow {
  id: string;
  command: string;
  owner: string;
  startedAt: number;
  finishedAt: number | null;
  durationMs: number | null;
  /** running, ok, failed or abandoned. */
  status: string;
  /** Records pushed or pulled, summed over the run's streams. */
  records: number;
  failed: number;
  streams: number;
  /** `node protocol: error` of every stream that ended in an error. */
  errors: string[];
}

/** The run log (`workmesh_run`), newest first, paged. Reads only. */
export async function runHistory(db: Db, options: { offset: number; limit: number }): Promise<{ total: number; runs: RunHistoryRow[] }> {
  const counted = await db
    .selectFrom('workmesh_run')
    .select((eb) => eb.fn.countAll().as('total'))
    .executeTakeFirstOrThrow();
  const rows = await db
    .selectFrom('workmesh_run')
    .selectAll()
    .orderBy('started_at', 'desc')
    .orderBy('id')
    .limit(options.limit)
    .offset(options.offset)
    .execute();
  return { total: toCount(counted.total), runs: rows.map(toRunRow) };
}

/** The latest finished run of each command, for the metrics. */
export async function lastRuns(db: Db): Promise<RunHistoryRow[]> {
  const latest = db
    .selectFrom('workmesh_run')
    .select((eb) => ['command', eb.fn.max('started_at').as('started_at')])
    .where('finished_at', 'is not', null)
    .groupBy('command')
    .as('latest');
  const rows = await db
    .selectFrom('workmesh_run as r')
    .innerJoin(latest, (join) => join.onRef('latest.command', '=', 'r.command').onRef('latest.started_at', '=', 'r.started_at'))
    .selectAll('r')
    .execute();
  return rows.map(toRunRow);
}

interface SummaryStream {
  node?: string;
  protocol?: string;
  pushed?: number;
  pulled?: number;
  failed?: number;
  error?: string;
}

function toRunRow(row: Record<string, unknown>): RunHistoryRow {
  const startedAt = Number(row.started_at);
  const finishedAt = row.finished_at === null || row.finished_at === undefined ? null : Number(row.finished_at);
  let streams: SummaryStream[] = [];
  try {
    const parsed: unknown = typeof row.summary === 'string' ? JSON.parse(row.summary) : null;
    if (Array.isArray(parsed)) streams = parsed as SummaryStream[];
  } catch {
    // A summary that is not ours to read: the run is shown without counts.
  }
  return {
    id: String(row.id),
    command: String(row.command),
    owner: String(row.owner),
    startedAt,
    finishedAt,
    durationMs: finishedAt === null ? null : finishedAt - startedAt,
    status: String(row.status),
    records: streams.reduce((sum, s) => sum + (s.pushed ?? s.pulled ?? 0), 0),
    failed: streams.reduce((sum, s) => sum + (s.failed ?? 0), 0),
    streams: streams.length,
    errors: streams.filter((s) => s.error !== undefined).map((s) => `${s.node ?? '?'} ${s.protocol ?? '?'}: ${s.error}`),
  };
}
