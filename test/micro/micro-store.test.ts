import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { recordKey, type MicroRecord, type MicroRecordId } from '../../src/micro/micro-protocol.js';
import { MicroStore, type StoredOutcome } from '../../src/micro/micro-store.js';
import { MicroStore as MicroStoreV1 } from './fixtures/micro-store-v1.js';

const cleanups: (() => void)[] = [];

afterEach(() => {
  for (const cleanup of cleanups.splice(0).reverse()) cleanup();
});

function tempFile(): string {
  const dir = mkdtempSync(join(tmpdir(), 'workmesh-micro-store-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return join(dir, 'node.db');
}

function open(file = tempFile()): { store: MicroStore; file: string } {
  const store = new MicroStore({ file });
  cleanups.push(() => store.close());
  return { store, file };
}

/** A second connection to the data file, to see the rows as stored. */
function rawRows(file: string): { record_key: string; record_id: string; record: string; protocol: string }[] {
  const db = new BetterSqlite3(file, { readonly: true });
  try {
    return db.prepare('SELECT protocol, record_key, record_id, record FROM micro_records ORDER BY seq').all() as never;
  } finally {
    db.close();
  }
}

/** Processes every pending record of a protocol, `chunk` at a time: the result is `{ n: <id> }`, or an error for ids in `failing`. */
function processAll(store: MicroStore, protocol: string, failing: readonly MicroRecordId[] = [], chunk = 3): MicroRecordId[] {
  const seen: MicroRecordId[] = [];
  for (let batch = store.pending(protocol, chunk); batch.length > 0; batch = store.pending(protocol, chunk)) {
    const outcomes = batch.map(({ seq, record }): StoredOutcome => {
      seen.push(record.id);
      if (failing.includes(record.id)) return { seq, error: `bad ${String(record.id)}` };
      return { seq, resultJson: JSON.stringify({ n: record.id }) };
    });
    store.save(outcomes);
  }
  return seen;
}

describe('MicroStore', () => {
  it('stores each record under recordKey(id), with the id and the record as JSON.stringify writes them', () => {
    // Number ids whose JSON text SQLite could write otherwise (exponents, -0, fractions), and strings that need escapes.
    const ids: MicroRecordId[] = [
      1,
      -0,
      -5,
      2 ** 53 - 1,
      -(2 ** 53 - 1),
      2 ** 53 + 2,
      1.5,
      0.1,
      -2.5e-8,
      1e21,
      1.7976931348623157e308,
      5e-324,
      123.456,
      'abc',
      '012',
      ' 7',
      '1e3',
      'é"\\\n\t\u0001',
      '\u2028😀',
      'x'.repeat(300),
    ];
    const records: MicroRecord[] = ids.map((id, index) => ({
      id,
      index,
      text: 'a "quoted" é\n\u0000 😀',
      numbers: [1.0, -0, 1e-7, 2 ** 60, 0.30000000000000004],
      nested: { deep: [null, true, false, {}], ['__proto__']: 'an own key' },
    }));
    const { store, file } = open();

    expect(store.insert('deliveries', records)).toBe(ids.length);

    expect(rawRows(file)).toEqual(
      records.map((record) => ({
        protocol: 'deliveries',
        record_key: recordKey(record.id),
        record_id: JSON.stringify(record.id),
        record: JSON.stringify(record),
      })),
    );
    expect(store.pending('deliveries', 100)).toEqual(
      records.map((record, index) => ({ seq: index + 1, record: JSON.parse(JSON.stringify(record)) as MicroRecord })),
    );
  });

  it('counts only new records: a repeat in the batch or of an earlier batch keeps the first, and 12 and "12" are one id', () => {
    const { store, file } = open();

    const first = [
      { id: 1, v: 'a' },
      { id: 'x', v: 'a' },
      { id: 1, v: 'b' },
      { id: 12, v: 'a' },
      { id: '12', v: 'b' },
    ];
    expect(store.insert('deliveries', first)).toBe(3);
    const second = [
      { id: '1', v: 'c' },
      { id: 'x', v: 'c' },
      { id: 2, v: 'c' },
      { id: 2, v: 'd' },
      { id: 'X', v: 'c' },
    ];
    expect(store.insert('deliveries', second)).toBe(2);
    expect(store.insert('deliveries', [{ id: 12, v: 'e' }])).toBe(0);
    expect(store.insert('deliveries', [])).toBe(0);
    // The same ids under another protocol are other records.
    expect(
      store.insert('enrichments', [
        { id: 1, v: 'f' },
        { id: '12', v: 'f' },
      ]),
    ).toBe(2);

    expect(rawRows(file).map((row) => [row.protocol, row.record])).toEqual([
      ['deliveries', '{"id":1,"v":"a"}'],
      ['deliveries', '{"id":"x","v":"a"}'],
      ['deliveries', '{"id":12,"v":"a"}'],
      ['deliveries', '{"id":2,"v":"c"}'],
      ['deliveries', '{"id":"X","v":"c"}'],
      ['enrichments', '{"id":1,"v":"f"}'],
      ['enrichments', '{"id":"12","v":"f"}'],
    ]);
    expect(store.pending('deliveries', 10).map(({ record }) => record)).toEqual([
      { id: 1, v: 'a' },
      { id: 'x', v: 'a' },
      { id: 12, v: 'a' },
      { id: 2, v: 'c' },
      { id: 'X', v: 'c' },
    ]);
  });

  it('hands out pending records in the order received, at most the limit, and not once saved', () => {
    const { store } = open();
    store.insert('deliveries', [{ id: 5 }, { id: 'b' }, { id: 3 }]);
    store.insert('enrichments', [{ id: 9 }]);
    store.insert('deliveries', [{ id: 1 }, { id: 'a' }]);

    expect(store.pending('deliveries', 4).map(({ record }) => record.id)).toEqual([5, 'b', 3, 1]);
    const [first, second] = store.pending('deliveries', 2);
    store.save([
      { seq: first?.seq ?? 0, resultJson: '{}' },
      { seq: second?.seq ?? 0, error: 'no' },
    ]);
    expect(store.pending('deliveries', 10).map(({ record }) => record.id)).toEqual([3, 1, 'a']);
    expect(store.pending('enrichments', 10).map(({ record }) => record.id)).toEqual([9]);
    expect(store.pending('nothing', 10)).toEqual([]);
  });

  it('answers results in the order asked, once per id as first asked, with errors, without unknown or unprocessed ids', () => {
    const { store } = open();
    store.insert('deliveries', [{ id: 1 }, { id: 'two' }, { id: 3 }, { id: 2 ** 53 - 1 }, { id: '9007199254740993' }]);
    expect(processAll(store, 'deliveries', ['two'])).toEqual([1, 'two', 3, 2 ** 53 - 1, '9007199254740993']);
    store.insert('deliveries', [{ id: 4 }]);

    expect(store.results('deliveries', [3, 'two', 99, 4, '1', 1, 3, '9007199254740993', 9007199254740991, '9007199254740991'])).toEqual([
      { id: 3, n: 3 },
      { id: 'two', error: 'bad two' },
      { id: '1', n: 1 },
      { id: '9007199254740993', n: '9007199254740993' },
      { id: 9007199254740991, n: 9007199254740991 },
    ]);
    expect(store.results('deliveries', [])).toEqual([]);
    expect(store.results('deliveries', [4, 'nope'])).toEqual([]);
    expect(store.results('enrichments', [1, 3])).toEqual([]);
    expect(store.lastProcessedId('deliveries')).toBe('9007199254740993');
  });

  it('answers each of many ids, asked out of order, with its own result', () => {
    const { store } = open();
    const ids = Array.from({ length: 1_200 }, (_, index) => (index % 3 === 0 ? `s${index}` : index));
    store.insert(
      'deliveries',
      ids.map((id) => ({ id })),
    );
    processAll(
      store,
      'deliveries',
      ids.filter((_, index) => index % 7 === 0),
      500,
    );
    // A fixed shuffle, with every id asked twice.
    const asked = [...ids, ...ids].map((id, index) => ({ id, order: (index * 7_919) % 2_400 })).sort((a, b) => a.order - b.order);

    const firstAsked = [...new Map(asked.map(({ id }) => [String(id), id])).values()];
    expect(firstAsked).toHaveLength(1_200);
    expect(
      store.results(
        'deliveries',
        asked.map(({ id }) => id),
      ),
    ).toEqual(firstAsked.map((id) => (ids.indexOf(id) % 7 === 0 ? { id, error: `bad ${String(id)}` } : { id, n: id })));
  });

  it('answers a result without its own id field, and an empty result as the id alone', () => {
    const { store } = open();
    store.insert('deliveries', [{ id: 1 }, { id: 2 }, { id: 3 }]);
    const [one, two, three] = store.pending('deliveries', 3);
    store.save([
      { seq: one?.seq ?? 0, resultJson: JSON.stringify({ id: 'other', a: 1, nested: { id: 5 } }) },
      { seq: two?.seq ?? 0, resultJson: '{}' },
      { seq: three?.seq ?? 0, error: '' },
    ]);

    expect(store.results('deliveries', [1, 2, 3])).toEqual([{ id: 1, a: 1, nested: { id: 5 } }, { id: 2 }, { id: 3, error: '' }]);
  });

  it('keeps working on a data file written a record at a time by the earlier store', () => {
    const file = tempFile();
    open(file).store.close();
    // The rows exactly as the earlier store wrote them, one INSERT per record.
    const old = [
      { id: 7, v: 'old' },
      { id: 'k', v: 'old' },
      { id: '\ud800x', v: 'old' },
      { id: 0.5, v: 'old' },
    ];
    const db = new BetterSqlite3(file);
    const insert = db.prepare('INSERT INTO micro_received (protocol, record_key, record_id, record) VALUES (?, ?, ?, ?)');
    for (const record of old) insert.run('deliveries', recordKey(record.id), JSON.stringify(record.id), JSON.stringify(record));
    db.close();

    const { store } = open(file);
    const again = [{ id: '7', v: 'new' }, { id: 'k', v: 'new' }, { id: '\ud800x', v: 'new' }, { id: 0.5, v: 'new' }, { id: 8 }];
    expect(store.insert('deliveries', again)).toBe(1);
    expect(processAll(store, 'deliveries')).toEqual([7, 'k', '\ud800x', 0.5, 8]);
    expect(store.results('deliveries', ['\ud800x', 7, '0.5', 'k'])).toEqual([
      { id: '\ud800x', n: '\ud800x' },
      { id: 7, n: 7 },
      { id: '0.5', n: 0.5 },
      { id: 'k', n: 'k' },
    ]);
  });
});

/** Every row through the columns version 1's micro_records table had: its table there, a view from version 2 on. */
function version1Rows(file: string): unknown[] {
  const db = new BetterSqlite3(file, { readonly: true });
  try {
    return db.prepare('SELECT seq, protocol, record_key, record_id, record, done, result, error FROM micro_records ORDER BY seq').all();
  } finally {
    db.close();
  }
}

function userVersion(file: string): unknown {
  const db = new BetterSqlite3(file, { readonly: true });
  try {
    return db.pragma('user_version', { simple: true });
  } finally {
    db.close();
  }
}

/** Opens a file with the store that wrote schema version 1, as nodes ran it. */
function openVersion1(file: string): MicroStoreV1 {
  const store = new MicroStoreV1({ file });
  cleanups.push(() => store.close());
  return store;
}

describe('MicroStore data file', () => {
  it('opens a file the version 1 store left partly processed, with every record, outcome, pending order and last id kept', () => {
    const file = tempFile();
    const old = openVersion1(file);
    // Three protocols whose records interleave: one partly processed, one not at all, one wholly.
    old.insert('deliveries', [{ id: 1, v: 'a' }, { id: 'two' }, { id: 3 }, { id: 2 ** 53 - 1 }]);
    old.insert('enrichments', [{ id: 1 }, { id: 2 }]);
    old.insert('audits', [{ id: 'x' }]);
    old.insert('deliveries', [{ id: 5 }, { id: '9007199254740993' }]);
    const processed = (protocol: string, count: number): void => {
      old.save(
        old
          .pending(protocol, count)
          .map(({ seq, record }): StoredOutcome =>
            record.id === 'two' ? { seq, error: 'bad two' } : { seq, resultJson: JSON.stringify({ n: record.id, id: 'not the id' }) },
          ),
      );
    };
    processed('deliveries', 3);
    processed('audits', 10);
    const protocols = ['deliveries', 'enrichments', 'audits', 'nothing'];
    const ids: MicroRecordId[] = [1, 'two', 3, 2 ** 53 - 1, 5, '9007199254740993', 2, 'x', 'none'];
    const snapshot = (store: Pick<MicroStore, 'pending' | 'lastProcessedId' | 'results'>) =>
      protocols.map((protocol) => ({
        protocol,
        pending: store.pending(protocol, 100),
        last: store.lastProcessedId(protocol),
        results: store.results(protocol, ids),
      }));
    const before = snapshot(old);
    const rowsBefore = version1Rows(file);
    old.close();
    expect(before[0]).toMatchObject({
      last: 3,
      results: [
        { id: 1, n: 1 },
        { id: 'two', error: 'bad two' },
        { id: 3, n: 3 },
      ],
    });
    expect(before[0]?.pending.map(({ record }) => record.id)).toEqual([2 ** 53 - 1, 5, '9007199254740993']);

    const { store } = open(file);

    expect(userVersion(file)).toBe(2);
    expect(snapshot(store)).toEqual(before);
    expect(version1Rows(file)).toEqual(rowsBefore);
    // An id already held is not new, processed or not; a new one comes after every record already held.
    expect(store.insert('deliveries', [{ id: '1' }, { id: 2 ** 53 - 1 }, { id: 7 }])).toBe(1);
    expect(processAll(store, 'deliveries')).toEqual([2 ** 53 - 1, 5, '9007199254740993', 7]);
    expect(store.results('deliveries', [3, 7, 'two'])).toEqual([
      { id: 3, n: 3 },
      { id: 7, n: 7 },
      { id: 'two', error: 'bad two' },
    ]);
    expect(store.lastProcessedId('deliveries')).toBe(7);
    expect(store.lastProcessedId('enrichments')).toBeNull();
    expect(processAll(store, 'enrichments')).toEqual([1, 2]);
  });

  it('hands out again a record the version 1 store left processed after an unprocessed one, rather than skip the unprocessed one', () => {
    const file = tempFile();
    const old = openVersion1(file);
    old.insert('deliveries', [{ id: 1 }, { id: 2 }, { id: 3 }]);
    const [one, , three] = old.pending('deliveries', 3);
    // Version 1 took outcomes for any record; its worker never left such a gap.
    old.save([
      { seq: one?.seq ?? 0, resultJson: '{"first":1}' },
      { seq: three?.seq ?? 0, resultJson: '{"first":3}' },
    ]);
    old.close();

    const { store } = open(file);

    expect(store.lastProcessedId('deliveries')).toBe(1);
    expect(store.results('deliveries', [1, 2, 3])).toEqual([
      { id: 1, first: 1 },
      { id: 3, first: 3 },
    ]);
    expect(processAll(store, 'deliveries')).toEqual([2, 3]);
    expect(store.results('deliveries', [1, 2, 3])).toEqual([
      { id: 1, first: 1 },
      { id: 2, n: 2 },
      { id: 3, n: 3 },
    ]);
    expect(store.lastProcessedId('deliveries')).toBe(3);
  });

  it('migrates in one transaction: when it fails, the version 1 file is left as it was and opens later', () => {
    const file = tempFile();
    const old = openVersion1(file);
    old.insert('deliveries', [{ id: 1 }, { id: 2 }, { id: 3 }]);
    old.save([{ seq: old.pending('deliveries', 1)[0]?.seq ?? 0, resultJson: '{"ok":true}' }]);
    old.close();
    const rowsBefore = version1Rows(file);
    // Taken by the index name the migration creates last, after it has renamed and rewritten micro_records.
    const db = new BetterSqlite3(file);
    db.exec('CREATE TABLE obstacle (x); CREATE INDEX micro_received_order ON obstacle (x)');
    db.close();

    expect(() => new MicroStore({ file })).toThrow(/micro_received_order already exists/);

    expect(userVersion(file)).toBe(1);
    expect(version1Rows(file)).toEqual(rowsBefore);
    const again = openVersion1(file);
    expect(again.pending('deliveries', 10).map(({ record }) => record.id)).toEqual([2, 3]);
    again.close();
    const fix = new BetterSqlite3(file);
    fix.exec('DROP TABLE obstacle');
    fix.close();
    const { store } = open(file);
    expect(store.results('deliveries', [1])).toEqual([{ id: 1, ok: true }]);
    expect(processAll(store, 'deliveries')).toEqual([2, 3]);
  });

  it('refuses a file of a newer schema version and leaves it as it was', () => {
    const { store, file } = open();
    store.insert('deliveries', [{ id: 1 }]);
    store.close();
    const db = new BetterSqlite3(file);
    db.pragma('user_version = 3');
    db.close();

    expect(() => new MicroStore({ file })).toThrow('data file has schema version 3; this workmesh reads version 2');
    expect(userVersion(file)).toBe(3);
  });

  it('stores each outcome of a batch of any size under its own record', () => {
    const { store } = open();
    // Sizes on both sides of each number of rows the outcomes are written in at once.
    const sizes = [1, 9, 10, 11, 99, 100, 101, 123];
    const ids = Array.from({ length: sizes.reduce((sum, size) => sum + size, 0) }, (_, index) => index + 1);
    store.insert(
      'deliveries',
      ids.map((id) => ({ id })),
    );
    for (const size of sizes) {
      const batch = store.pending('deliveries', size);
      expect(batch).toHaveLength(size);
      store.save(
        batch.map(({ seq, record }): StoredOutcome =>
          Number(record.id) % 4 === 0 ? { seq, error: `bad ${String(record.id)}` } : { seq, resultJson: JSON.stringify({ n: record.id }) },
        ),
      );
      expect(store.lastProcessedId('deliveries')).toBe(batch[size - 1]?.record.id);
    }

    expect(store.pending('deliveries', 10)).toEqual([]);
    expect(store.results('deliveries', ids)).toEqual(ids.map((id) => (id % 4 === 0 ? { id, error: `bad ${id}` } : { id, n: id })));
  });

  it('stores nothing of a save that fails partway: no outcome, and the records still pending', () => {
    const { store } = open();
    store.insert(
      'deliveries',
      Array.from({ length: 12 }, (_, index) => ({ id: index + 1 })),
    );
    const batch = store.pending('deliveries', 12);
    const outcomes = batch.map(({ seq }): StoredOutcome => ({ seq, resultJson: '{"ok":true}' }));
    // A value SQLite cannot bind, last, so the rows before it are written first.
    const last = batch[11]?.seq ?? 0;
    outcomes[11] = { seq: last, resultJson: { not: 'text' } as unknown as string };

    expect(() => store.save(outcomes)).toThrow();

    expect(
      store.results(
        'deliveries',
        batch.map(({ record }) => record.id),
      ),
    ).toEqual([]);
    expect(store.lastProcessedId('deliveries')).toBeNull();
    expect(store.pending('deliveries', 20)).toEqual(batch);
  });

  it('keeps the last processed record when an earlier one is saved again, replacing only its outcome', () => {
    const { store } = open();
    store.insert('deliveries', [{ id: 1 }, { id: 2 }, { id: 3 }]);
    store.insert('enrichments', [{ id: 1 }]);
    const batch = store.pending('deliveries', 3);
    processAll(store, 'deliveries');

    store.save([{ seq: batch[0]?.seq ?? 0, error: 'again' }]);

    expect(store.lastProcessedId('deliveries')).toBe(3);
    expect(store.pending('deliveries', 10)).toEqual([]);
    expect(store.results('deliveries', [1, 2])).toEqual([
      { id: 1, error: 'again' },
      { id: 2, n: 2 },
    ]);
    // Saving one protocol's records moves nothing of another's.
    expect(store.lastProcessedId('enrichments')).toBeNull();
    expect(store.pending('enrichments', 10).map(({ record }) => record.id)).toEqual([1]);
  });

  it('shows a version 2 file through micro_records in the columns version 1 had', () => {
    const { store, file } = open();
    store.insert('deliveries', [{ id: 1 }, { id: 'b' }, { id: 3 }]);
    const [one, two] = store.pending('deliveries', 2);
    store.save([
      { seq: one?.seq ?? 0, resultJson: '{"n":1}' },
      { seq: two?.seq ?? 0, error: 'no' },
    ]);

    expect(version1Rows(file)).toEqual([
      { seq: 1, protocol: 'deliveries', record_key: '1', record_id: '1', record: '{"id":1}', done: 1, result: '{"n":1}', error: null },
      { seq: 2, protocol: 'deliveries', record_key: 'b', record_id: '"b"', record: '{"id":"b"}', done: 1, result: null, error: 'no' },
      { seq: 3, protocol: 'deliveries', record_key: '3', record_id: '3', record: '{"id":3}', done: 0, result: null, error: null },
    ]);
  });
});
