import { failOverNodes } from '../assign/failover-nodes.js';
import type { MeshConfig } from '../config/mesh-config.js';
import type { Database } from '../db/open-database.js';
import { ensureRecordCountRows } from '../db/record-counts.js';
import { runStage, type StageOptions } from '../stream/run-stage.js';
import type { PushBatchEvent, PushStreamOutcome, PushSummary } from './push-outcome.js';
import { pushProtocol } from './push-protocol.js';

export { DEFAULT_CONCURRENCY } from '../stream/run-stage.js';

export interface PushOptions extends StageOptions {
  onBatch?: (event: PushBatchEvent) => void;
}

/**
 * `mesh push`: for every protocol of the selected services, pushes the
 * pending records of each (service, node, protocol) stream whose lease it
 * takes. Never throws for a node's failure: it is in the summary (and in
 * the node's health, the flags for the records' failures). Services with
 * `failover` first move the entities of nodes unavailable for too long.
 */
export async function pushRecords(database: Database, config: MeshConfig, options: PushOptions = {}): Promise<PushSummary> {
  const failover = await failOverNodes(database.db, config, {
    ...(options.service !== undefined && { service: options.service }),
    now: Date.now(),
  });
  const outcomes = await runStage<PushStreamOutcome>(database, config, options, {
    name: 'push',
    protocols: (service) => service.protocols,
    newOutcome: (base) => ({ ...base, pushed: 0, failed: 0 }),
    work: async ({ service, protocol, targets, requests }) => {
      // Delivered is processed for a protocol without pull: its flag writes add to these rows.
      if (!protocol.pull) {
        await ensureRecordCountRows(
          database.db,
          database.dialect,
          service,
          protocol,
          targets.map((t) => t.node.name),
        );
      }
      await pushProtocol({
        db: database.db,
        dialect: database.dialect,
        service,
        protocol,
        targets,
        requests,
        ...(options.signal && { signal: options.signal }),
        ...(options.onBatch && { onBatch: options.onBatch }),
      });
    },
    failed: (all) => all.some((o) => o.failed > 0 || o.unavailable !== undefined),
  });
  return {
    pushed: outcomes.reduce((n, o) => n + o.pushed, 0),
    failed: outcomes.reduce((n, o) => n + o.failed, 0),
    skipped: outcomes.reduce((n, o) => n + (o.skippedRecords ?? 0), 0),
    nodes: outcomes,
    ...(failover.length > 0 && { failover }),
  };
}
