import type { Db } from '../config/service-config.js';
import { toCount } from '../db/db-values.js';

export interface StreamActivity {
  stage: 'push' | 'pull';
  service: string;
  protocol: string;
  node: string;
  /** Epoch ms of the end of the last run of this stream that ended without an error; null for none in the history. */
  lastSuccessAt: number | null;
  lastErrorAt: number | null;
  lastError: string | null;
  /** Records moved by this stream over the history kept (7 days). */
  records: number;
}

/** Per (stage, service, protocol, node) stream: its last success and last error in `workmesh_stream_history`. Reads only. */
export async function streamActivity(db: Db, options: { node?: string } = {}): Promise<StreamActivity[]> {
  let query = db
    .selectFrom('workmesh_stream_history')
    .select((eb) => [
      'stage',
      'service',
      'protocol',
      'node',
      eb.fn.max(eb.case().when('error', 'is', null).then(eb.ref('finished_at')).end()).as('last_success'),
      eb.fn.max(eb.case().when('error', 'is not', null).then(eb.ref('finished_at')).end()).as('last_error'),
      eb.fn.sum('records').as('records'),
    ])
    .groupBy(['stage', 'service', 'protocol', 'node']);
  if (options.node !== undefined) query = query.where('node', '=', options.node);
  const rows = await query.execute();
  const found: StreamActivity[] = [];
  for (const row of rows) {
    const lastErrorAt = row.last_error === null || row.last_error === undefined ? null : Number(row.last_error);
    let lastError: string | null = null;
    if (lastErrorAt !== null) {
      const errorRow = await db
        .selectFrom('workmesh_stream_history')
        .select('error')
        .where('stage', '=', row.stage as string)
        .where('service', '=', row.service as string)
        .where('protocol', '=', row.protocol as string)
        .where('node', '=', row.node as string)
        .where('finished_at', '=', lastErrorAt)
        .where('error', 'is not', null)
        .executeTakeFirst();
      lastError = errorRow ? String(errorRow.error) : null;
    }
    found.push({
      stage: row.stage as 'push' | 'pull',
      service: String(row.service),
      protocol: String(row.protocol),
      node: String(row.node),
      lastSuccessAt: row.last_success === null || row.last_success === undefined ? null : Number(row.last_success),
      lastErrorAt,
      lastError,
      records: toCount(row.records),
    });
  }
  return found;
}

export interface ThroughputSeries {
  /** Start of each minute, epoch seconds (what charts take). */
  minutes: number[];
  pushed: number[];
  pulled: number[];
}

/**
 * Records pushed and pulled per minute over the last `hours`, from the
 * per-run history; a run's records are counted in the minute it ended.
 * Optionally for one node. Reads only.
 */
export async function throughput(db: Db, options: { hours: number; node?: string; now?: number }): Promise<ThroughputSeries> {
  const now = options.now ?? Date.now();
  const minuteMs = 60_000;
  const last = Math.floor(now / minuteMs);
  const first = last - Math.round(options.hours * 60) + 1;
  let query = db
    .selectFrom('workmesh_stream_history')
    .select(['stage', 'finished_at', 'records'])
    .where('finished_at', '>=', first * minuteMs)
    .where('records', '>', 0);
  if (options.node !== undefined) query = query.where('node', '=', options.node);
  const series: ThroughputSeries = { minutes: [], pushed: [], pulled: [] };
  for (let minute = first; minute <= last; minute++) {
    series.minutes.push((minute * minuteMs) / 1000);
    series.pushed.push(0);
    series.pulled.push(0);
  }
  for (const row of await query.execute()) {
    const index = Math.floor(Number(row.finished_at) / minuteMs) - first;
    if (index < 0 || index >= series.minutes.length) continue;
    const into = row.stage === 'push' ? series.pushed : series.pulled;
    into[index] = (into[index] ?? 0) + toCount(row.records);
  }
  return series;
}
