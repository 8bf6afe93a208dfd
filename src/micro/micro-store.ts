import BetterSqlite3 from 'better-sqlite3';
import { recordKey, type MicroRecord, type MicroRecordId } from './micro-protocol.js';

const SCHEMA_VERSION = 1;

/** A received record that waits for processing, with its place in the received order. */
export interface PendingRecord {
  seq: number;
  record: MicroRecord;
}

/** How processing a record ended, already serialized: a result object as JSON, or an error text. */
export type StoredOutcome = { seq: number; resultJson: string; error?: never } | { seq: number; error: string; resultJson?: never };

/** One entry of a pull answer. */
export type MicroPullEntry = { id: MicroRecordId; error: string } | ({ id: MicroRecordId } & Record<string, unknown>);

/** A pull lookup row, as an array: the place of the key among those asked, the result JSON, the error. */
type OutcomeRow = [asked: number, result: string | null, error: string | null];

export interface MicroStoreProps {
  /** SQLite file; created when missing. */
  file: string;
}

/**
 * Durable storage of a micro node: every received record, in the order
 * received, with its outcome once processed. All writes are transactions
 * with `synchronous = FULL`, so an answered push survives a crash or a power cut.
 *
 * @example
 * const store = new MicroStore({ file: './node-data.db' });
 * store.insert('deliveries', [{ id: 1, subject: 'hi' }]);
 * store.close();
 */
export class MicroStore {
  readonly #db: BetterSqlite3.Database;
  readonly #insert: BetterSqlite3.Statement<[string, string]>;
  readonly #pending: BetterSqlite3.Statement<[string, number], string | null>;
  readonly #saveResult: BetterSqlite3.Statement<[string, number]>;
  readonly #saveError: BetterSqlite3.Statement<[string, number]>;
  readonly #saveAll: (outcomes: readonly StoredOutcome[]) => void;
  readonly #lastProcessed: BetterSqlite3.Statement<[string], { record_id: string }>;
  readonly #outcomes: BetterSqlite3.Statement<[string, string], OutcomeRow>;

