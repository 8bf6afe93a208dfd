import { CompiledQuery } from 'kysely';
import { describe, expect, it } from 'vitest';
import { idsScattered, SCATTERED_SPREAD, valuesQuery } from '../../src/stream/write-in-id-order.js';

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
});
