import type { Row } from '../config/service-config.js';
import { NODE_ALIAS, SORT_ALIAS, type Cursor } from '../db/record-source.js';

/** `H`: what a row is held as until it is sent (see `hold`). */
export interface NodeStreamsProps<H> {
  /** Nodes to serve, by name. */
  nodes: string[];
  batchSize: number;
  /**
   * Reads the next records after the cursor in `(sort, id)` order, of
   * entities on these nodes; one query. `nodes` is the same array from read
   * to read until a node's stream stops, so what is built from it can be kept.
   */
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
  send(node: string, batch: H[]): Promise<boolean>;
  /** Once aborted, nothing more is read and no new batch starts; the ones being sent finish. */
  signal?: AbortSignal;
  /** Rows held at once for all nodes together; HELD_BATCHES batches when left out. */
  maxHeldRows?: number;
  /**
   * What a row kept is held as until it is sent, when the stream needs less
   * than the read returns; left out, the row itself. At 1,000 nodes the
   * rows of a whole pass may be held, and outlive the collector's young
   * generation.
   */
  hold?(row: Row): H;
  /** About how many bytes a row takes in memory (heldRowBytes); left out, every row counts ROW_BYTES. */
  sizeOf?(row: Row): number;
  /** Bytes (by `sizeOf`) held at once for all nodes together; HELD_BYTES when left out. */
  maxHeldBytes?: number;
}

/** Batches one node may have waiting behind the one being sent before reading pauses. */
const MAX_QUEUED_BATCHES = 2;

/**
 * Rows held for all nodes together by default, in batches (256,000 rows at
 * 500 a batch, some 290 bytes each for a record of six columns): up to 128
 * nodes never reach it with their queues full (each a batch filling, one
 * being sent, two waiting); more nodes share it, so that at 1,000 nodes a
 * partial batch holds some 256 rows, and a pass sends about (records x
 * nodes / 256,000) requests instead of one per record. At 128 batches,
 * 1,000 nodes sent 6,000 requests of 33 records for 200,000 records, and a
 * push cost twice its 4-node time; at 512, 1,000 requests and 1.5 times.
 */
export const HELD_BATCHES = 512;

/**
 * Bytes held for all nodes together by default (by heldRowBytes): the
 * bound wide records reach first. A record of six short columns counts
 * some 300 bytes (its heap size, measured), so that HELD_BATCHES binds
 * first for it; records of 10 KB are held 8,000 at most.
 */
export const HELD_BYTES = 80 * 1024 * 1024;

/** What a row counts when no `sizeOf` is given: a record's keys. */
const ROW_BYTES = 100;

/**
 * About the heap a driver's row takes: its strings' lengths and 16 bytes
 * a column besides, and 64 for the object. Cheap enough for every record.
 */
export function heldRowBytes(row: Row): number {
  let bytes = 64;
  for (const column in row) {
    const value = row[column];
    bytes += 16;
    if (typeof value === 'string') bytes += value.length;
    else if (value instanceof Uint8Array) bytes += value.byteLength;
  }
  return bytes;
}

interface Stream<H> {
  /** Rows read for the node and not handed over yet. */
  buffer: H[];
  /** Their bytes, by sizeOf. */
  bufferBytes: number;
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
 * and not yet sent and answered, for all nodes) never pass `maxHeldRows`,
 * nor their bytes `maxHeldBytes` by more than a read.
 * Before each read, when it could pass it, the partial batches of every
 * node go out together if they hold most of the rows (then the batches
 * sent together cover neighbouring records, and their flag writes the same
 * pages), else reading waits for batches in flight. A node with
 * MAX_QUEUED_BATCHES batches waiting pauses the reading too.
 *
 * Rejects with the first error `send` throws (a database failure), after
 * every stream has settled.
 */
