import { Counter, Gauge, Registry } from 'prom-client';
import type { MeshConfig } from '../config/mesh-config.js';
import type { Database } from '../db/open-database.js';
import { toCount } from '../db/db-values.js';
import { readNodeHealth } from '../health/node-health.js';
import { countRecords } from '../report/count-records.js';
import { lastRuns } from '../report/run-history.js';
import { streamActivity } from '../report/stream-activity.js';
import { streamLags } from '../report/stream-lag.js';

/** The Content-Type of what collectMetrics returns (Prometheus text format 0.0.4). */
export const METRICS_CONTENT_TYPE = new Registry().contentType;

/**
 * Every metric the dashboard's /metrics and `mesh metrics` show, in the
 * Prometheus text exposition format, read from the database at the time of
 * the call (a fresh registry each time: the values are the database's, not
 * this process's). Reads only.
 */
export async function collectMetrics(database: Database, config: MeshConfig, now = Date.now()): Promise<string> {
  const registry = new Registry();
  const registers = [registry];
  const streamLabels = ['service', 'protocol', 'node'] as const;

  const records = new Gauge({
    name: 'workmesh_records',
    help: 'Records by state (pending, failed, processed), as mesh --nodes counts them.',
    labelNames: [...streamLabels, 'state'],
    registers,
  });
  for (const service of config.services) {
    for (const protocol of service.protocols) {
      const counts = await countRecords(database.db, database.dialect, service, protocol, { byNode: true });
      for (const [node, count] of counts) {
        for (const state of ['pending', 'failed', 'processed'] as const) {
          records.set({ service: service.name, protocol: protocol.name, node, state }, count[state]);
        }
      }
    }
  }

  const lag = new Gauge({
    name: 'workmesh_lag_seconds',
    help: 'Age of the oldest pending record, by its sort time (0 when none is pending).',
    labelNames: streamLabels,
    registers,
  });
  for (const stream of await streamLags(database, config, now)) {
    if (stream.lagMs !== null) lag.set({ service: stream.service, protocol: stream.protocol, node: stream.node }, stream.lagMs / 1000);
  }

  const up = new Gauge({
    name: 'workmesh_node_up',
    help: '1 when the node is not failing, 0 while it is.',
    labelNames: ['node'],
    registers,
  });
  const failures = new Gauge({
    name: 'workmesh_node_failures',
    help: 'Failures in a row since the last success.',
    labelNames: ['node'],
    registers,
  });
  const backoff = new Gauge({
    name: 'workmesh_node_backoff_seconds',
    help: 'Seconds left before a master calls the node again (0: not in back-off).',
    labelNames: ['node'],
    registers,
  });
  const lastSuccess = new Gauge({
    name: 'workmesh_node_last_success_timestamp_seconds',
    help: 'When a call to the node last succeeded.',
    labelNames: ['node'],
    registers,
  });
  const health = await readNodeHealth(database.db);
  const names = new Set([...config.nodes.map((n) => n.name), ...health.keys()]);
  for (const node of names) {
    const h = health.get(node);
    up.set({ node }, h?.failingSince === null || h?.failingSince === undefined ? 1 : 0);
    failures.set({ node }, h?.failures ?? 0);
    backoff.set({ node }, h?.nextTryAt ? Math.max(0, h.nextTryAt - now) / 1000 : 0);
    if (h?.lastSuccessAt) lastSuccess.set({ node }, h.lastSuccessAt / 1000);
  }

  const moved = {
    push: new Counter({
      name: 'workmesh_records_pushed_total',
      help: 'Records pushed and confirmed by the node.',
      labelNames: streamLabels,
      registers,
    }),
    pull: new Counter({ name: 'workmesh_records_pulled_total', help: 'Results pulled and stored.', labelNames: streamLabels, registers }),
  };
  const failedTotal = new Counter({
    name: 'workmesh_stream_failures_total',
    help: 'Records whose push or pull failed, per stage.',
    labelNames: ['stage', ...streamLabels],
    registers,
  });
  for (const row of await database.db.selectFrom('workmesh_stream_totals').selectAll().execute()) {
    const labels = { service: String(row.service), protocol: String(row.protocol), node: String(row.node) };
    const stage = row.stage === 'pull' ? 'pull' : 'push';
    moved[stage].inc(labels, toCount(row.records));
    failedTotal.inc({ stage, ...labels }, toCount(row.failed));
  }

  const streamSuccess = new Gauge({
    name: 'workmesh_stream_last_success_timestamp_seconds',
    help: 'When a run of the stream last ended without an error (within the 7 days of history).',
    labelNames: ['stage', ...streamLabels],
    registers,
  });
  for (const a of await streamActivity(database.db)) {
    if (a.lastSuccessAt !== null)
      streamSuccess.set({ stage: a.stage, service: a.service, protocol: a.protocol, node: a.node }, a.lastSuccessAt / 1000);
  }

  const duration = new Gauge({
    name: 'workmesh_run_duration_seconds',
    help: 'Duration of the last finished run of each command.',
    labelNames: ['command', 'status'],
    registers,
  });
  const finished = new Gauge({
    name: 'workmesh_run_last_finished_timestamp_seconds',
    help: 'When the last run of each command finished.',
    labelNames: ['command'],
    registers,
  });
  for (const run of await lastRuns(database.db)) {
    if (run.durationMs !== null) duration.set({ command: run.command, status: run.status }, run.durationMs / 1000);
    if (run.finishedAt !== null) finished.set({ command: run.command }, run.finishedAt / 1000);
  }
  return registry.metrics();
}
