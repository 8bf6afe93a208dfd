import type PQueue from 'p-queue';
import type { ResolvedProtocol, ResolvedService } from '../config/mesh-config.js';
import type { NodeConfig } from '../config/node-config.js';
import type { Db, Row } from '../config/service-config.js';
import type { DialectName } from '../db/database-url.js';
import { NODE_ALIAS, SORT_ALIAS } from '../db/record-source.js';
import { countSkipped } from '../stream/count-skipped.js';
import { runNodeStreams } from '../stream/node-streams.js';
import type { StageTarget } from '../stream/run-stage.js';
import type { PushBatchEvent, PushStreamOutcome } from './push-outcome.js';
import { readPendingBatch } from './read-pending-batch.js';
import { toWireRecord } from './wire-record.js';
import { markPushFailed, markPushed } from './write-push-flags.js';

/** A node this run may push to: its lease is held. */
export type PushTarget = StageTarget<PushStreamOutcome>;

export interface ProtocolPushProps {
  db: Db;
  dialect: DialectName;
  service: ResolvedService;
  protocol: ResolvedProtocol;
  targets: PushTarget[];
  /** Bounds the requests in flight across all nodes. */
  requests: PQueue;
  signal?: AbortSignal;
  onBatch?: (event: PushBatchEvent) => void;
}

/**
 * Pushes one protocol's pending records to the target nodes in one ordered
 * pass (see runNodeStreams): one query per batch read, one request and one
 * flag UPDATE per batch sent. A failed batch is flagged failed and ends that
 * node's stream for this run; the next run resumes there.
 */
export async function pushProtocol(props: ProtocolPushProps): Promise<void> {
  const { db, dialect, service, protocol } = props;
  const targets = new Map(props.targets.map((t) => [t.node.name, t]));
  const omitted = new Set<string>([...Object.values(protocol.flags), NODE_ALIAS, SORT_ALIAS]);
  const settledBefore = protocol.settleMs === undefined ? undefined : new Date(Date.now() - protocol.settleMs);
  let recordColumns: string[] | undefined;

  const deliver = async (target: PushTarget, records: Row[]): Promise<string | undefined> => {
    if (protocol.push.fn) {
      try {
        await protocol.push.fn(records, target.node, { service: service.name, protocol: protocol.name, db });
        return undefined;
      } catch (error) {
        return error instanceof Error ? error.message : String(error);
      }
    }
    const answer = await target.transport.post(protocol.push.path!, { service: service.name, protocol: protocol.name, records });
    return answer.ok ? undefined : answer.error;
  };

  await runNodeStreams({
    nodes: [...targets.keys()],
    batchSize: protocol.batchSize,
    ...(props.signal && { signal: props.signal }),
    idOf: (row) => row[protocol.id],
    read: async (after, nodes) => {
      const rows = await readPendingBatch(db, dialect, service, protocol, {
        after,
        nodes,
        limit: protocol.batchSize,
        ...(settledBefore && { settledBefore }),
        ...(recordColumns && { columns: recordColumns }),
      });
      // The first batch reads `r.*`; the next ones only the columns sent (not the flags): less to read and hold.
      if (rows[0] !== undefined) recordColumns ??= Object.keys(rows[0]).filter((column) => !omitted.has(column));
      return rows;
    },
    send: async (nodeName, batch) => {
      const target = targets.get(nodeName)!;
      // Another master took this stream over (this one paused past its lease): leave the rest to it.
      if (!target.leaseHeld()) return false;
      const ids = batch.map((row) => row[protocol.id]);
      const records = batch.map((row) => toWireRecord(row, omitted));
      const error = await props.requests.add(() => deliver(target, records));
      const at = new Date();
      if (error === undefined) {
        const flagged = await markPushed(db, dialect, protocol, ids, at, nodeName, { service });
        target.outcome.pushed += flagged;
        countSkipped(target.outcome, ids.length - flagged);
      } else {
        const flagged = await markPushFailed(db, dialect, protocol, ids, at, error, { service, node: nodeName });
        target.outcome.failed += flagged;
        countSkipped(target.outcome, ids.length - flagged);
        target.outcome.error = error;
      }
      props.onBatch?.({
        stage: 'push',
        service: service.name,
        protocol: protocol.name,
        node: nodeName,
        records: ids.length,
        ok: error === undefined,
        ...(error !== undefined && { error }),
      });
      return error === undefined;
    },
  });
}
