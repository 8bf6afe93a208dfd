/**
 * Checks on what a node answers to status and pull, before any of it
 * reaches SQL: a value of the wrong type would otherwise end up in the
 * query text or its parameters (on MySQL an array id was bound as `1, 2`),
 * and a deeply nested one would blow the stack of JSON.stringify. A bad
 * answer fails only that node's batch, with a text naming the node and the
 * field.
 */

/** Longest `lastProcessedId` string taken: ids are keys, not payloads. */
export const MAX_ID_LENGTH = 100;
/** Deepest nesting of arrays and objects taken in a result field. */
export const MAX_RESULT_DEPTH = 32;

/** A node's answer that fails the checks; its message names the node and the field. */
export class PullAnswerError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PullAnswerError';
  }
}

/** `lastProcessedId` as the master may use it: null (none processed), a finite number or a short string. */
export function checkLastProcessedId(node: string, value: unknown): string | number | null {
  if (value === null || value === undefined) return null;
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  if (typeof value === 'string' && value.length <= MAX_ID_LENGTH) return value;
  const what =
    typeof value === 'string'
      ? `a string of ${value.length} characters (at most ${MAX_ID_LENGTH})`
      : typeof value === 'number'
        ? String(value)
        : Array.isArray(value)
          ? 'an array'
          : typeof value === 'object'
            ? 'an object'
            : `a ${typeof value}`;
  return fail(`node ${node}: status answer field "lastProcessedId" must be null, a number or a string; got ${what}`);
}

/**
 * Why a result field cannot be stored, or undefined when it can: a string,
 * number, boolean or null, or an array or object nested at most
 * MAX_RESULT_DEPTH levels. Walked with an explicit stack: JSON.parse builds
 * values far deeper than any recursion would survive.
 */
export function resultValueProblem(value: unknown): string | undefined {
  // Nearly every result value is one of these: no stack for them.
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return undefined;
  if (typeof value === 'number' && Number.isFinite(value)) return undefined;
  const stack: { value: unknown; depth: number }[] = [{ value, depth: 0 }];
  while (stack.length > 0) {
    const item = stack.pop()!;
    const v = item.value;
    if (v === null || typeof v === 'string' || typeof v === 'boolean') continue;
    if (typeof v === 'number') {
      if (!Number.isFinite(v)) return `${v} is not a number a database stores`;
      continue;
    }
    if (typeof v !== 'object') return `a ${typeof v} is not a result value`;
    if (item.depth >= MAX_RESULT_DEPTH) return `nested deeper than ${MAX_RESULT_DEPTH} levels`;
    for (const child of Array.isArray(v) ? v : Object.values(v)) stack.push({ value: child, depth: item.depth + 1 });
  }
  return undefined;
}

function fail(message: string): never {
  throw new PullAnswerError(message);
}
