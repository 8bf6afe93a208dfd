import type { Db } from '../config/service-config.js';

/** How long a group waits for the next answer: a slow node delays the others' flags by this much after their own answers. */
export const MAX_GATHER_MS = 50;

/** How long a group may gather in all, while answers keep arriving: a bound on what grouping adds to a batch's time. */
export const MAX_GROUP_MS = 1_000;

/**
 * A group is written once it holds this many batches' records (64,000 at
 * 500 a batch): a bound on the rows one transaction changes and locks.
 */
export const GROUPED_BATCHES = 128;

export interface FlagWriteGroupProps<P, R> {
  db: Db;
  /** A group is written as soon as it holds this many records (GROUPED_BATCHES batches). */
  minRows: number;
  /** Whether answers are still on their way (requests in flight or queued): if none, waiting gathers nothing. */
  answersExpected(): boolean;
  /**
   * Writes several batches' parts (writePart) in as few statements as it
   * can, in the group's transaction; returns each part's result, in order.
   * Left out, each part is written by its own work.
   */
  together?(trx: Db, parts: P[]): Promise<R[]>;
  /**
   * Parts of at most this many records go to `together`; larger ones are
   * written by their own work. A full batch covers a short range of the
   * table already (few nodes), and one statement for it costs less than
   * joining it to a list; the partial batches of many nodes are scattered.
   */
  togetherUpTo?: number;
  /**
   * Whether a part larger than `togetherUpTo` goes to `together` all the
   * same: its records are scattered over the table (idsScattered). With
   * 200 nodes a full batch of 500 spans half the table.
   */
  scattered?(part: P): boolean;
  /**
   * Whether a part (writePart) of `rows` records is not grouped: it runs at once, in its own
   * transaction, beside the group being gathered or written. For the full
   * batches of few nodes on a server: a group of them is the batches in
   * flight together, so every node's next request waited for the others'
   * answers and one transaction's writes, and the nodes, the master and the
   * database took turns (PostgreSQL, 4 nodes, 200,000 records: a pull's
   * time was the sum of theirs). Alone, a node's flags are written while
   * the others are answered, on connections of their own.
   */
  alone?(rows: number, part: P): boolean;
  /** MAX_GATHER_MS and MAX_GROUP_MS when left out (tests give their own). */
  gatherMs?: number;
  maxGroupMs?: number;
}

/** One batch's flag writes, waiting for the group it goes in. */
interface QueuedWrite<P> {
  /** The batch's smallest record id: the group writes its batches in this order. */
  firstId: unknown;
  rows: number;
  work(trx: Db): Promise<unknown>;
  /** What `together` needs to write it with others; its work writes it alone. */
  part?: P;
  resolve(value: unknown): void;
  reject(error: unknown): void;
}

/**
 * Writes the flags of batches answered about the same time, whatever their
 * nodes, in one transaction: a group commit. With many nodes a node's batch
 * is scattered over the table, and a commit per batch writes the same pages
 * again for every batch (SQLite rewrites each dirty page into the WAL at
 * every commit; a server flushes its log at every commit); one commit for
 * the group writes each page once.
 *
 * A group is written once the one before it has committed and it holds
 * `minRows` records, or no more answers are expected, or no answer came
 * for MAX_GATHER_MS, or MAX_GROUP_MS after it was started: with few nodes
 * a group is the batches in flight together (a node's next batch waits
 * for its flags anyway); with many, the partial batches sent together
 * (runNodeStreams) are gathered while their answers keep coming, so that
 * the commits stay as few as with few nodes and each page of the table is
 * written about once. (Closed 50 ms after it started, a group at 1,000
 * nodes held 13,000 records scattered over the whole table, and 16 groups
 * rewrote most pages 16 times.) A node whose answer takes long delays the
 * others' groups by MAX_GATHER_MS after their own answers.
 * Each batch keeps its own statements, guards and counts (the `work` given
 * runs as it would alone, in the group's transaction), in the order of
 * their smallest record id, so that two masters' groups lock rows in the
 * same order. If the group fails, every batch in it is written again alone,
 * in its own transaction: one batch's data the database refuses fails that
 * batch only, as it did when each had its own transaction.
 */
export class FlagWriteGroup<P = never, R = number> {
  readonly #db: Db;
  readonly #minRows: number;
  readonly #answersExpected: () => boolean;
  readonly #together: ((trx: Db, parts: P[]) => Promise<R[]>) | undefined;
  readonly #togetherUpTo: number;
  readonly #scattered: (part: P) => boolean;
  readonly #alone: (rows: number, part: P) => boolean;
  readonly #gatherMs: number;
  readonly #maxGroupMs: number;
  #queued: QueuedWrite<P>[] = [];
  #queuedRows = 0;
  #writing = false;
  /** Set while a group waits for the next answer: ends the wait, `true` when one came. */
  #arrived: ((more: boolean) => void) | undefined;

