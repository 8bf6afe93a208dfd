import { sql } from 'kysely';
import type { ResolvedProtocol, ResolvedService } from '../config/mesh-config.js';
import type { Db } from '../config/service-config.js';
import { countingSource } from '../db/counting-source.js';
import type { DialectName } from '../db/database-url.js';
import { toCount } from '../db/db-values.js';
import { recordCountsBuilt } from '../db/record-counts.js';
import { countFromCounters } from './live-counts.js';
import { recordStates } from './record-states.js';

export interface RecordCounts {
  pending: number;
  failed: number;
  processed: number;
}

export const zeroCounts = (): RecordCounts => ({ pending: 0, failed: 0, processed: 0 });

export function addCounts(into: RecordCounts, more: RecordCounts): void {
  into.pending += more.pending;
  into.failed += more.failed;
  into.processed += more.processed;
}

/**
 * Which records to count, and how to group them. `byNode` counts a record
 * where its work is: a record delivered (push_success TRUE) at the node it
 * was pushed to (push_node), whatever node its entity is on now, so that a
 * drained node keeps the work it did; any other at its entity's node, where
 * the next push sends it.
 */
export type CountScope = { byNode: true } | { entity: string } | { whole: true };

/**
 * Counts one protocol's records by state, per node name (`byNode`) or under
 * the key '' for the other scopes. A service or node scope reads the
 * counters and the work in flight (live-counts.ts) once the counters are
 * built; an entity's records, or a protocol whose counters are not built
 * yet, are counted in full (recountRecords).
 */
export async function countRecords(
  db: Db,
  dialect: DialectName,
  service: ResolvedService,
  protocol: ResolvedProtocol,
  scope: CountScope,
): Promise<Map<string, RecordCounts>> {
  if ('entity' in scope || !(await recordCountsBuilt(db, service, protocol))) return recountRecords(db, dialect, service, protocol, scope);
  const counts = await countFromCounters(db, dialect, service, protocol);
  return 'byNode' in scope ? counts.byNode : new Map([['', counts.whole]]);
}

/**
 * Counts one protocol's records by state from the records themselves, with
 * one GROUP BY query in the database, never by loading rows: what `mesh
 * recount` compares the counters with. Each record is joined to its entity
 * for the node (pending needs an assigned entity).
 */
export async function recountRecords(
  db: Db,
  dialect: DialectName,
  service: ResolvedService,
  protocol: ResolvedProtocol,
  scope: CountScope,
): Promise<Map<string, RecordCounts>> {
  const { processed, failed } = recordStates(protocol, dialect);
  const { from, entityNode, workNode } = countingSource(dialect, service, protocol);
  const node = 'byNode' in scope ? workNode : entityNode;
  const where =
    'byNode' in scope
      ? sql`where ${node} is not null`
      : 'entity' in scope
        ? sql`where r.${sql.ref(protocol.entityRef ?? protocol.id)} = ${scope.entity}`
        : sql``;
  const key = 'byNode' in scope ? sql`${node}` : sql`''`;
  // By position: the node expression holds a bound parameter, which PostgreSQL would not match with a second copy of it.
  const group = 'byNode' in scope ? sql`group by 1` : sql``;
  const { rows } = await sql<{ node: string; processed: unknown; failed: unknown; pending: unknown }>`
    select ${key} as node,
      sum(case when ${processed} then 1 else 0 end) as processed,
      sum(case when ${processed} then 0 when ${failed} then 1 else 0 end) as failed,
      sum(case when ${processed} then 0 when ${failed} then 0 when ${node} is null then 0 else 1 end) as pending
    from ${from} ${where} ${group}`.execute(db);
  const counts = new Map<string, RecordCounts>();
  for (const row of rows) {
    counts.set(String(row.node), { processed: toCount(row.processed), failed: toCount(row.failed), pending: toCount(row.pending) });
  }
  return counts;
}
