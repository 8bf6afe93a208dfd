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

interface RecordRow {
  seq: number;
  record: string;
}

interface OutcomeRow {
  result: string | null;
  error: string | null;
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
 * @example
 * const store = new MicroStore({ file: './node-data.db' });
 * store.insert('deliveries', [{ id: 1, subject: 'hi' }]);
 * store.close();
 */
export class MicroStore {
  readonly #db: BetterSqlite3.Database;
  readonly #insert: BetterSqlite3.Statement<[string, string, string, string]>;
  readonly #pending: BetterSqlite3.Statement<[string, number], RecordRow>;
  readonly #saveResult: BetterSqlite3.Statement<[string, number]>;
  readonly #saveError: BetterSqlite3.Statement<[string, number]>;
  readonly #lastProcessed: BetterSqlite3.Statement<[string], { record_id: string }>;
  readonly #outcome: BetterSqlite3.Statement<[string, string], OutcomeRow>;

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
    this.#insert = this.#db.prepare(
      'INSERT INTO micro_records (protocol, record_key, record_id, record) VALUES (?, ?, ?, ?) ON CONFLICT (protocol, record_key) DO NOTHING',
    );
    this.#pending = this.#db.prepare(
      'SELECT seq, record FROM micro_records WHERE protocol = ? AND done = 0 ORDER BY seq LIMIT ?',
    );
    this.#saveResult = this.#db.prepare('UPDATE micro_records SET done = 1, result = ?, error = NULL WHERE seq = ?');
    this.#saveError = this.#db.prepare('UPDATE micro_records SET done = 1, result = NULL, error = ? WHERE seq = ?');
    this.#lastProcessed = this.#db.prepare(
      'SELECT record_id FROM micro_records WHERE protocol = ? AND done = 1 ORDER BY seq DESC LIMIT 1',
    );
    this.#outcome = this.#db.prepare(
      'SELECT result, error FROM micro_records WHERE protocol = ? AND record_key = ? AND done = 1',
    );
  }

  /** Stores a batch in one transaction; ids already held are skipped. Returns how many were new. */
  insert(protocol: string, records: readonly MicroRecord[]): number {
    const run = this.#db.transaction((batch: readonly MicroRecord[]) => {
      let stored = 0;
      for (const record of batch) {
        stored += this.#insert.run(protocol, recordKey(record.id), JSON.stringify(record.id), JSON.stringify(record)).changes;
      }
      return stored;
    });
    return run(records);
  }

  /** The oldest unprocessed records of a protocol, in the order received. */
  pending(protocol: string, limit: number): PendingRecord[] {
    return this.#pending.all(protocol, limit).map((row) => ({ seq: row.seq, record: JSON.parse(row.record) as MicroRecord }));
  }

  save(outcomes: readonly StoredOutcome[]): void {
    const run = this.#db.transaction((batch: readonly StoredOutcome[]) => {
      for (const outcome of batch) {
        if (outcome.error !== undefined) this.#saveError.run(outcome.error, outcome.seq);
        else this.#saveResult.run(outcome.resultJson, outcome.seq);
      }
    });
    run(outcomes);
  }

  /** Id of the last record, in the order received, that is processed; null when none is. */
  lastProcessedId(protocol: string): MicroRecordId | null {
    const row = this.#lastProcessed.get(protocol);
    return row === undefined ? null : (JSON.parse(row.record_id) as MicroRecordId);
  }

  /** One entry per processed id, under the id as asked; unprocessed or unknown ids are left out. */
  results(protocol: string, ids: readonly MicroRecordId[]): MicroPullEntry[] {
    const entries: MicroPullEntry[] = [];
    const seen = new Set<string>();
    for (const id of ids) {
      const key = recordKey(id);
      if (seen.has(key)) continue;
      seen.add(key);
      const row = this.#outcome.get(protocol, key);
      if (row === undefined) continue;
      if (row.error !== null) {
        entries.push({ id, error: row.error });
        continue;
      }
      const result = JSON.parse(row.result ?? '{}') as Record<string, unknown>;
      delete result.id;
      entries.push({ id, ...result });
    }
    return entries;
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
