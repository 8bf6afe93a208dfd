import PQueue from 'p-queue';
import { nodesOfService, requireNode, requireService, type MeshConfig, type ResolvedProtocol } from '../config/mesh-config.js';
import type { Database } from '../db/open-database.js';
import { finishRun, startRun } from '../db/run-log.js';
import { newLeaseOwner, StreamLeases, streamKey } from '../db/stream-lease.js';
import { TransportPool, type TransportFactory } from '../nodes/transport-pool.js';
import { DEFAULT_CONCURRENCY } from '../push/push-records.js';
import type { PullBatchEvent, PullStreamOutcome, PullSummary } from './pull-outcome.js';
import { pullProtocol, type PullTarget } from './pull-protocol.js';

export interface PullOptions {
  service?: string;
  node?: string;
  concurrency?: number;
  signal?: AbortSignal;
  onBatch?: (event: PullBatchEvent) => void;
  leaseTtlMs?: number;
  transports?: TransportFactory;
}

/**
 * `mesh pull`: for every protocol with a `pull`, takes the lease of each
 * (service, node, protocol) pull stream it can and pulls the results of the
 * records processed so far. Node failures are in the summary and the flags.
 */
export async function pullRecords(database: Database, config: MeshConfig, options: PullOptions = {}): Promise<PullSummary> {
  const services = options.service === undefined ? config.services : [requireService(config, options.service)];
  if (options.node !== undefined) requireNode(config, options.node);
  const { db, dialect } = database;
  const leases = new StreamLeases({ db, dialect, owner: newLeaseOwner(), ...(options.leaseTtlMs && { ttlMs: options.leaseTtlMs }) });
  const transports = new TransportPool(options.transports ? { create: options.transports } : {});
  const requests = new PQueue({ concurrency: options.concurrency ?? DEFAULT_CONCURRENCY });
  const outcomes: PullStreamOutcome[] = [];
  const runId = await startRun(db, 'pull', leases.owner);
  try {
    const passes: Promise<void>[] = [];
    for (const service of services) {
      const nodes = nodesOfService(config, service.name).filter((n) => options.node === undefined || n.name === options.node);
      for (const protocol of service.protocols.filter((p) => p.pull !== undefined)) {
        const targets: PullTarget[] = [];
        for (const node of nodes) {
          const outcome: PullStreamOutcome = {
            service: service.name,
            protocol: protocol.name,
            node: node.name,
            pulled: 0,
            failed: 0,
            notReady: 0,
          };
          outcomes.push(outcome);
          const [held] = await leases.acquire([streamKey('pull', service.name, node.name, protocol.name)]);
          if (held === undefined) outcome.skipped = 'another master is pulling this stream';
          else targets.push({ node, transport: transports.get(node), outcome });
        }
        if (targets.length === 0) continue;
        passes.push(
          pullProtocol({
            db,
            dialect,
            service,
            protocol,
            targets,
            requests,
            columnTypes: await readColumnTypes(database, protocol),
            ...(options.signal && { signal: options.signal }),
            ...(options.onBatch && { onBatch: options.onBatch }),
          }),
        );
      }
    }
    const settled = await Promise.allSettled(passes);
    const summary: PullSummary = {
      pulled: outcomes.reduce((n, o) => n + o.pulled, 0),
      failed: outcomes.reduce((n, o) => n + o.failed, 0),
      nodes: outcomes,
    };
    const rejected = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    const nodeFailed = outcomes.some((o) => o.error !== undefined);
    await finishRun(db, runId, rejected || summary.failed > 0 || nodeFailed ? 'failed' : 'ok', summary);
    if (rejected) throw rejected.reason;
    return summary;
  } finally {
    await leases.releaseAll().catch(() => undefined);
    await transports.closeAll();
  }
}

const TYPE_NAME = /^[A-Za-z_][A-Za-z0-9_ ]*$/;

/** PostgreSQL needs each bound result cast to its column's type; the others convert on their own. */
async function readColumnTypes(database: Database, protocol: ResolvedProtocol): Promise<Map<string, string>> {
  const types = new Map<string, string>();
  if (database.dialect !== 'postgres' || !protocol.pull?.columns) return types;
  const tables = await database.db.introspection.getTables();
  const table = tables.find((t) => t.name === protocol.table);
  for (const column of table?.columns ?? []) {
    if (TYPE_NAME.test(column.dataType)) types.set(column.name, column.dataType);
  }
  return types;
}
