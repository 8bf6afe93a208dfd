import BetterSqlite3 from 'better-sqlite3';
import { recordKey, type MicroRecord, type MicroRecordId } from './micro-protocol.js';

const SCHEMA_VERSION = 2;
/**
 * Outcomes go in with one INSERT per this many rows, largest first: binding a
 * chunk of rows to one statement costs less than a statement call per row
 * (measured 0.8 against 1.2 us CPU per outcome; one INSERT from a JSON text, 1.3).
 */
const OUTCOME_CHUNKS = [100, 10, 1] as const;

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

/** An INSERT of a fixed number of outcomes, bound as seq, result, error for each. */
interface OutcomeInsert {
  rows: number;
  statement: BetterSqlite3.Statement<unknown[]>;
}

export interface MicroStoreProps {
  /** SQLite file; created when missing. */
  file: string;
}

/**
 * Durable storage of a micro node: every received record, in the order
 * received, with its outcome once processed. All writes are transactions
 * with `synchronous = FULL`, so an answered push survives a crash or a power cut.
 *
 * Every table only grows at its end: a record is written once when received
 * (`micro_received`), its outcome once when processed (`micro_outcomes`, keyed
 * by the record's seq), and a protocol's records are processed in the order
 * received, so which are processed is one number per protocol, the seq of the
 * last one (`micro_progress`). Saving outcomes therefore rewrites no record
 * and moves no index entry. The view `micro_records` shows the data the way
 * schema version 1 held it, for whoever reads a data file directly.
 *
 * @example
 * const store = new MicroStore({ file: './node-data.db' });
 * store.insert('deliveries', [{ id: 1, subject: 'hi' }]);
 * store.close();
 */