  constructor(props: FlagWriteGroupProps<P, R>) {
    this.#db = props.db;
    this.#minRows = props.minRows;
    this.#answersExpected = props.answersExpected;
    this.#together = props.together?.bind(props);
    this.#togetherUpTo = props.togetherUpTo ?? Number.POSITIVE_INFINITY;
    this.#scattered = props.scattered?.bind(props) ?? (() => false);
    this.#alone = props.alone?.bind(props) ?? (() => false);
    this.#gatherMs = props.gatherMs ?? MAX_GATHER_MS;
    this.#maxGroupMs = props.maxGroupMs ?? MAX_GROUP_MS;
  }

  /** Runs `work` (the flag writes of a batch of `rows` records) in a group's transaction; resolves with its result once that has committed. */
  write<T>(firstId: unknown, rows: number, work: (trx: Db) => Promise<T>): Promise<T> {
    return this.#enqueue<T>({ firstId, rows, work });
  }

  /**
   * As write, for a part the group writes together with the other parts it
   * holds (`together`); `work` writes it alone, when the group has no
   * `together`, or holds no other part, or failed and is written again batch by batch.
   */
  writePart(firstId: unknown, rows: number, part: P, work: (trx: Db) => Promise<R>): Promise<R> {
    return this.#enqueue<R>({ firstId, rows, work, part });
  }

  #enqueue<T>(write: Pick<QueuedWrite<P>, 'firstId' | 'rows' | 'work' | 'part'>): Promise<T> {
    const { rows } = write;
    if (write.part !== undefined && this.#alone(rows, write.part))
      return this.#db.transaction().execute((trx) => write.work(trx) as Promise<T>);
    return new Promise<T>((resolve, reject) => {
      this.#queued.push({ ...write, resolve: resolve as (value: unknown) => void, reject });
      this.#queuedRows += rows;
      this.#arrived?.(true);
      if (this.#writing) return;
      this.#writing = true;
      // Answers read from the network in the same turn of the event loop queue their writes before this runs.
      setImmediate(() => void this.#writeQueued());
    });
  }

  /** Waiting gathers nothing more: the group holds enough, or no answer is on its way. */
  #ready(): boolean {
    return this.#queuedRows >= this.#minRows || !this.#answersExpected();
  }

  async #writeQueued(): Promise<void> {
    while (this.#queued.length > 0) {
      await this.#gather();
      const group = this.#queued.splice(0).sort((a, b) => compareIds(a.firstId, b.firstId));
      this.#queuedRows = 0;
      await this.#writeGroup(group);
    }
    this.#writing = false;
  }

  /** Waits while more answers are expected and keep coming, for maxGroupMs at most. */
  async #gather(): Promise<void> {
    const until = Date.now() + this.#maxGroupMs;
    while (!this.#ready()) {
      const wait = Math.min(this.#gatherMs, until - Date.now());
      if (wait <= 0) return;
      const more = await new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => this.#arrived?.(false), wait);
        this.#arrived = (came) => {
          clearTimeout(timer);
          this.#arrived = undefined;
          resolve(came);
        };
      });
      if (!more) return;
    }
  }

  async #writeGroup(group: QueuedWrite<P>[]): Promise<void> {
    let results: unknown[];
    try {
      results = await this.#db.transaction().execute(async (trx) => {
        const out: unknown[] = [];
        const parts = group.flatMap((queued, index) =>
          queued.part === undefined || (queued.rows > this.#togetherUpTo && !this.#scattered(queued.part))
            ? []
            : [{ part: queued.part, index }],
        );
        const together = this.#together !== undefined && parts.length > 1;
        const inParts = new Set(together ? parts.map((p) => p.index) : []);
        for (const [index, queued] of group.entries()) if (!inParts.has(index)) out[index] = await queued.work(trx);
        if (together) {
          const written = await this.#together!(
            trx,
            parts.map((p) => p.part),
          );
          parts.forEach((p, k) => (out[p.index] = written[k]));
        }
        return out;
      });
    } catch (error) {
      if (group.length === 1) return group[0]!.reject(error);
      for (const queued of group) {
        try {
          queued.resolve(await this.#db.transaction().execute((trx) => queued.work(trx)));
        } catch (alone) {
          queued.reject(alone);
        }
      }
      return;
    }
    group.forEach((queued, i) => queued.resolve(results[i]));
  }
}

/** Record ids in the order the database keeps them: numbers by value, others by their text. */
export function compareIds(a: unknown, b: unknown): number {
  if (isNumeric(a) && isNumeric(b)) return (a as number) < (b as number) ? -1 : (a as number) > (b as number) ? 1 : 0;
  const x = String(a);
  const y = String(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

function isNumeric(value: unknown): boolean {
  return typeof value === 'number' || typeof value === 'bigint';
}

/** The smallest of a batch's record ids, for FlagWriteGroup.write. */
export function smallestId(ids: unknown[]): unknown {
  return ids.reduce((min, id) => (compareIds(id, min) < 0 ? id : min), ids[0]);
}
