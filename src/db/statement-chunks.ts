/**
 * Items per batched statement: a few hundred keys in one `in (...)` or one
 * multi-row INSERT keep a run to a handful of round trips per thousand
 * nodes, while the bound parameters (up to six per row) stay far below
 * every driver's limit.
 */
export const STATEMENT_CHUNK = 500;

/** `items` cut into consecutive slices of at most `size`. */
export function chunksOf<T>(items: readonly T[], size: number = STATEMENT_CHUNK): T[][] {
  const chunks: T[][] = [];
  for (let i = 0; i < items.length; i += size) chunks.push(items.slice(i, i + size));
  return chunks;
}