  constructor(props: MicroStoreProps) {
    this.#db = new BetterSqlite3(props.file);
    try {
      this.#db.pragma('journal_mode = WAL');
      this.#db.pragma('synchronous = FULL');
      this.#db.pragma('busy_timeout = 10000');
      migrate(this.#db);
    } catch (error) {
      this.#db.close();
      throw error;
    }
    // One statement per batch, the batch bound as the JSON text of its records.
    // jsonb_each parses that text once; each record's value is then JSONB, so
    // reading its id is a lookup rather than another parse, and json(value)
    // writes the record back out byte for byte as JSON.stringify wrote it.
    // The key is what recordKey makes: a string id's value, or a number id's
    // JSON text, which JSON.stringify wrote as String(id) and SQLite keeps as
    // written. record_id is the id's JSON text, as JSON.stringify(record.id).
    // Rows go in array order, so of an id repeated in the batch the first is kept.
    // `WHERE true` lets the parser tell ON CONFLICT from a join constraint.
    this.#insert = this.#db.prepare(`
      INSERT INTO micro_records (protocol, record_key, record_id, record)
      SELECT ?, CASE json_type(value, '$.id') WHEN 'text' THEN value ->> '$.id' ELSE value -> '$.id' END, value -> '$.id', json(value)
      FROM jsonb_each(?) WHERE true ORDER BY key
      ON CONFLICT (protocol, record_key) DO NOTHING`);
    // The batch comes back as one JSON text, [seq, record, seq, record, ...], so
    // it is one JSON.parse and one row instead of one of each per record.
    this.#pending = this.#db
      .prepare<[string, number], string | null>(`
        SELECT '[' || group_concat(seq || ',' || record, ',') || ']'
        FROM (SELECT seq, record FROM micro_records WHERE protocol = ? AND done = 0 ORDER BY seq LIMIT ?)`)
      .pluck();
    this.#saveResult = this.#db.prepare('UPDATE micro_records SET done = 1, result = ?, error = NULL WHERE seq = ?');
    this.#saveError = this.#db.prepare('UPDATE micro_records SET done = 1, result = NULL, error = ? WHERE seq = ?');
    this.#saveAll = this.#db.transaction((batch: readonly StoredOutcome[]) => {
      for (const outcome of batch) {
        if (outcome.error !== undefined) this.#saveError.run(outcome.error, outcome.seq);
        else this.#saveResult.run(outcome.resultJson, outcome.seq);
      }
    });
    this.#lastProcessed = this.#db.prepare(
      'SELECT record_id FROM micro_records WHERE protocol = ? AND done = 1 ORDER BY seq DESC LIMIT 1',
    );
    // CROSS JOIN keeps the asked keys the outer loop, each one a lookup in the
    // (protocol, record_key) index; left to itself the planner walks the queue index.
    this.#outcomes = this.#db
      .prepare<[string, string], OutcomeRow>(`
        SELECT j.key, m.result, m.error
        FROM json_each(?) AS j CROSS JOIN micro_records AS m
        WHERE m.protocol = ? AND m.record_key = j.value AND m.done = 1`)
      .raw();
  }

  /** Stores a batch in one statement; ids already held, or repeated in the batch, are skipped. Returns how many were new. */
  insert(protocol: string, records: readonly MicroRecord[]): number {
    if (records.length === 0) return 0;
    return this.#insert.run(protocol, JSON.stringify(records)).changes;
  }

  /** The oldest unprocessed records of a protocol, in the order received. */
  pending(protocol: string, limit: number): PendingRecord[] {
    const text = this.#pending.get(protocol, limit);
    if (text === undefined || text === null) return [];
    const flat = JSON.parse(text) as (number | MicroRecord)[];
    const batch: PendingRecord[] = new Array<PendingRecord>(flat.length / 2);
    let ordered = true;
    for (let index = 0; index < batch.length; index += 1) {
      const seq = flat[2 * index] as number;
      batch[index] = { seq, record: flat[2 * index + 1] as MicroRecord };
      if (index > 0 && seq < (batch[index - 1] as PendingRecord).seq) ordered = false;
    }
    // group_concat follows the subquery's order in practice, but SQLite does not promise it.
    return ordered ? batch : batch.sort((a, b) => a.seq - b.seq);
  }

  /**
   * Stores outcomes in one transaction, a statement per outcome: measured, one
   * UPDATE ... FROM jsonb_each for the batch was no cheaper, as moving each row
   * in the queue index and rewriting it with its result is most of the work.
   */
  save(outcomes: readonly StoredOutcome[]): void {
    this.#saveAll(outcomes);
  }

  /** Id of the last record, in the order received, that is processed; null when none is. */
  lastProcessedId(protocol: string): MicroRecordId | null {
    const row = this.#lastProcessed.get(protocol);
    return row === undefined ? null : (JSON.parse(row.record_id) as MicroRecordId);
  }

  /** One entry per processed id, under the id as asked; unprocessed or unknown ids are left out. */
  results(protocol: string, ids: readonly MicroRecordId[]): MicroPullEntry[] {
    // The ids asked, each key once, in the order first asked.
    const asked: MicroRecordId[] = [];
    const keys: string[] = [];
    const seen = new Set<string>();
    for (const id of ids) {
      const key = recordKey(id);
      if (seen.has(key)) continue;
      seen.add(key);
      asked.push(id);
      keys.push(key);
    }
    if (keys.length === 0) return [];
    const rows = this.#outcomes.all(JSON.stringify(keys), protocol);
    // The join gives no order; each row carries the place of its key among those asked.
    rows.sort((a, b) => a[0] - b[0]);
    return rows.map(([place, resultJson, error]): MicroPullEntry => {
      const id = asked[place] as MicroRecordId;
      if (error !== null) return { id, error };
      const result = JSON.parse(resultJson ?? '{}') as Record<string, unknown>;
      delete result.id;
      return { id, ...result };
    });
  }

  close(): void {
    if (this.#db.open) this.#db.close();
  }
}

function migrate(db: BetterSqlite3.Database): void {
  const version = db.pragma('user_version', { simple: true }) as number;
  if (version === SCHEMA_VERSION) return;
  if (version !== 0) throw new Error(`data file has schema version ${version}; this workmesh reads version ${SCHEMA_VERSION}`);
  db.exec(`
    BEGIN;
    CREATE TABLE micro_records (
      seq INTEGER PRIMARY KEY AUTOINCREMENT,
      protocol TEXT NOT NULL,
      record_key TEXT NOT NULL,
      record_id TEXT NOT NULL,
      record TEXT NOT NULL,
      done INTEGER NOT NULL DEFAULT 0,
      result TEXT,
      error TEXT,
      UNIQUE (protocol, record_key)
    );
    CREATE INDEX micro_records_queue ON micro_records (protocol, done, seq);
    PRAGMA user_version = ${SCHEMA_VERSION};
    COMMIT;
  `);
}
