/** One record a node refused in an otherwise stored batch (node contract v1.1). */
export interface Rejection {
  /** The id as the batch sent it (wire form). */
  id: unknown;
  error: string;
}

/** Longest error text a node may give for one rejected record. */
export const MAX_REJECTION_ERROR_CHARS = 1_000;

/**
 * Reads the `rejected` field of a push answer against the batch's ids (as
 * sent): absent means none; otherwise an array of at most one entry per
 * record, each `{ id, error }` with an id of the batch (not twice) and a
 * string error of bounded length. Anything else is the node's failure: the
 * text names the node and the field. Ids are compared as text, as a JSON
 * number and a 64-bit id sent as a string may come back either way.
 */
export function readRejected(
  value: unknown,
  batchIds: readonly unknown[],
  node: string,
): { ok: true; rejected: Rejection[] } | { ok: false; error: string } {
  if (value === undefined || value === null) return { ok: true, rejected: [] };
  const invalid = (field: string, why: string) => ({
    ok: false as const,
    error: `node ${node} answered the push with an invalid ${field}: ${why}`,
  });
  if (!Array.isArray(value)) return invalid('"rejected"', 'not an array');
  if (value.length > batchIds.length) return invalid('"rejected"', `${value.length} entries for a batch of ${batchIds.length}`);
  const byKey = new Map(batchIds.map((id) => [String(id), id]));
  const seen = new Set<string>();
  const rejected: Rejection[] = [];
  for (const [i, entry] of value.entries()) {
    const field = `rejected[${i}]`;
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) return invalid(field, 'not an object');
    const { id, error } = entry as Record<string, unknown>;
    if (typeof id !== 'number' && typeof id !== 'string') return invalid(`${field}.id`, 'not a number or a string');
    const key = String(id);
    if (!byKey.has(key)) return invalid(`${field}.id`, `${key.slice(0, 40)} is not in the batch`);
    if (seen.has(key)) return invalid(`${field}.id`, `${key.slice(0, 40)} is listed twice`);
    if (typeof error !== 'string') return invalid(`${field}.error`, 'not a string');
    if (error.length > MAX_REJECTION_ERROR_CHARS) return invalid(`${field}.error`, `longer than ${MAX_REJECTION_ERROR_CHARS} characters`);
    seen.add(key);
    rejected.push({ id: byKey.get(key), error });
  }
  return { ok: true, rejected };
}
