import PQueue from 'p-queue';
import {
  nodesOfService,
  requireNode,
  requireService,
  type MeshConfig,
  type ResolvedProtocol,
  type ResolvedService,
} from '../config/mesh-config.js';
import type { NodeConfig } from '../config/node-config.js';
import type { Database } from '../db/open-database.js';
import { backOffSettings, type BackOffSettings } from '../health/back-off.js';
import { readNodeHealth } from '../health/node-health.js';
import { recordNodeFailure, recordNodeSuccesses } from '../health/record-node-health.js';
import { finishRun, markAbandonedRuns, startRun } from '../db/run-log.js';
import { recordStreamHistory } from '../db/stream-history.js';
import { newLeaseOwner, StreamLeases, streamKey } from '../db/stream-lease.js';
import type { NodeTransport } from '../nodes/node-transport.js';
import { TransportPool, type TransportFactory } from '../nodes/transport-pool.js';

export const DEFAULT_CONCURRENCY = 8;

/** What push and pull take alike. */
export interface StageOptions {
  service?: string;
  node?: string;
  /** Requests in flight at once across all nodes; 8 when left out. */
  concurrency?: number;
  /** Stops reading and sending new batches; the batches in flight finish. */
  signal?: AbortSignal;
  leaseTtlMs?: number;
  transports?: TransportFactory;
  /**
   * The nodes' transports, kept by the caller across runs (`mesh run`: a
   * cycle's push and pull, and the cycles after, share a node's
   * connections while they stay open); the run leaves them open. Left out,
   * the run opens its own (by `transports`) and closes them at its end.
   */
  transportPool?: TransportPool;
  /** Calls the selected nodes even when they are in back-off (`mesh push --node N --now`). */
  now?: boolean;
  /** The back-off after a node's failure; from backOffSettings() (the environment) when left out. */
  backOff?: BackOffSettings;
}

/** The per-stream outcome fields both stages share. */
export interface StreamOutcome {
  service: string;
  protocol: string;
  node: string;
  /** The failure that ended the stream for this run. */
  error?: string;
  /** Why the stream was not worked (another master holds its lease, the node is in back-off). */
  skipped?: string;
  /**
   * Set by the stage when a call failed by the node's fault (FailureClass
   * `node`): runStage records it in the node's health and backs off.
   */
  unavailable?: string;
  /** Set by the stage when at least one call to the node succeeded: resets the node's back-off. */
  reached?: boolean;
  /**
   * Records of this stream's batches whose flags were not written because
   * they moved, were re-pushed or were retried while the batch was in flight
   * (see src/db/record-guards.ts); left out when none.
   */
  skippedRecords?: number;
  /**
   * When the node is called next (ISO 8601), set when it is in back-off:
   * skipped for it (see `skipped`), or unavailable in this run.
   */
  nextTryAt?: string;
}

/** A node whose stream this run holds the lease of. */
export interface StageTarget<O extends StreamOutcome> {
  node: NodeConfig;
  transport: NodeTransport;
  outcome: O;
  /** False once the lease was lost (this master paused past it and another took over): stop sending. */
  leaseHeld(): boolean;
}

export interface Stage<O extends StreamOutcome> {
  name: 'push' | 'pull';
  /** The protocols this stage works. */
  protocols(service: ResolvedService): ResolvedProtocol[];
  newOutcome(base: StreamOutcome): O;
  /** Works one protocol's streams; throws only for a database failure. */
  work(props: { service: ResolvedService; protocol: ResolvedProtocol; targets: StageTarget<O>[]; requests: PQueue }): Promise<void>;
  /** Whether the run failed, for the run log. */
  failed(outcomes: O[]): boolean;
}

/**
 * What push and pull share around their passes: selecting services and
 * nodes, skipping the nodes in back-off (workmesh_node_health, shared by
 * runs and masters) unless `now`, taking the lease of each (stage, service,
 * node, protocol) stream it can (another master's streams are skipped and
 * reported), one transport per node, one bound on requests in flight, the
 * node health the streams found (a node failure backs off, a success
 * resets), the run log, and releasing everything at the end.
 */
