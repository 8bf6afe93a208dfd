import type PQueue from 'p-queue';
import type { ResolvedProtocol, ResolvedService } from '../config/mesh-config.js';
import type { Db } from '../config/service-config.js';
import type { DialectName } from '../db/database-url.js';
import { toDbTime } from '../db/db-values.js';
import { dataErrorText, isDataError } from '../db/storage-error.js';
import { cleanErrorText } from '../nodes/clean-error-text.js';
import { countSkipped } from '../stream/count-skipped.js';
import { FlagWriteGroup, GROUPED_BATCHES, smallestId } from '../stream/flag-write-group.js';
import { runNodeStreams } from '../stream/node-streams.js';
import { idsScattered } from '../stream/write-in-id-order.js';
import type { StageTarget } from '../stream/run-stage.js';
import type { PullBatchEvent, PullStreamOutcome } from './pull-outcome.js';
import { checkLastProcessedId, PullAnswerError } from './check-pull-answer.js';
import { isAsked, orderPullBounds, readRecordKeys, type NodeBound } from './pull-bounds.js';
import { pullCandidatePass } from './read-pull-candidates.js';
import { pulledIds, storableTogether, storePullResultsTogether, type PulledBatch } from './store-pull-results-together.js';
import { markPullRequestFailed, matchResults, PullFunctionError, storePullResults, type StoredPull } from './write-pull-results.js';

/** `pull.sweepAfterMs` when left out: five minutes. */
export const DEFAULT_SWEEP_AFTER_MS = 5 * 60_000;

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
 * not yet pulled (up to each node's bound, and besides the bound those
 * delivered more than `pull.sweepAfterMs` ago) asks each node for its
 * batches and stores what it answers, the batches answered together in one
 * transaction (FlagWriteGroup). A bad answer or a batch the database
 * refuses fails that node's stream only.
 */
