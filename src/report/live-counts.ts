import { sql, type RawBuilder } from 'kysely';
import type { ResolvedProtocol, ResolvedService } from '../config/mesh-config.js';
import type { Db } from '../config/service-config.js';
import { countingSource } from '../db/counting-source.js';
import type { DialectName } from '../db/database-url.js';
import { toCount, toDbBoolean } from '../db/db-values.js';
import { flagIndexHints, NO_HINTS, type FlagIndexHints } from '../db/flag-index-hints.js';
import { NO_NODE, readRecordCounts } from '../db/record-counts.js';
import type { RecordCounts } from './count-records.js';

/** One protocol's counts: per node (where the work is), and for the whole protocol. */
export interface ProtocolCounts {
  byNode: Map<string, RecordCounts>;
  whole: RecordCounts;
}

/**
 * Counts one protocol's records as a full count would (count-records.ts),
 * in time proportional to the nodes and the work in flight, not to the
 * records: the done states from the counters (record-counts.ts), the rest
 * live, each through an index range push or pull already reads:
 * - `push_success IS NULL` (push index): pending, or failed after a try;
 * - `push_success = FALSE` (push index): dead before delivery, failed;
 * - `pull_success IS NULL AND push_success = TRUE` (pull index): delivered,
 *   pending its result, or failed after a pull request failed.
 * Records not delivered count at their entity's node, delivered ones at the
 * node they went to. Call only when the counters are built (recordCountsBuilt).
 */
export async function countFromCounters(
  db: Db,
  dialect: DialectName,
  service: ResolvedService,
  protocol: ResolvedProtocol,
): Promise<ProtocolCounts> {
  const counts: ProtocolCounts = { byNode: new Map(), whole: { pending: 0, failed: 0, processed: 0 } };
  const add = (node: string | null, more: Partial<RecordCounts>) => {
    const { pending = 0, failed = 0, processed = 0 } = more;
    // Work no node has (an unassigned entity's failed tries) is failed for the service, pending nowhere.
    counts.whole.failed += failed;
    counts.whole.processed += processed;
    if (node === null) return;
    counts.whole.pending += pending;
    const into = counts.byNode.get(node) ?? { pending: 0, failed: 0, processed: 0 };
    into.pending += pending;
    into.failed += failed;
    into.processed += processed;
    counts.byNode.set(node, into);
  };
  for (const row of await readRecordCounts(db, service, protocol))
    add(row.node === NO_NODE ? null : row.node, { [row.state]: row.records });
  for (const row of await countLive(db, dialect, service, protocol)) add(row.node, row);
  return counts;
}

interface LiveRow {
  node: string | null;
  pending: number;
  failed: number;
}

async function countLive(db: Db, dialect: DialectName, service: ResolvedService, protocol: ResolvedProtocol): Promise<LiveRow[]> {
  const rows: LiveRow[] = [];
  for (const query of liveCountQueries(dialect, service, protocol, await flagIndexHints(db, dialect, protocol))) {
    for (const row of (await query.execute(db)).rows) {
      rows.push({ node: row.node === null ? null : String(row.node), pending: toCount(row.pending), failed: toCount(row.failed) });
    }
  }
  return rows;
}

/** The live counts' queries, one per index range (exported for the plan test): node, pending, failed. */
export function liveCountQueries(
  dialect: DialectName,
  service: ResolvedService,
  protocol: ResolvedProtocol,
  hints: FlagIndexHints = NO_HINTS,
): RawBuilder<{ node: unknown; pending: unknown; failed: unknown }>[] {
  const { flags } = protocol;
  const f = (column: string) => sql.ref(`r.${column}`);
  const { entityNode } = countingSource(dialect, service, protocol);
  const from = (hint: RawBuilder<unknown>) => countingSource(dialect, service, protocol, hint).from;
  const yes = toDbBoolean(dialect, true);
  const no = toDbBoolean(dialect, false);
  // The done states are the counters' (a pulled record is never counted here, whatever its push flags say).
  const notPulled = protocol.pull ? sql` and ${f(flags.pullSuccess)} is null` : sql``;
  const noError = protocol.pull ? sql`${f(flags.pushError)} is null and ${f(flags.pullError)} is null` : sql`${f(flags.pushError)} is null`;
  const ranges: { node: RawBuilder<unknown>; where: RawBuilder<unknown>; pending: RawBuilder<unknown>; hint: RawBuilder<unknown> }[] = [
    { node: entityNode, where: sql`${f(flags.pushSuccess)} is null${notPulled}`, pending: noError, hint: hints.push },
    { node: entityNode, where: sql`${f(flags.pushSuccess)} = ${no}${notPulled}`, pending: sql`1 = 0`, hint: hints.push },
  ];
  if (protocol.pull) {
    ranges.push({
      node: sql`coalesce(${f(flags.pushNode)}, ${entityNode})`,
      where: sql`${f(flags.pullSuccess)} is null and ${f(flags.pushSuccess)} = ${yes}`,
      pending: sql`${f(flags.pullError)} is null`,
      hint: hints.pull,
    });
  }
  // Grouped by position: PostgreSQL would not match a second copy of an expression holding a bound parameter.
  return ranges.map(
    (range) => sql<{ node: unknown; pending: unknown; failed: unknown }>`
      select ${range.node} as node,
        sum(case when ${range.pending} then 1 else 0 end) as pending,
        sum(case when ${range.pending} then 0 else 1 end) as failed
      from ${from(range.hint)} where ${range.where} group by 1`,
  );
}
