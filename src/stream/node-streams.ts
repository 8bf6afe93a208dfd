import type { Row } from '../config/service-config.js';
import { NODE_ALIAS, SORT_ALIAS, type Cursor } from '../db/record-source.js';

export interface NodeStreamsProps {
  /** Nodes to serve, by name. */
  nodes: string[];
  batchSize: number;
  /** Reads the next records after the cursor in `(sort, id)` order, of entities on these nodes; one query. */
  read(after: Cursor | null, nodes: string[]): Promise<Row[]>;
  /** The record's id, for the cursor. */
  idOf(row: Row): unknown;
  /** Whether a row read is handed to its node; left out, every row is. The pass moves past the others. */
  keep?(node: string, row: Row): boolean;
  /**
   * Handles one node's batch; returns false when the batch failed, which ends
   * that node's stream for this run (its later records are not handed over,
   * so its order is never broken).
   */
  send(node: string, batch: Row[]): Promise<boolean>;
  /** Once aborted, nothing more is read and no new batch starts; the ones being sent finish. */
  signal?: AbortSignal;
  /** Rows held at once for all nodes together; HELD_BATCHES batches when left out. */
  maxHeldRows?: number;
}

/** Batches one node may have waiting behind the one being sent before reading pauses. */
const MAX_QUEUED_BATCHES = 2;

/**
 * Rows held for all nodes together by default, in batches (64,000 rows at
 * 500 a batch): up to 32 nodes never reach it with their queues full (each
 * a batch filling, one being sent, two waiting); more nodes share it, so
 * that at 1,000 nodes a partial batch holds some 64 rows, and a pass sends
 * about (records x nodes / 64,000) requests instead of one per record.
 */
export const HELD_BATCHES = 128;

interface Stream {
  /** Rows read for the node and not handed over yet. */
  buffer: Row[];
  tail: Promise<void>;
  /** Batches handed over and not yet done, oldest first. */
  inFlight: Promise<void>[];
  stopped: boolean;
}

/**
 * One ordered pass over a protocol's records, split by node: each batch read
 * is dealt out to the records' nodes, so every node gets its records in
 * `(sort, id)` order from a single pass, instead of each node's records
 * being sorted again for every batch. Per node, batches are sent strictly
 * one after the other; nodes go in parallel; reading overlaps sending.
 * Memory stays bounded in total, however many nodes: the rows held (read
 * and not yet sent and answered, for all nodes) never pass `maxHeldRows`.
 * Before each read, when it could pass it, the partial batches of every
 * node go out together if they hold most of the rows (then the batches
 * sent together cover neighbouring records, and their flag writes the same
 * pages), else reading waits for batches in flight. A node with
 * MAX_QUEUED_BATCHES batches waiting pauses the reading too.
 *
 * Rejects with the first error `send` throws (a database failure), after
 * every stream has settled.
 */
export async function runNodeStreams(props: NodeStreamsProps): Promise<void> {
  const { batchSize, signal } = props;
  const maxHeldRows = Math.max(props.maxHeldRows ?? HELD_BATCHES * batchSize, batchSize);
  /** Rows read and not yet sent and done, for all nodes: buffered or handed over to `send`. */
  let heldRows = 0;
  /** Of those, handed over to `send`. */
  let sendingRows = 0;
  /** Called when a batch is done: reading may be waiting for room. */
  let onBatchDone: (() => void) | undefined;
  const streams = new Map<string, Stream>(
    props.nodes.map((node) => [node, { buffer: [], tail: Promise.resolve(), inFlight: [], stopped: false }]),
  );
  let fatal: { error: unknown } | undefined;

  const dispatch = (node: string, stream: Stream): void => {
    const batch = stream.buffer;
    stream.buffer = [];
    sendingRows += batch.length;
    const done: Promise<void> = stream.tail.then(async () => {
      try {
        if (stream.stopped || signal?.aborted) return;
        if (!(await props.send(node, batch))) stream.stopped = true;
      } catch (error) {
        stream.stopped = true;
        fatal ??= { error };
      } finally {
        sendingRows -= batch.length;
        heldRows -= batch.length;
        stream.inFlight.splice(stream.inFlight.indexOf(done), 1);
        // A stopped stream's rows are never sent: they are no longer held.
        if (stream.stopped) {
          heldRows -= stream.buffer.length;
          stream.buffer = [];
        }
        onBatchDone?.();
      }
    });
    stream.inFlight.push(done);
    stream.tail = done;
  };

  /** Waits (or sends partial batches) until one more read fits in maxHeldRows. */
  const makeRoom = async (): Promise<void> => {
    while (heldRows + batchSize > maxHeldRows && fatal === undefined) {
      if (heldRows - sendingRows > sendingRows) {
        for (const [node, stream] of streams) if (stream.buffer.length > 0 && !stream.stopped) dispatch(node, stream);
      } else {
        await new Promise<void>((resolve) => (onBatchDone = resolve));
        onBatchDone = undefined;
      }
    }
  };

  let cursor: Cursor | null = null;
  while (!signal?.aborted && fatal === undefined) {
    await makeRoom();
    if (signal?.aborted || fatal !== undefined) break;
    const active = [...streams].filter(([, s]) => !s.stopped).map(([node]) => node);
    if (active.length === 0) break;
    const rows = await props.read(cursor, active);
    if (rows.length === 0) break;
    const last = rows[rows.length - 1]!;
    cursor = { sort: last[SORT_ALIAS], id: props.idOf(last) };
    for (const row of rows) {
      const node = String(row[NODE_ALIAS]);
      const stream = streams.get(node);
      if (!stream || stream.stopped || (props.keep && !props.keep(node, row))) continue;
      stream.buffer.push(row);
      heldRows++;
      if (stream.buffer.length >= batchSize) dispatch(node, stream);
    }
    for (const stream of streams.values()) {
      while (stream.inFlight.length > MAX_QUEUED_BATCHES && !stream.stopped) await stream.inFlight[0];
    }
    if (rows.length < batchSize) break;
  }
  for (const [node, stream] of streams) if (stream.buffer.length > 0 && !stream.stopped) dispatch(node, stream);
  await Promise.all([...streams.values()].map((s) => s.tail));
  if (fatal !== undefined) throw fatal.error;
}