export async function pullProtocol(props: ProtocolPullProps): Promise<void> {
  const { db, dialect, service, protocol } = props;
  const pull = protocol.pull!;
  const bounds = new Map<string, NodeBound>();
  /** Each node's last processed id, by its status. */
  const lasts = new Map<string, string | number | null>();
  const targets = new Map(props.targets.map((t) => [t.node.name, t]));
  await Promise.all(
    props.targets.map(async (target) => {
      const status = await props.requests.add(() => target.transport.get(pull.statusPath));
      if (!status.ok) {
        target.outcome.error = status.where === undefined ? status.error : `${status.where}: ${status.error}`;
        // The node's fault (node contract v1.1): runStage backs it off.
        if (status.failure === 'node') target.outcome.unavailable = target.outcome.error;
        return;
      }
      target.outcome.reached = true;
      let last: string | number | null;
      try {
        last = checkLastProcessedId(target.node.name, status.body.lastProcessedId);
      } catch (error) {
        if (!(error instanceof PullAnswerError)) throw error;
        target.outcome.error = error.message;
        return;
      }
      target.outcome.lastProcessedId = last;
      lasts.set(target.node.name, last);
    }),
  );
  // Every node's last processed record, in a query per thousand nodes.
  const ids = [...lasts.values()].filter((id): id is string | number => id !== null);
  const keys = await readRecordKeys(db, dialect, service, protocol, ids);
  for (const [node, last] of lasts) bounds.set(node, last === null ? 'none' : (keys.get(String(last)) ?? null));
  if (bounds.size === 0) return;
  const sweepAfterMs = pull.sweepAfterMs ?? DEFAULT_SWEEP_AFTER_MS;
  const sweepBefore = toDbTime(dialect, new Date(Date.now() - sweepAfterMs));
  const passBounds = await orderPullBounds(db, protocol, bounds);
  const ranks = new Map(passBounds.ordered.map((bound, index) => [bound, index]));
  const candidates = pullCandidatePass(db, dialect, service, protocol, {
    ordered: passBounds.ordered,
    sweepBefore,
    limit: protocol.batchSize,
  });
  const resultWrites = new FlagWriteGroup<PulledBatch, StoredPull>({
    db,
    minRows: GROUPED_BATCHES * protocol.batchSize,
    answersExpected: () => props.requests.size + props.requests.pending > 0,
    // A server: a full batch that covers a short range is stored at once, while the other nodes are answered.
    ...(dialect !== 'sqlite' && {
      alone: (rows: number, part: PulledBatch) => rows >= protocol.batchSize && !idsScattered(pulledIds(part, protocol.id)),
    }),
    // SQLite: the results of a group in id order, whatever their nodes (store-pull-results-together.ts).
    ...(dialect === 'sqlite' &&
      storableTogether(protocol) && {
        togetherUpTo: protocol.batchSize / 2,
        together: (trx: Db, parts: PulledBatch[]) => storePullResultsTogether(trx, service, protocol, parts),
      }),
  });

  let asked: { nodes: string[]; bounds: Map<string, NodeBound> } | undefined;
  await runNodeStreams({
    nodes: [...bounds.keys()],
    batchSize: protocol.batchSize,
    ...(props.signal && { signal: props.signal }),
    idOf: (row) => row[protocol.id],
    read: (after, nodes) => {
      // The same nodes read after read, until a stream stops: their bounds are looked up once.
      if (asked?.nodes !== nodes) asked = { nodes, bounds: new Map(nodes.map((n) => [n, bounds.get(n) ?? null])) };
      return candidates.read(after, asked.bounds);
    },
    keep: (node, row) => isAsked(row, bounds.get(node) ?? null, ranks, sweepBefore),
    // A batch needs only its ids (the request, the answer's match, the store); the node, sort, push time and rank
    // were for dealing and keeping it.
    hold: (row) => ({ [protocol.id]: row[protocol.id] }),
    send: async (nodeName, batch) => {
      const target = targets.get(nodeName)!;
      if (!target.leaseHeld()) return false;
      const guard = { service, node: nodeName };
      const ids = batch.map((row) => row[protocol.id]);
      const answer = await props.requests.add(() =>
        target.transport.post(pull.path, { service: service.name, protocol: protocol.name, ids }),
      );
      const at = new Date();
      const event = { stage: 'pull' as const, service: service.name, protocol: protocol.name, node: nodeName };
      /** `where`: the request that failed, named in the stream's error (a person reads it) but not in the flags. */
      const fail = async (error: string, where?: string): Promise<false> => {
        const flagged = await markPullRequestFailed(db, dialect, guard, protocol, ids, at, error);
        target.outcome.failed += flagged;
        countSkipped(target.outcome, ids.length - flagged);
        target.outcome.error = cleanErrorText(where === undefined ? error : `${where}: ${error}`);
        props.onBatch?.({ ...event, records: ids.length, ok: false, error: cleanErrorText(error) });
        return false;
      };
      if (!answer.ok) {
        // The node's fault (node contract v1.1): runStage backs it off.
        const failed = await fail(answer.error, answer.where);
        if (answer.failure === 'node') target.outcome.unavailable = target.outcome.error;
        return failed;
      }
      target.outcome.reached = true;
      let stored: StoredPull;
      try {
        const matched = matchResults(batch, protocol.id, answer.body.results, nodeName);
        stored = await resultWrites.writePart(smallestId(ids), ids.length, { node: nodeName, answered: matched, at }, (trx) =>
          storePullResults(trx, dialect, guard, protocol, matched, props.columnTypes, at),
        );
      } catch (error) {
        // A bad answer, the user's function failing, or the database refusing this batch's data: the batch is
        // rolled back and fails, this stream stops, other nodes go on. Anything else (a lost connection) ends the run.
        if (error instanceof PullAnswerError || error instanceof PullFunctionError) return fail(error.message);
        if (isDataError(error)) return fail(dataErrorText(error));
        throw error;
      }
      target.outcome.pulled += stored.pulled;
      target.outcome.failed += stored.failed;
      countSkipped(target.outcome, stored.skipped);
      target.outcome.notReady += ids.length - stored.pulled - stored.failed - stored.skipped;
      props.onBatch?.({ ...event, records: stored.pulled + stored.failed, ok: true });
      return true;
    },
  });
}
