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
  /**
   * Handles one node's batch; returns false when the batch failed, which ends
   * that node's stream for this run (its later records are not handed over,
   * so its order is never broken).
   */
  send(node: string, batch: Row[]): Promise<boolean>;
  /** Once aborted, nothing more is read and no new batch starts; the ones being sent finish. */
  signal?: AbortSignal;
}

/** Batches one node may have waiting behind the one being sent before reading pauses. */
const MAX_QUEUED_BATCHES = 2;

interface Stream {
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
 * Memory stays bounded: a node with MAX_QUEUED_BATCHES batches waiting
 * pauses the reading.
 *
 * Rejects with the first error `send` throws (a database failure), after
 * every stream has settled.
 */
export async function runNodeStreams(props: NodeStreamsProps): Promise<void> {
  const { batchSize, signal } = props;
  const streams = new Map<string, Stream>(
    props.nodes.map((node) => [node, { buffer: [], tail: Promise.resolve(), inFlight: [], stopped: false }]),
  );
  let fatal: { error: unknown } | undefined;

  const dispatch = (node: string, stream: Stream): void => {
    const batch = stream.buffer;
    stream.buffer = [];
    const done: Promise<void> = stream.tail.then(async () => {
      try {
        if (stream.stopped || signal?.aborted) return;
        if (!(await props.send(node, batch))) stream.stopped = true;
      } catch (error) {
        stream.stopped = true;
        fatal ??= { error };
      } finally {
        stream.inFlight.splice(stream.inFlight.indexOf(done), 1);
      }
    });
    stream.inFlight.push(done);
    stream.tail = done;
  };

  let cursor: Cursor | null = null;
  while (!signal?.aborted && fatal === undefined) {
    const active = [...streams].filter(([, s]) => !s.stopped).map(([node]) => node);
    if (active.length === 0) break;
    const rows = await props.read(cursor, active);
    if (rows.length === 0) break;
    const last = rows[rows.length - 1]!;
    cursor = { sort: last[SORT_ALIAS], id: props.idOf(last) };
    for (const row of rows) {
      const node = String(row[NODE_ALIAS]);
      const stream = streams.get(node);
      if (!stream || stream.stopped) continue;
      stream.buffer.push(row);
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
