import type PQueue from 'p-queue';
import type { ResolvedProtocol, ResolvedService } from '../config/mesh-config.js';
import type { Db } from '../config/service-config.js';
import type { DialectName } from '../db/database-url.js';
import { runNodeStreams } from '../stream/node-streams.js';
import type { StageTarget } from '../stream/run-stage.js';
import type { PullBatchEvent, PullStreamOutcome } from './pull-outcome.js';
import { readPullCandidates, readRecordKey, type PullBound } from './read-pull-candidates.js';
import { markPullRequestFailed, matchResults, PullFunctionError, storePullResults } from './write-pull-results.js';

export type PullTarget = StageTarget<PullStreamOutcome>;

export interface ProtocolPullProps {
  db: Db;
  dialect: DialectName;
  service: ResolvedService;
  protocol: ResolvedProtocol;
  targets: PullTarget[];
  requests: PQueue;
  /** PostgreSQL column types of the protocol's table, for casts. */
  columnTypes: Map<string, string>;
  signal?: AbortSignal;
  onBatch?: (event: PullBatchEvent) => void;
}

/**
 * Pulls one protocol's results: asks each node's status for its last
 * processed record, then in one ordered pass over the records pushed and
 * not yet pulled (up to each node's bound) asks each node for its batches
 * and stores what it answers, one transaction per batch.
 */
export async function pullProtocol(props: ProtocolPullProps): Promise<void> {
  const { db, dialect, service, protocol } = props;
  const pull = protocol.pull!;
  const bounds = new Map<string, PullBound | null>();
  const targets = new Map(props.targets.map((t) => [t.node.name, t]));
  await Promise.all(
    props.targets.map(async (target) => {
      const status = await props.requests.add(() => target.transport.get(pull.statusPath));
      if (!status.ok) {
        target.outcome.error = status.error;
        // The node's fault (node contract v1.1): runStage backs it off.
        if (status.failure === 'node') target.outcome.unavailable = status.error;
        return;
      }
      target.outcome.reached = true;
      const last = status.body.lastProcessedId;
      target.outcome.lastProcessedId = last ?? null;
      if (last === null || last === undefined) return;
      bounds.set(target.node.name, await readRecordKey(db, dialect, service, protocol, last));
    }),
  );
  if (bounds.size === 0) return;

  await runNodeStreams({
    nodes: [...bounds.keys()],
    batchSize: protocol.batchSize,
    ...(props.signal && { signal: props.signal }),
    idOf: (row) => row[protocol.id],
    read: (after, nodes) =>
      readPullCandidates(db, dialect, service, protocol, {
        after,
        bounds: new Map(nodes.map((n) => [n, bounds.get(n) ?? null])),
        limit: protocol.batchSize,
      }),
    send: async (nodeName, batch) => {
      const target = targets.get(nodeName)!;
      if (!target.leaseHeld()) return false;
      const ids = batch.map((row) => row[protocol.id]);
      const answer = await props.requests.add(() =>
        target.transport.post(pull.path, { service: service.name, protocol: protocol.name, ids }),
      );
      const at = new Date();
      const event = { stage: 'pull' as const, service: service.name, protocol: protocol.name, node: nodeName };
      const fail = async (error: string): Promise<false> => {
        await markPullRequestFailed(db, dialect, protocol, ids, at, error);
        target.outcome.failed += ids.length;
        target.outcome.error = error;
        props.onBatch?.({ ...event, records: ids.length, ok: false, error });
        return false;
      };
      if (!answer.ok) {
        // The node's fault (node contract v1.1): runStage backs it off.
        if (answer.failure === 'node') target.outcome.unavailable = answer.error;
        return fail(answer.error);
      }
      target.outcome.reached = true;
      const matched = matchResults(batch, protocol.id, answer.body.results);
      try {
        await db.transaction().execute((trx) => storePullResults(trx, dialect, service.name, protocol, matched, props.columnTypes, at));
      } catch (error) {
        // The user's function failed: this stream stops and its batch stays unpulled; other nodes go on.
        if (error instanceof PullFunctionError) return fail(error.message);
        throw error;
      }
      target.outcome.pulled += matched.succeeded.length;
      target.outcome.failed += matched.failed.length;
      target.outcome.notReady += ids.length - matched.succeeded.length - matched.failed.length;
      props.onBatch?.({ ...event, records: matched.succeeded.length + matched.failed.length, ok: true });
      return true;
    },
  });
}
