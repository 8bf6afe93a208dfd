/** A record id as the master sends it: a number, or a string for ids that do not fit a JSON number. */
export type MicroRecordId = number | string;

/** One record of a push batch: the row the master read, with its `id`. */
export interface MicroRecord {
  id: MicroRecordId;
  [column: string]: unknown;
}

/**
 * What processing one record produced; its fields go back to the master in
 * the pull answer, next to `id`. A string `error` field makes it a failure.
 */
export type MicroResult = Record<string, unknown>;

/** One entry of a `processBatch` answer: a result, or the failure of that record. */
export type MicroBatchEntry = MicroResult | { error: string };

/** Where the master reaches a protocol; each defaults to `/api/1.0/<protocol>/<push|status|pull>.json`. */
export interface MicroProtocolPaths {
  push?: string;
  status?: string;
  pull?: string;
}

/** What a `validate` hook answers: an error text rejects the record; nothing accepts it. */
export type MicroValidation = string | undefined | void;

interface MicroProtocolBase {
  paths?: MicroProtocolPaths;
  /**
   * Checks each pushed record before it is stored. Returning an error text (or
   * throwing) rejects that record: the push stores the others and answers
   * `{ "status": "success", "rejected": [{ "id": …, "error": "…" }] }` (node
   * contract v1.1), and the master sends the rejected record again later or
   * counts it dead. A record the node already holds is not checked again: its
   * re-push stays a no-op.
   */
  validate?(record: MicroRecord): MicroValidation | Promise<MicroValidation>;
}

/** Processes one record at a time; a throw becomes an error entry with its message. */
export interface MicroSingleProtocol extends MicroProtocolBase {
  process(record: MicroRecord): Promise<MicroResult | void> | MicroResult | void;
  processBatch?: never;
  batchSize?: never;
}

/**
 * Processes records in chunks of `batchSize` (100 when left out). The answer
 * has one entry per record, in the same order; a throw fails the whole chunk.
 */
export interface MicroBatchProtocol extends MicroProtocolBase {
  processBatch(records: MicroRecord[]): Promise<MicroBatchEntry[]> | MicroBatchEntry[];
  batchSize?: number;
  process?: never;
}

/** How a node handles one protocol: `process` or `processBatch`, never both. */
export type MicroProtocol = MicroSingleProtocol | MicroBatchProtocol;

export interface ResolvedMicroPaths {
  push: string;
  status: string;
  pull: string;
}

export function resolveMicroPaths(protocol: string, paths: MicroProtocolPaths = {}): ResolvedMicroPaths {
  const base = `/api/1.0/${protocol}`;
  return {
    push: paths.push ?? `${base}/push.json`,
    status: paths.status ?? `${base}/status.json`,
    pull: paths.pull ?? `${base}/pull.json`,
  };
}

export function isMicroRecordId(value: unknown): value is MicroRecordId {
  return (typeof value === 'number' && Number.isFinite(value)) || (typeof value === 'string' && value !== '');
}

/**
 * The key a record is held under. Ids are compared as text, so `17` and
 * `"17"` are one record: drivers return 64-bit ids as strings or numbers
 * depending on their size and settings, and a re-push must still be a no-op.
 * MicroStore's batch INSERT makes the same key in SQL; change the two together.
 */
export function recordKey(id: MicroRecordId): string {
  return String(id);
}
