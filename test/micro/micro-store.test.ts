import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { recordKey, type MicroRecord, type MicroRecordId } from '../../src/micro/micro-protocol.js';
import { MicroStore, type StoredOutcome } from '../../src/micro/micro-store.js';

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
      1, -0, -5, 2 ** 53 - 1, -(2 ** 53 - 1), 2 ** 53 + 2, 1.5, 0.1, -2.5e-8, 1e21, 1.7976931348623157e308, 5e-324, 123.456,
      'abc', '012', ' 7', '1e3', 'é"\\\n\t\u0001', '\u2028😀', 'x'.repeat(300),
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

    const first = [{ id: 1, v: 'a' }, { id: 'x', v: 'a' }, { id: 1, v: 'b' }, { id: 12, v: 'a' }, { id: '12', v: 'b' }];
    expect(store.insert('deliveries', first)).toBe(3);
    const second = [{ id: '1', v: 'c' }, { id: 'x', v: 'c' }, { id: 2, v: 'c' }, { id: 2, v: 'd' }, { id: 'X', v: 'c' }];
    expect(store.insert('deliveries', second)).toBe(2);
    expect(store.insert('deliveries', [{ id: 12, v: 'e' }])).toBe(0);
    expect(store.insert('deliveries', [])).toBe(0);
    // The same ids under another protocol are other records.
    expect(store.insert('enrichments', [{ id: 1, v: 'f' }, { id: '12', v: 'f' }])).toBe(2);

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
    store.insert('deliveries', ids.map((id) => ({ id })));
    processAll(store, 'deliveries', ids.filter((_, index) => index % 7 === 0), 500);
    // A fixed shuffle, with every id asked twice.
    const asked = [...ids, ...ids].map((id, index) => ({ id, order: (index * 7_919) % 2_400 })).sort((a, b) => a.order - b.order);

    const firstAsked = [...new Map(asked.map(({ id }) => [String(id), id])).values()];
    expect(firstAsked).toHaveLength(1_200);
    expect(store.results('deliveries', asked.map(({ id }) => id))).toEqual(
      firstAsked.map((id) => (ids.indexOf(id) % 7 === 0 ? { id, error: `bad ${String(id)}` } : { id, n: id })),
    );
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
    const old = [{ id: 7, v: 'old' }, { id: 'k', v: 'old' }, { id: '\ud800x', v: 'old' }, { id: 0.5, v: 'old' }];
    const db = new BetterSqlite3(file);
    const insert = db.prepare('INSERT INTO micro_records (protocol, record_key, record_id, record) VALUES (?, ?, ?, ?)');
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
