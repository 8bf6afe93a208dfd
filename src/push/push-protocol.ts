import type PQueue from 'p-queue';
import type { ResolvedProtocol, ResolvedService } from '../config/mesh-config.js';
import type { Db, Row } from '../config/service-config.js';
import type { DialectName } from '../db/database-url.js';
import { NODE_ALIAS, SORT_ALIAS } from '../db/record-source.js';
import { cleanErrorText } from '../nodes/clean-error-text.js';
import { JsonText } from '../nodes/json-text.js';
import type { FailureClass } from '../nodes/node-transport.js';
import { countSkipped } from '../stream/count-skipped.js';
import { FlagWriteGroup, GROUPED_BATCHES, smallestId } from '../stream/flag-write-group.js';
import { heldRowBytes, runNodeStreams } from '../stream/node-streams.js';
import type { StageTarget } from '../stream/run-stage.js';
import { idsScattered } from '../stream/write-in-id-order.js';
import type { PushBatchEvent, PushStreamOutcome } from './push-outcome.js';
import { readMovesToken } from '../db/entity-moves.js';
import { readPendingBatch } from './read-pending-batch.js';
import { readRejected } from './read-rejected.js';
import { toWireRecord } from './wire-record.js';
import { markPushFailed, markPushed, markPushedTogether, type DeliveredBatch } from './write-push-flags.js';

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
 * One record of a batch, as held until it is sent: its id in the database,
 * its id as sent, the record as sent (JSON text), and its push attempts so far.
 */
interface Item {
  id: unknown;
  wireId: unknown;
  json: string;
  attempts: number;
}

/** `where`: the request that failed (`POST /api/…`), for the texts a person reads; the flags keep `error` alone. */
type Answer = { ok: true; rejected: Map<string, string> } | { ok: false; error: string; failure: FailureClass; where?: string };

/**
 * How a part of a batch went: `clean` accepted whole at the first request;
 * `isolated` every record in it delivered or dead, after a rejection;
 * `stop` the stream ends for this run (the node failed, or a rejected
 * record is still pending: nothing after it is sent).
 */
type PartResult = 'clean' | 'isolated' | 'stop';

/**
 * Pushes one protocol's pending records to the target nodes in one ordered
 * pass (see runNodeStreams): one query per batch read, one request and one
 * flag UPDATE per batch sent, the UPDATEs of batches answered together
 * committed together (FlagWriteGroup).
 *
 * Failures follow their cause (node contract v1.1). The node's (down,
 * time-out, 401/404/429/5xx, not JSON, an invalid answer) write no flag and
 * count no attempt: the stream ends for this run, its records stay pending
 * in order, and runStage backs the node off. The records' (400/409/413/422
 * with JSON) are isolated by halving the batch until the rejected record is
 * alone (about log2(batchSize) more requests, only then): the records
 * before it are delivered, it alone counts an attempt, and nothing after it
 * is sent in this run unless it is dead. A success answer with `rejected`
 * delivers the others, counts an attempt for each listed one, and ends the
 * stream after that batch while one of them is still pending.
 */
