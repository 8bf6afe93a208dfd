import { describe, expect, it } from 'vitest';
import { readRejected } from '../../src/push/read-rejected.js';

describe('readRejected', () => {
  const ids = [15, 16, '9007199254740993'];

  it('absent is none; listed ids come back as the batch sent them', () => {
    expect(readRejected(undefined, ids, 'node1')).toEqual({ ok: true, rejected: [] });
    expect(readRejected(null, ids, 'node1')).toEqual({ ok: true, rejected: [] });
    expect(readRejected([], ids, 'node1')).toEqual({ ok: true, rejected: [] });
    expect(
      readRejected(
        [
          { id: '16', error: 'bad' },
          { id: 9007199254740993n.toString(), error: 'big' },
        ],
        ids,
        'node1',
      ),
    ).toEqual({
      ok: true,
      rejected: [
        { id: 16, error: 'bad' },
        { id: '9007199254740993', error: 'big' },
      ],
    });
  });

  it('anything else is the node failure, naming the node and the field', () => {
    const cases: [unknown, string][] = [
      [{ id: 15 }, '"rejected": not an array'],
      [[1, 2, 3, 4], '"rejected": 4 entries for a batch of 3'],
      [[7], 'rejected[0]: not an object'],
      [[{ id: true, error: 'x' }], 'rejected[0].id: not a number or a string'],
      [[{ id: 99, error: 'x' }], 'rejected[0].id: 99 is not in the batch'],
      [
        [
          { id: 15, error: 'x' },
          { id: 15, error: 'y' },
        ],
        'rejected[1].id: 15 is listed twice',
      ],
      [[{ id: 15, error: { text: 'x' } }], 'rejected[0].error: not a string'],
      [[{ id: 15 }], 'rejected[0].error: not a string'],
      [[{ id: 15, error: 'x'.repeat(1_001) }], 'rejected[0].error: longer than 1000 characters'],
    ];
    for (const [value, text] of cases) {
      expect(readRejected(value, ids, 'node2')).toEqual({ ok: false, error: `node node2 answered the push with an invalid ${text}` });
    }
  });
});