export function runNodeStreams(props: NodeStreamsProps<Row> & { hold?: undefined }): Promise<void>;
export function runNodeStreams<H>(props: NodeStreamsProps<H> & { hold(row: Row): H }): Promise<void>;
export async function runNodeStreams<H>(props: NodeStreamsProps<H>): Promise<void> {
  const { batchSize, signal } = props;
  const maxHeldRows = Math.max(props.maxHeldRows ?? HELD_BATCHES * batchSize, batchSize);
  const maxHeldBytes = props.maxHeldBytes ?? HELD_BYTES;
  const sizeOf = props.sizeOf ?? (() => ROW_BYTES);
  /** Rows read and not yet sent and done, for all nodes: buffered or handed over to `send`. */
  let heldRows = 0;
  /** Their bytes, by sizeOf. */
  let heldBytes = 0;
  /** Of the last read: what the next one will likely add. */
  let readBytes = 0;
  /** Of those, handed over to `send`. */
  let sendingRows = 0;
  let sendingBytes = 0;
  /** Called when a batch is done: reading may be waiting for room. */
  let onBatchDone: (() => void) | undefined;
  const streams = new Map<string, Stream<H>>(
    props.nodes.map((node) => [node, { buffer: [], bufferBytes: 0, tail: Promise.resolve(), inFlight: [], stopped: false }]),
  );
  let fatal: { error: unknown } | undefined;

  const dispatch = (node: string, stream: Stream<H>): void => {
    const batch = stream.buffer;
    const batchBytes = stream.bufferBytes;
    stream.buffer = [];
    stream.bufferBytes = 0;
    sendingRows += batch.length;
    sendingBytes += batchBytes;
    const done: Promise<void> = stream.tail.then(async () => {
      try {
        if (stream.stopped || signal?.aborted) return;
        if (!(await props.send(node, batch))) stream.stopped = true;
      } catch (error) {
        stream.stopped = true;
        fatal ??= { error };
      } finally {
        sendingRows -= batch.length;
        sendingBytes -= batchBytes;
        heldRows -= batch.length;
        heldBytes -= batchBytes;
        stream.inFlight.splice(stream.inFlight.indexOf(done), 1);
        // A stopped stream's rows are never sent: they are no longer held.
        if (stream.stopped) {
          heldRows -= stream.buffer.length;
          heldBytes -= stream.bufferBytes;
          stream.buffer = [];
          stream.bufferBytes = 0;
        }
        onBatchDone?.();
      }
    });
    stream.inFlight.push(done);
    stream.tail = done;
  };

  const full = () => heldRows + batchSize > maxHeldRows || heldBytes + readBytes > maxHeldBytes;
  /** Most of what is held is waiting in partial batches, not being sent. */
  const mostlyBuffered = () =>
    heldRows + batchSize > maxHeldRows ? heldRows - sendingRows > sendingRows : heldBytes - sendingBytes > sendingBytes;
  /** Waits (or sends partial batches) until one more read fits in maxHeldRows and maxHeldBytes. */
  const makeRoom = async (): Promise<void> => {
    while (full() && fatal === undefined) {
      if (mostlyBuffered()) {
        for (const [node, stream] of streams) if (stream.buffer.length > 0 && !stream.stopped) dispatch(node, stream);
      } else {
        await new Promise<void>((resolve) => (onBatchDone = resolve));
        onBatchDone = undefined;
      }
    }
  };

  let cursor: Cursor | null = null;
  /** The nodes still streaming, as of the last read: built again only when one has stopped (a read per batch, 1,000 nodes). */
  let active: string[] = [];
  let activeCounted = -1;
  while (!signal?.aborted && fatal === undefined) {
    await makeRoom();
    if (signal?.aborted || fatal !== undefined) break;
    let stopped = 0;
    for (const stream of streams.values()) if (stream.stopped) stopped++;
    if (stopped !== activeCounted) {
      active = [...streams].filter(([, s]) => !s.stopped).map(([node]) => node);
      activeCounted = stopped;
    }
    if (active.length === 0) break;
    const rows = await props.read(cursor, active);
    if (rows.length === 0) break;
    const last = rows[rows.length - 1]!;
    cursor = { sort: last[SORT_ALIAS], id: props.idOf(last) };
    readBytes = 0;
    for (const row of rows) {
      const node = String(row[NODE_ALIAS]);
      const stream = streams.get(node);
      if (!stream || stream.stopped || (props.keep && !props.keep(node, row))) continue;
      const bytes = sizeOf(row);
      // Without `hold` (the first overload), H is Row.
      stream.buffer.push(props.hold ? props.hold(row) : (row as H));
      stream.bufferBytes += bytes;
      heldRows++;
      heldBytes += bytes;
      readBytes += bytes;
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
