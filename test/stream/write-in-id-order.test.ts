import { CompiledQuery } from 'kysely';
import { describe, expect, it } from 'vitest';
import { idsScattered, SCATTERED_SPREAD, valuesQuery, writeInIdOrder, type BatchedRecord } from '../../src/stream/write-in-id-order.js';

describe('writing batches together in id order', () => {
  it('calls numeric ids scattered when they spread over SCATTERED_SPREAD times their number', () => {
    const every = (step: number, count: number) => Array.from({ length: count }, (_, i) => 1 + i * step);
    expect(idsScattered(every(1, 500))).toBe(false);
    // Four nodes' batches interleave: a batch spans four times its records.
    expect(idsScattered(every(4, 500))).toBe(false);
    // Twenty nodes': twenty times, past SCATTERED_SPREAD.
    expect(SCATTERED_SPREAD).toBeLessThan(20);
    expect(idsScattered(every(20, 500))).toBe(true);
    expect(idsScattered(every(200, 500).map((id) => BigInt(id)))).toBe(true);
    expect(idsScattered(every(200, 500).map(String))).toBe(false);
    expect(idsScattered([7])).toBe(false);
  });

  it("builds a VALUES statement as text, its parameters in order: the head's, each row's, the tail's", () => {
    const head = CompiledQuery.raw('with v(a, b) as (values ', ['h']);
    const tail = CompiledQuery.raw(') update t set x = ? from v', ['t']);
    const query = valuesQuery(head, tail, 2, [
      [1, 'x'],
      [2, 'y'],
    ]);
    expect(query.sql).toBe('with v(a, b) as (values (?, ?), (?, ?)) update t set x = ? from v');
    expect(query.parameters).toEqual(['h', 1, 'x', 2, 'y', 't']);
    expect(valuesQuery(head, tail, 2, [[3, 'z']]).sql).toBe('with v(a, b) as (values (?, ?)) update t set x = ? from v');
  });

  /**
   * Three batches' records interleaved as many nodes' are; `write` plays the
   * database: it sees each statement's records, flags those in `flaggable`
   * (the guard lets the others be) and returns their ids in its own order,
   * as `returned` spells them (a driver may give a 64-bit id as a bigint).
   */
  const writeThree = async (
    ids: (batch: number, i: number) => unknown,
    flaggable: (id: unknown) => boolean,
    returned: (id: unknown) => unknown,
  ) => {
    const records: BatchedRecord[] = [];
    for (let batch = 0; batch < 3; batch++) for (let i = 0; i < 5; i++) records.push({ id: ids(batch, i), batch });
    const statements: unknown[][] = [];
    const changed = await writeInIdOrder(records, 3, 4, async (chunk) => {
      statements.push(chunk.map((record) => record.id));
      return chunk
        .filter((record) => flaggable(record.id))
        .map((record) => ({ id: returned(record.id) }))
        .reverse();
    });
    return { changed, statements };
  };

  it('writes numeric ids in id order, so many a statement, and counts what each batch changed', async () => {
    // Batch b holds b+1, b+4, b+7…: every third record, as with three nodes.
    const { changed, statements } = await writeThree(
      (batch, i) => 1 + batch + 3 * i,
      (id) => (id as number) % 2 === 0,
      (id) => id,
    );
    expect(statements).toEqual([
      [1, 2, 3, 4],
      [5, 6, 7, 8],
      [9, 10, 11, 12],
      [13, 14, 15],
    ]);
    // Batch 0: 1, 4, 7, 10, 13 (two even); batch 1: 2, 5, 8, 11, 14 (three); batch 2: 3, 6, 9, 12, 15 (two).
    expect(changed).toEqual([2, 3, 2]);
  });

  it('matches numeric ids returned as bigints', async () => {
    const { changed } = await writeThree(
      (batch, i) => 1 + batch + 3 * i,
      (id) => (id as number) > 12,
      (id) => BigInt(id as number),
    );
    expect(changed).toEqual([1, 1, 1]);
  });

  it('orders and matches ids that are not numbers by their text', async () => {
    const { changed, statements } = await writeThree(
      (batch, i) => `k${String.fromCharCode(97 + batch + 3 * i)}`,
      (id) => id !== 'ka' && id !== 'kb',
      (id) => id,
    );
    expect(statements.flat()).toEqual([...'abcdefghijklmno'].map((c) => `k${c}`));
    expect(changed).toEqual([4, 4, 5]);
  });
});
