import { describe, expect, it } from 'vitest';
import { validateConfig } from '../../src/config/validate-config.js';
import { isDataError } from '../../src/db/storage-error.js';
import { cleanErrorText } from '../../src/nodes/clean-error-text.js';
import { checkLastProcessedId, MAX_RESULT_DEPTH, PullAnswerError, resultValueProblem } from '../../src/pull/check-pull-answer.js';
import { meshConfigObjects } from '../helpers/mesh-fixture.js';

describe('pull answer checks', () => {
  it('takes null, finite numbers and short strings as lastProcessedId, and names the node and the field otherwise', () => {
    expect(checkLastProcessedId('n1', null)).toBeNull();
    expect(checkLastProcessedId('n1', undefined)).toBeNull();
    expect(checkLastProcessedId('n1', 17)).toBe(17);
    expect(checkLastProcessedId('n1', '9007199254740993')).toBe('9007199254740993');
    for (const [value, got] of [
      [true, 'a boolean'],
      [{}, 'an object'],
      [[1, 2], 'an array'],
      [Infinity, 'Infinity'],
      ['x'.repeat(101), 'a string of 101 characters (at most 100)'],
    ] as const) {
      expect(() => checkLastProcessedId('n1', value)).toThrow(PullAnswerError);
      expect(() => checkLastProcessedId('n1', value)).toThrow(
        `node n1: status answer field "lastProcessedId" must be null, a number or a string; got ${got}`,
      );
    }
  });

  it('walks a result 100,000 arrays deep without recursion and refuses it; takes nesting up to the cap', () => {
    const deep = JSON.parse(`${'['.repeat(100_000)}${']'.repeat(100_000)}`) as unknown;
    expect(resultValueProblem(deep)).toBe(`nested deeper than ${MAX_RESULT_DEPTH} levels`);
    let ok: unknown = 'leaf';
    for (let i = 0; i < MAX_RESULT_DEPTH; i++) ok = i % 2 ? [ok] : { a: ok };
    expect(resultValueProblem(ok)).toBeUndefined();
    expect(resultValueProblem([ok])).toBe(`nested deeper than ${MAX_RESULT_DEPTH} levels`);
    for (const value of ['s', 1.5, true, null, { a: [1, 'b', null] }]) expect(resultValueProblem(value)).toBeUndefined();
  });

  it('replaces every C0 and C1 control character, NUL included, with a space', () => {
    expect(cleanErrorText('a\u0000b\u001b[31mc\r\n\td\u0085e\u007ff')).toBe('a b [31mc   d e f');
    expect(cleanErrorText('plain 😀 text')).toBe('plain 😀 text');
  });

  it('tells data errors from connection errors', () => {
    expect(isDataError({ code: '22001' })).toBe(true);
    expect(isDataError({ code: '22021' })).toBe(true);
    expect(isDataError({ errno: 1406, sqlState: '22001' })).toBe(true);
    expect(isDataError({ errno: 1366, sqlState: 'HY000' })).toBe(true);
    expect(isDataError({ code: 'SQLITE_CONSTRAINT_NOTNULL' })).toBe(true);
    expect(isDataError({ code: 'ECONNRESET' })).toBe(false);
    expect(isDataError({ code: '57P01' })).toBe(false);
    expect(isDataError({ errno: 2013, sqlState: 'HY000' })).toBe(false);
    expect(isDataError(new Error('Connection terminated unexpectedly'))).toBe(false);
  });

  it('validates pull.sweepAfterMs', () => {
    const objects = meshConfigObjects({
      protocol: 'deliveries',
      nodes: [{ name: 'n1', url: 'http://127.0.0.1:1', apiKey: 'k' }],
      batchSize: 10,
    });
    const pull = objects.services[0]!.protocols[0]!.pull!;
    objects.services[0]!.protocols[0]!.pull = { ...pull, sweepAfterMs: -1 };
    const refused = validateConfig(objects.nodes, objects.services);
    expect(refused.ok).toBe(false);
    expect(JSON.stringify(refused)).toContain('sweepAfterMs');
    objects.services[0]!.protocols[0]!.pull = { ...pull, sweepAfterMs: 60_000 };
    const taken = validateConfig(objects.nodes, objects.services);
    expect(taken.ok && taken.config.services[0]!.protocols[0]!.pull).toMatchObject({ sweepAfterMs: 60_000 });
  });
});
