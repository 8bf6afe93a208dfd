import { sql, type RawBuilder } from 'kysely';
import type { ResolvedProtocol } from '../config/mesh-config.js';
import type { DialectName } from '../db/database-url.js';
import { toDbBoolean } from '../db/db-values.js';

/**
 * The three states cli.md counts, as SQL conditions over a record's flags
 * (the record table aliased `r`):
 * - processed: pulled successfully; for a protocol with no pull, pushed successfully;
 * - failed: the last push or pull failed (dead records included);
 * - pending: neither (the caller adds "and its entity is assigned").
 *
 * Flag meanings: push_success NULL = not delivered yet (an error text means
 * the last try failed and the next run retries), TRUE = delivered,
 * FALSE = dead after maxAttempts. pull_success likewise, FALSE = the node
 * reported a processing error.
 */
export function recordStates(
  protocol: ResolvedProtocol,
  dialect: DialectName,
): { processed: RawBuilder<unknown>; failed: RawBuilder<unknown> } {
  const yes = toDbBoolean(dialect, true);
  const no = toDbBoolean(dialect, false);
  const f = (column: string) => sql.ref(`r.${column}`);
  const { flags } = protocol;
  const pushFailed = sql`(${f(flags.pushSuccess)} = ${no} or (${f(flags.pushSuccess)} is null and ${f(flags.pushError)} is not null))`;
  if (!protocol.pull) {
    return { processed: sql`${f(flags.pushSuccess)} = ${yes}`, failed: pushFailed };
  }
  return {
    processed: sql`${f(flags.pullSuccess)} = ${yes}`,
    failed: sql`(${pushFailed} or ${f(flags.pullSuccess)} = ${no} or (${f(flags.pullSuccess)} is null and ${f(flags.pullError)} is not null))`,
  };
}

/** One of the failed ranges: its condition, and the pass index it is a range of. */
export interface FailedRange {
  where: RawBuilder<unknown>;
  index: 'push' | 'pull';
}

/**
 * The failed records of `recordStates`, as disjoint conditions whose union
 * is `failed`, each a range of the push or pull index (by push_success:
 * FALSE, NULL, then TRUE with the pull flags): a query over their UNION ALL
 * reads the failed records, never the whole table.
 */
export function failedRanges(protocol: ResolvedProtocol, dialect: DialectName): FailedRange[] {
  const yes = toDbBoolean(dialect, true);
  const no = toDbBoolean(dialect, false);
  const f = (column: string) => sql.ref(`r.${column}`);
  const { flags } = protocol;
  const pushDead: FailedRange = { where: sql`${f(flags.pushSuccess)} = ${no}`, index: 'push' };
  if (!protocol.pull)
    return [pushDead, { where: sql`${f(flags.pushSuccess)} is null and ${f(flags.pushError)} is not null`, index: 'push' }];
  const pullFailed = sql`(${f(flags.pullSuccess)} = ${no} or (${f(flags.pullSuccess)} is null and ${f(flags.pullError)} is not null))`;
  return [
    pushDead,
    { where: sql`${f(flags.pushSuccess)} is null and (${f(flags.pushError)} is not null or ${pullFailed})`, index: 'push' },
    { where: sql`${f(flags.pullSuccess)} = ${no} and ${f(flags.pushSuccess)} = ${yes}`, index: 'pull' },
    {
      where: sql`${f(flags.pullSuccess)} is null and ${f(flags.pushSuccess)} = ${yes} and ${f(flags.pullError)} is not null`,
      index: 'pull',
    },
  ];
}
