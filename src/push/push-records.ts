import PQueue from 'p-queue';
import { nodesOfService, requireNode, requireService, type MeshConfig } from '../config/mesh-config.js';
import type { Database } from '../db/open-database.js';
import { finishRun, startRun } from '../db/run-log.js';
import { newLeaseOwner, StreamLeases, streamKey } from '../db/stream-lease.js';
import { TransportPool, type TransportFactory } from '../nodes/transport-pool.js';
import type { PushBatchEvent, PushStreamOutcome, PushSummary } from './push-outcome.js';
import { pushProtocol, type PushTarget } from './push-protocol.js';

export interface PushOptions {
  service?: string;
  node?: string;
  /** Requests in flight at once across all nodes; 8 when left out. */
  concurrency?: number;
  /** Stops reading and sending new batches; the batches in flight finish. */
  signal?: AbortSignal;
  onBatch?: (event: PushBatchEvent) => void;
  leaseTtlMs?: number;
  transports?: TransportFactory;
}

export const DEFAULT_CONCURRENCY = 8;

/**
 * `mesh push`: for every protocol of the selected services, takes the lease
 * of each (service, node, protocol) stream it can, and pushes the pending
 * records of those streams. A stream whose lease another master holds is
 * skipped and reported. Never throws for a node's failure: it is in the
 * summary and the flags.
 */
export async function pushRecords(database: Database, config: MeshConfig, options: PushOptions = {}): Promise<PushSummary> {
  const services = options.service === undefined ? config.services : [requireService(config, options.service)];
  if (options.node !== undefined) requireNode(config, options.node);
  const { db, dialect } = database;
  const leases = new StreamLeases({ db, dialect, owner: newLeaseOwner(), ...(options.leaseTtlMs && { ttlMs: options.leaseTtlMs }) });
  const transports = new TransportPool(options.transports ? { create: options.transports } : {});
  const requests = new PQueue({ concurrency: options.concurrency ?? DEFAULT_CONCURRENCY });
  const outcomes: PushStreamOutcome[] = [];
  const runId = await startRun(db, 'push', leases.owner);
  try {
    const passes: Promise<void>[] = [];
    for (const service of services) {
      const nodes = nodesOfService(config, service.name).filter((n) => options.node === undefined || n.name === options.node);
      for (const protocol of service.protocols) {
        const targets: PushTarget[] = [];
        for (const node of nodes) {
          const outcome: PushStreamOutcome = { service: service.name, protocol: protocol.name, node: node.name, pushed: 0, failed: 0 };
          outcomes.push(outcome);
          const [held] = await leases.acquire([streamKey('push', service.name, node.name, protocol.name)]);
          if (held === undefined) outcome.skipped = 'another master is pushing this stream';
          else targets.push({ node, transport: transports.get(node), outcome });
        }
        if (targets.length === 0) continue;
        passes.push(
          pushProtocol({
            db,
            dialect,
            service,
            protocol,
            targets,
            requests,
            ...(options.signal && { signal: options.signal }),
            ...(options.onBatch && { onBatch: options.onBatch }),
          }),
        );
      }
    }
    const settled = await Promise.allSettled(passes);
    const summary: PushSummary = {
      pushed: outcomes.reduce((n, o) => n + o.pushed, 0),
      failed: outcomes.reduce((n, o) => n + o.failed, 0),
      nodes: outcomes,
    };
    const rejected = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    await finishRun(db, runId, rejected || summary.failed > 0 ? 'failed' : 'ok', summary);
    if (rejected) throw rejected.reason;
    return summary;
  } finally {
    await leases.releaseAll().catch(() => undefined);
    await transports.closeAll();
  }
}
