import { setImmediate as nextTurn } from 'node:timers/promises';
import type { MicroBatchEntry, MicroProtocol, MicroRecord } from './micro-protocol.js';
import type { MicroStore, PendingRecord, StoredOutcome } from './micro-store.js';

const DEFAULT_BATCH_SIZE = 100;
/** How many records the single-record worker reads from the store at a time. */
const READ_AHEAD = 100;
/** Pause after a failure of the store itself, so a full disk does not spin the CPU. */
const RETRY_AFTER_MS = 1_000;
/**
 * The single-record worker lets the event loop run at least this often. A
 * process function that never waits for I/O resolves in a microtask, and the
 * store writes synchronously: without a turn of the loop, requests and signals
 * wait for the whole backlog.
 */
const YIELD_EVERY_MS = 10;

export interface MicroWorkerProps {
  protocol: string;
  handler: MicroProtocol;
  store: MicroStore;
  onError(error: Error): void;
}

/**
 * Processes one protocol's records sequentially, in the order received, and
 * stores each outcome durably before taking the next one. It gives the event
 * loop a turn after every chunk and, between single records, every
 * YIELD_EVERY_MS, so the node answers status, pull and push, and obeys
 * SIGTERM, while it works through a backlog.
 *
 * @example
 * const worker = new MicroWorker({ protocol: 'deliveries', handler, store, onError: console.error });
 * worker.start();
 * worker.wake(); // after a push stored new records
 * await worker.stop();
 */
export class MicroWorker {
  readonly #props: MicroWorkerProps;
  #running: Promise<void> | undefined;
  #stopping = false;
  #woken = false;
  #resolveIdle: (() => void) | undefined;

  constructor(props: MicroWorkerProps) {
    this.#props = props;
  }

  start(): void {
    if (this.#running !== undefined) return;
    this.#stopping = false;
    this.#running = this.#run();
  }

  /** Tells the worker new records are waiting. */
  wake(): void {
    this.#woken = true;
    this.#resolveIdle?.();
  }

  /** Lets the record in progress finish and store its outcome, then stops. */
  async stop(): Promise<void> {
    this.#stopping = true;
    this.#resolveIdle?.();
    await this.#running;
    this.#running = undefined;
  }

  async #run(): Promise<void> {
    const { protocol, handler, store, onError } = this.#props;
    while (!this.#stopping) {
      try {
        this.#woken = false;
        if (handler.processBatch !== undefined) {
          const batch = store.pending(protocol, handler.batchSize ?? DEFAULT_BATCH_SIZE);
          if (batch.length === 0) {
            await this.#idle();
            continue;
          }
          store.save(await runBatch(handler.processBatch.bind(handler), batch));
          await nextTurn();
        } else {
          const batch = store.pending(protocol, READ_AHEAD);
          if (batch.length === 0) {
            await this.#idle();
            continue;
          }
          let turnAt = performance.now();
          for (const pending of batch) {
            if (this.#stopping) break;
            store.save([await runOne(handler.process.bind(handler), pending)]);
            if (performance.now() - turnAt >= YIELD_EVERY_MS) {
              await nextTurn();
              turnAt = performance.now();
            }
          }
          await nextTurn();
        }
      } catch (error) {
        onError(asError(error));
        await this.#idle(RETRY_AFTER_MS);
      }
    }
  }

  #idle(ms?: number): Promise<void> {
    if (this.#woken || this.#stopping) return Promise.resolve();
    return new Promise((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const done = (): void => {
        clearTimeout(timer);
        this.#resolveIdle = undefined;
        resolve();
      };
      if (ms !== undefined) timer = setTimeout(done, ms);
      this.#resolveIdle = done;
    });
  }
}

type ProcessOne = (record: MicroRecord) => unknown;
type ProcessBatch = (records: MicroRecord[]) => unknown;

async function runOne(process: ProcessOne, pending: PendingRecord): Promise<StoredOutcome> {
  try {
    return outcomeOf(pending.seq, await process(pending.record), 'process');
  } catch (error) {
    return { seq: pending.seq, error: messageOf(error) };
  }
}

async function runBatch(processBatch: ProcessBatch, batch: PendingRecord[]): Promise<StoredOutcome[]> {
  let answer: unknown;
  try {
    answer = await processBatch(batch.map((pending) => pending.record));
  } catch (error) {
    const message = messageOf(error);
    return batch.map((pending) => ({ seq: pending.seq, error: message }));
  }
  if (!Array.isArray(answer) || answer.length !== batch.length) {
    const got = Array.isArray(answer) ? `${answer.length} entries` : typeof answer;
    const message = `processBatch returned ${got} for ${batch.length} records`;
    return batch.map((pending) => ({ seq: pending.seq, error: message }));
  }
  return batch.map((pending, index) => outcomeOf(pending.seq, answer[index] as MicroBatchEntry | undefined, 'processBatch'));
}

function outcomeOf(seq: number, value: unknown, source: string): StoredOutcome {
  // A function that returns nothing has processed the record with no fields to report.
  if (value === undefined || value === null) return { seq, resultJson: '{}' };
  if (typeof value !== 'object' || Array.isArray(value)) {
    return { seq, error: `${source} returned ${Array.isArray(value) ? 'an array' : `a ${typeof value}`}, not an object` };
  }
  const { error } = value as { error?: unknown };
  if (typeof error === 'string') return { seq, error };
  try {
    return { seq, resultJson: JSON.stringify(value) };
  } catch (failure) {
    return { seq, error: `result is not JSON: ${messageOf(failure)}` };
  }
}

function messageOf(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}