export async function runStage<O extends StreamOutcome>(
  database: Database,
  config: MeshConfig,
  options: StageOptions,
  stage: Stage<O>,
): Promise<O[]> {
  const services = options.service === undefined ? config.services : [requireService(config, options.service)];
  if (options.node !== undefined) requireNode(config, options.node);
  const { db, dialect } = database;
  const leases = new StreamLeases({ db, dialect, owner: newLeaseOwner(), ...(options.leaseTtlMs && { ttlMs: options.leaseTtlMs }) });
  const transports = options.transportPool ?? new TransportPool(options.transports ? { create: options.transports } : {});
  const requests = new PQueue({ concurrency: options.concurrency ?? DEFAULT_CONCURRENCY });
  const outcomes: O[] = [];
  const backOff = options.backOff ?? backOffSettings();
  await markAbandonedRuns(db, Date.now(), leases.ttlMs);
  const health = await readNodeHealth(db);
  const startedAt = Date.now();
  const runId = await startRun(db, stage.name, leases.owner);
  try {
    const passes: Promise<void>[] = [];
    for (const service of services) {
      const nodes = nodesOfService(config, service.name).filter((n) => options.node === undefined || n.name === options.node);
      for (const protocol of stage.protocols(service)) {
        const wanted: { node: NodeConfig; outcome: O; key: string }[] = [];
        for (const node of nodes) {
          const outcome = stage.newOutcome({ service: service.name, protocol: protocol.name, node: node.name });
          outcomes.push(outcome);
          const nextTryAt = health.get(node.name)?.nextTryAt ?? null;
          if (nextTryAt !== null && nextTryAt > startedAt && !options.now) {
            outcome.nextTryAt = new Date(nextTryAt).toISOString();
            outcome.skipped = `in back-off until ${outcome.nextTryAt}: ${health.get(node.name)?.lastError ?? 'failed'}`;
            continue;
          }
          wanted.push({ node, outcome, key: streamKey(stage.name, service.name, node.name, protocol.name) });
        }
        // One call for the protocol's streams: a few statements, not a round trip per node.
        const held = new Set(await leases.acquire(wanted.map((w) => w.key)));
        const targets: StageTarget<O>[] = [];
        for (const { node, outcome, key } of wanted) {
          if (!held.has(key)) outcome.skipped = `another master is working this ${stage.name} stream`;
          else targets.push({ node, transport: transports.get(node), outcome, leaseHeld: () => leases.has(key) });
        }
        if (targets.length > 0) passes.push(stage.work({ service, protocol, targets, requests }));
      }
    }
    const settled = await Promise.allSettled(passes);
    const rejected = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    await recordHealth(db, outcomes, backOff);
    // `reached` only tells recordHealth; it is no part of what the run reports.
    for (const outcome of outcomes) delete outcome.reached;
    await finishRun(db, runId, rejected || stage.failed(outcomes) ? 'failed' : 'ok', outcomes);
    await recordStreamHistory(db, runId, stage.name, outcomes);
    if (rejected) throw rejected.reason;
    return outcomes;
  } finally {
    await leases.releaseAll().catch(() => undefined);
    if (options.transportPool === undefined) await transports.closeAll();
  }
}

/**
 * One health record per node for the whole run, whatever its streams: a
 * failure by the node's fault on any of them backs the node off (once per
 * run, so several protocols do not multiply the wait); else a success on
 * any resets it. The next-try time goes into the node's outcomes.
 */
async function recordHealth(db: Database['db'], outcomes: StreamOutcome[], backOff: BackOffSettings): Promise<void> {
  const byNode = new Map<string, StreamOutcome[]>();
  for (const outcome of outcomes) byNode.set(outcome.node, [...(byNode.get(outcome.node) ?? []), outcome]);
  const succeeded: string[] = [];
  for (const [node, mine] of byNode) {
    const failed = mine.find((o) => o.unavailable !== undefined);
    if (failed) {
      const nextTryAt = await recordNodeFailure(db, { node, error: failed.unavailable!, now: Date.now(), settings: backOff });
      for (const o of mine) if (o.unavailable !== undefined) o.nextTryAt = new Date(nextTryAt).toISOString();
    } else if (mine.some((o) => o.reached)) {
      succeeded.push(node);
    }
  }
  // Successes are the common case: written together, a few statements for all nodes.
  await recordNodeSuccesses(db, succeeded, Date.now());
}