export class MicroStore {
  readonly #db: BetterSqlite3.Database;
  readonly #insert: BetterSqlite3.Statement<[string, string]>;
  readonly #pending: BetterSqlite3.Statement<[{ protocol: string; limit: number }], string | null>;
  readonly #outcomeInserts: readonly OutcomeInsert[];
  readonly #advance: BetterSqlite3.Statement<[number]>;
  readonly #saveAll: (outcomes: readonly StoredOutcome[]) => void;
  readonly #lastProcessed: BetterSqlite3.Statement<[string], string>;
  readonly #outcomes: BetterSqlite3.Statement<[string, string], OutcomeRow>;
  readonly #held: BetterSqlite3.Statement<[string, string], string>;

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
      INSERT INTO micro_received (protocol, record_key, record_id, record)
      SELECT ?, CASE json_type(value, '$.id') WHEN 'text' THEN value ->> '$.id' ELSE value -> '$.id' END, value -> '$.id', json(value)
      FROM jsonb_each(?) WHERE true ORDER BY key
      ON CONFLICT (protocol, record_key) DO NOTHING`);
    // Pending are the records after the protocol's last processed one, read
    // from the (protocol, seq) index: without it, the records of the other
    // protocols in between would be read too. The batch comes back as one JSON
    // text, [seq, record, seq, record, ...], so it is one JSON.parse and one
    // row instead of one of each per record.
    this.#pending = this.#db
      .prepare<[{ protocol: string; limit: number }], string | null>(
        `
        SELECT '[' || group_concat(seq || ',' || record, ',') || ']'
        FROM (
          SELECT seq, record FROM micro_received
          WHERE protocol = @protocol AND seq > coalesce((SELECT last_seq FROM micro_progress WHERE protocol = @protocol), 0)
          ORDER BY seq LIMIT @limit)`,
      )
      .pluck();
    // OR REPLACE: a record handed out again replaces its outcome, as the UPDATE
    // of version 1 did; only a data file migrated with a gap does that (see migrate).
    this.#outcomeInserts = OUTCOME_CHUNKS.map((rows) => ({
      rows,
      statement: this.#db.prepare<unknown[]>(
        `INSERT OR REPLACE INTO micro_outcomes (seq, result, error) VALUES ${Array<string>(rows).fill('(?, ?, ?)').join(', ')}`,
      ),
    }));
    // The protocol is the saved record's own, so save needs no protocol argument.
    // The mark only moves forward: saving an older record again must not hand
    // out once more every record after it.
    this.#advance = this.#db.prepare(`
      INSERT INTO micro_progress (protocol, last_seq) SELECT protocol, seq FROM micro_received WHERE seq = ?
      ON CONFLICT (protocol) DO UPDATE SET last_seq = excluded.last_seq WHERE excluded.last_seq > last_seq`);
    this.#saveAll = this.#db.transaction((batch: readonly StoredOutcome[]) => {
      let next = 0;
      for (const { rows, statement } of this.#outcomeInserts) {
        for (; batch.length - next >= rows; next += rows) {
          const values: unknown[] = [];
          for (let index = next; index < next + rows; index += 1) {
            const outcome = batch[index] as StoredOutcome;
            if (outcome.error !== undefined) values.push(outcome.seq, null, outcome.error);
            else values.push(outcome.seq, outcome.resultJson, null);
          }
          statement.run(values);
        }
      }
      const last = batch[batch.length - 1];
      if (last !== undefined) this.#advance.run(last.seq);
    });
    this.#lastProcessed = this.#db
      .prepare<[string], string>(
        `
        SELECT r.record_id FROM micro_progress AS p JOIN micro_received AS r ON r.seq = p.last_seq WHERE p.protocol = ?`,
      )
      .pluck();
    // CROSS JOIN keeps the asked keys the outer loop, each one a lookup in the
    // (protocol, record_key) index, which holds the seq, and then one in the outcomes.
    this.#outcomes = this.#db
      .prepare<[string, string], OutcomeRow>(
        `
        SELECT j.key, o.result, o.error
        FROM json_each(?) AS j CROSS JOIN micro_received AS m JOIN micro_outcomes AS o ON o.seq = m.seq
        WHERE m.protocol = ? AND m.record_key = j.value`,
      )
      .raw();
    this.#held = this.#db
      .prepare<[string, string], string>(
        `
        SELECT m.record_key FROM json_each(?) AS j CROSS JOIN micro_received AS m WHERE m.protocol = ? AND m.record_key = j.value`,
      )
      .pluck();
  }

  /** The keys (see recordKey) of these records that the protocol already holds. */
  held(protocol: string, records: readonly MicroRecord[]): Set<string> {
    if (records.length === 0) return new Set();
    return new Set(this.#held.all(JSON.stringify(records.map((record) => recordKey(record.id))), protocol));
  }

  /** Stores a batch in one statement; ids already held, or repeated in the batch, are skipped. Returns how many were new. */
  insert(protocol: string, records: readonly MicroRecord[]): number {
    if (records.length === 0) return 0;
    return this.#insert.run(protocol, JSON.stringify(records)).changes;
  }

  /** The oldest unprocessed records of a protocol, in the order received. */
  pending(protocol: string, limit: number): PendingRecord[] {
    const text = this.#pending.get({ protocol, limit });
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
   * Stores the outcomes of records that `pending` handed out, of one protocol,
   * oldest first, and marks the last of them as the protocol's last processed
   * record, all in one transaction. Records are processed in the order
   * received, so that mark is what tells processed from pending: saving
   * records out of that order would skip the ones left out.
   */
  save(outcomes: readonly StoredOutcome[]): void {
    this.#saveAll(outcomes);
  }

  /** Id of the last record, in the order received, that is processed; null when none is. */
  lastProcessedId(protocol: string): MicroRecordId | null {
    const recordId = this.#lastProcessed.get(protocol);
    return recordId === undefined ? null : (JSON.parse(recordId) as MicroRecordId);
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

/**
 * Brings the data file to SCHEMA_VERSION in one transaction, so an interrupted
 * migration leaves the file as it was. A version newer than this code is refused.
 */
function migrate(db: BetterSqlite3.Database): void {
  if (db.pragma('user_version', { simple: true }) === SCHEMA_VERSION) return;
  // IMMEDIATE, and the version read again inside, so two processes opening one file do not both migrate it.
  db.transaction(() => {
    const version = db.pragma('user_version', { simple: true }) as number;
    if (version === SCHEMA_VERSION) return;
    if (version === 0) db.exec(CREATE_RECEIVED + CREATE_OUTCOMES_AND_PROGRESS + CREATE_INDEX_AND_VIEW);
    else if (version === 1) db.exec(FROM_VERSION_1 + CREATE_INDEX_AND_VIEW);
    else throw new Error(`data file has schema version ${version}; this workmesh reads version ${SCHEMA_VERSION}`);
    db.pragma(`user_version = ${SCHEMA_VERSION}`);
  }).immediate();
}

const CREATE_RECEIVED = `
  CREATE TABLE micro_received (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    protocol TEXT NOT NULL,
    record_key TEXT NOT NULL,
    record_id TEXT NOT NULL,
    record TEXT NOT NULL,
    UNIQUE (protocol, record_key)
  );`;

const CREATE_OUTCOMES_AND_PROGRESS = `
  CREATE TABLE micro_outcomes (
    seq INTEGER PRIMARY KEY,
    result TEXT,
    error TEXT
  );
  CREATE TABLE micro_progress (
    protocol TEXT PRIMARY KEY,
    last_seq INTEGER NOT NULL
  ) WITHOUT ROWID;`;

// The view shows a node's data the way version 1's micro_records table held
// it, one row per record with its outcome: for an operator's `sqlite3` query
// and the tests that read a node's file. The store never reads it.
const CREATE_INDEX_AND_VIEW = `
  CREATE INDEX micro_received_order ON micro_received (protocol, seq);
  CREATE VIEW micro_records AS
    SELECT r.seq, r.protocol, r.record_key, r.record_id, r.record, o.seq IS NOT NULL AS done, o.result, o.error
    FROM micro_received AS r LEFT JOIN micro_outcomes AS o ON o.seq = r.seq;`;

// Version 1 kept done, result and error on each record, and a queue index on
// (protocol, done, seq), which finds each protocol's first pending record while
// the progress is filled in. Renaming keeps the seqs and the AUTOINCREMENT counter.
// A protocol's last processed record is the last done one before its first
// pending one: the version 1 worker only ever leaves done records before
// pending ones, but should a file hold a done record after a pending one, that
// record is handed out again rather than the pending one skipped; its outcome
// stays answerable by pull until it is replaced.
const FROM_VERSION_1 = `
  ${CREATE_OUTCOMES_AND_PROGRESS}
  INSERT INTO micro_outcomes (seq, result, error) SELECT seq, result, error FROM micro_records WHERE done = 1 ORDER BY seq;
  WITH first_pending (protocol, seq) AS (SELECT protocol, min(seq) FROM micro_records WHERE done = 0 GROUP BY protocol)
  INSERT INTO micro_progress (protocol, last_seq)
    SELECT d.protocol, max(d.seq) FROM micro_records AS d LEFT JOIN first_pending AS f ON f.protocol = d.protocol
    WHERE d.done = 1 AND (f.seq IS NULL OR d.seq < f.seq)
    GROUP BY d.protocol;
  DROP INDEX micro_records_queue;
  ALTER TABLE micro_records RENAME TO micro_received;
  ALTER TABLE micro_received DROP COLUMN done;
  ALTER TABLE micro_received DROP COLUMN result;
  ALTER TABLE micro_received DROP COLUMN error;`;