export async function pushProtocol(props: ProtocolPushProps): Promise<void> {
  const { db, dialect, service, protocol } = props;
  const targets = new Map(props.targets.map((t) => [t.node.name, t]));
  const omitted = new Set<string>([...Object.values(protocol.flags), NODE_ALIAS, SORT_ALIAS]);
  const settledBefore = protocol.settleMs === undefined ? undefined : new Date(Date.now() - protocol.settleMs);
  let recordColumns: string[] | undefined;
  /** The service's moves token when the pass began. */
  let movesToken: { at: string | null } | undefined;
  const flagWrites = new FlagWriteGroup<DeliveredBatch>({
    db,
    minRows: GROUPED_BATCHES * protocol.batchSize,
    answersExpected: () => props.requests.size + props.requests.pending > 0,
    // A server: a full batch that covers a short range is written at once, while the other nodes are answered.
    ...(dialect !== 'sqlite' && {
      alone: (rows: number, part: DeliveredBatch) => rows >= protocol.batchSize && !idsScattered(part.ids),
    }),
    // SQLite: the deliveries of a group in id order, whatever their nodes (write-push-flags.ts).
    ...(dialect === 'sqlite' && {
      togetherUpTo: protocol.batchSize / 2,
      scattered: (part: DeliveredBatch) => idsScattered(part.ids),
      together: (trx: Db, parts: DeliveredBatch[]) => markPushedTogether(trx, protocol, parts, { service }),
    }),
  });

  const deliver = async (target: PushTarget, items: Item[]): Promise<Answer> => {
    if (protocol.push.fn) {
      // What a node would have been sent, as objects.
      const records = items.map((item) => JSON.parse(item.json) as Row);
      try {
        await protocol.push.fn(records, target.node, { service: service.name, protocol: protocol.name, db });
        return { ok: true, rejected: new Map() };
      } catch (error) {
        // A function's failure is the node's (no record pays for an outage behind it) unless the error says
        // `failure: 'records'`: then the batch is halved down to the record at fault, as for a 422.
        const failure: FailureClass = (error as { failure?: unknown } | null)?.failure === 'records' ? 'records' : 'node';
        return { ok: false, error: cleanErrorText(error instanceof Error ? error.message : String(error)), failure };
      }
    }
    const body = `{"service":${JSON.stringify(service.name)},"protocol":${JSON.stringify(protocol.name)},"records":[${items.map((item) => item.json).join(',')}]}`;
    const answer = await target.transport.post(protocol.push.path!, new JsonText(body));
    if (!answer.ok)
      return {
        ok: false,
        error: cleanErrorText(answer.error),
        failure: answer.failure,
        ...(answer.where !== undefined && { where: answer.where }),
      };
    const rejected = readRejected(
      answer.body.rejected,
      items.map((item) => item.wireId),
      target.node.name,
    );
    if (!rejected.ok) return { ok: false, error: cleanErrorText(rejected.error), failure: 'node' };
    return { ok: true, rejected: new Map(rejected.rejected.map((r) => [String(r.id), cleanErrorText(r.error)])) };
  };

  const event = (node: string, records: number, error?: string): void =>
    props.onBatch?.({
      stage: 'push',
      service: service.name,
      protocol: protocol.name,
      node,
      records,
      ok: error === undefined,
      ...(error !== undefined && { error }),
    });

  /** The only write of a delivery: one UPDATE for the records given, in the group of batches answered with it. */
  const flagDelivered = async (target: PushTarget, items: Item[], at: Date): Promise<void> => {
    if (items.length === 0) return;
    const ids = items.map((i) => i.id);
    const node = target.node.name;
    const flagged = await flagWrites.writePart(smallestId(ids), ids.length, { ids, node, at }, (trx) =>
      markPushed(trx, dialect, protocol, ids, at, node, { service }),
    );
    target.outcome.pushed += flagged;
    countSkipped(target.outcome, items.length - flagged);
    event(target.node.name, items.length);
  };

  /**
   * Counts a failed attempt for each rejected record, one UPDATE per distinct
   * error (usually one). Returns whether one of them is still pending (not dead).
   */
  const flagRejected = async (target: PushTarget, rejected: { item: Item; error: string }[], at: Date): Promise<boolean> => {
    const byError = new Map<string, Item[]>();
    for (const { item, error } of rejected) byError.set(error, [...(byError.get(error) ?? []), item]);
    for (const [error, items] of byError) {
      const ids = items.map((i) => i.id);
      const flagged = await flagWrites.write(smallestId(ids), ids.length, (trx) =>
        markPushFailed(trx, dialect, protocol, ids, at, error, { service, node: target.node.name }),
      );
      target.outcome.failed += flagged;
      countSkipped(target.outcome, items.length - flagged);
      target.outcome.error = `record ${String(items[0]!.wireId)} rejected: ${error}`;
      event(target.node.name, items.length, error);
    }
    return rejected.some(({ item }) => item.attempts + 1 < protocol.maxAttempts);
  };

  /**
   * Sends a part of a batch. `knownRejected`: this part was not sent whole
   * yet but holds a rejected record (its batch was refused and the half
   * before it was accepted), so it is halved at once.
   */
  const pushPart = async (target: PushTarget, items: Item[], knownRejected: boolean): Promise<PartResult> => {
    if (!knownRejected || items.length === 1) {
      // Another master took this stream over (this one paused past its lease): leave the rest to it.
      if (!target.leaseHeld()) return 'stop';
      const answer = await props.requests.add(() => deliver(target, items));
      const at = new Date();
      if (answer.ok) {
        target.outcome.reached = true;
        if (answer.rejected.size === 0) {
          await flagDelivered(target, items, at);
          return 'clean';
        }
        const key = (item: Item) => String(item.wireId);
        await flagDelivered(
          target,
          items.filter((item) => !answer.rejected.has(key(item))),
          at,
        );
        const rejected = items
          .filter((item) => answer.rejected.has(key(item)))
          .map((item) => ({ item, error: answer.rejected.get(key(item))! }));
        return (await flagRejected(target, rejected, at)) ? 'stop' : 'isolated';
      }
      if (answer.failure === 'node') {
        const said = answer.where === undefined ? answer.error : `${answer.where}: ${answer.error}`;
        target.outcome.unavailable = said;
        target.outcome.error = said;
        event(target.node.name, 0, answer.error);
        return 'stop';
      }
      // The node is reachable: it refused these records.
      target.outcome.reached = true;
      if (items.length === 1) return (await flagRejected(target, [{ item: items[0]!, error: answer.error }], at)) ? 'stop' : 'isolated';
    }
    const half = Math.ceil(items.length / 2);
    const first = await pushPart(target, items.slice(0, half), false);
    if (first === 'stop') return 'stop';
    // Accepted whole, the first half was not at fault: the second is, and is halved without being sent whole.
    const second = await pushPart(target, items.slice(half), first === 'clean');
    return second === 'stop' ? 'stop' : 'isolated';
  };

  await runNodeStreams({
    nodes: [...targets.keys()],
    batchSize: protocol.batchSize,
    ...(props.signal && { signal: props.signal }),
    idOf: (row) => row[protocol.id],
    // Records may be wide (a text body): what is held is bounded in bytes too.
    sizeOf: heldRowBytes,
    read: async (after, nodes) => {
      movesToken ??= { at: await readMovesToken(db, service.name) };
      const rows = await readPendingBatch(db, dialect, service, protocol, {
        after,
        nodes,
        limit: protocol.batchSize,
        ...(settledBefore && { settledBefore }),
        ...(recordColumns && { columns: recordColumns }),
      });
      // The first batch reads `r.*`; the next ones only the columns sent (not the flags) and the attempts
      // (whether a rejected record is dead): less to read and hold.
      if (rows[0] !== undefined) {
        recordColumns ??= [...Object.keys(rows[0]).filter((column) => !omitted.has(column)), protocol.flags.pushAttempts];
      }
      // An entity moved since the pass began (entity-moves.ts): these rows may deal it by its new node while its
      // older records, passed by on the old one, are still pending. The pass ends here; the next run starts over.
      if ((await readMovesToken(db, service.name)) !== movesToken.at) return [];
      return rows;
    },
    hold: (row): Item => {
      const wire = toWireRecord(row, omitted);
      return {
        id: row[protocol.id],
        wireId: wire[protocol.id],
        json: JSON.stringify(wire),
        attempts: Number(row[protocol.flags.pushAttempts] ?? 0),
      };
    },
    send: async (nodeName, batch) => (await pushPart(targets.get(nodeName)!, batch, false)) !== 'stop',
  });
}
