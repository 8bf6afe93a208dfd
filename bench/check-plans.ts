import type { ResolvedProtocol, ResolvedService } from '../src/config/mesh-config.js';
import { flagIndexHints } from '../src/db/flag-index-hints.js';
import type { Database } from '../src/db/open-database.js';
import type { PullBound } from '../src/pull/pull-bounds.js';
import { pullCandidatesQuery } from '../src/pull/read-pull-candidates.js';
import { pendingBatchQuery } from '../src/push/read-pending-batch.js';
import { checkQueryPlan, passIndex, type PlanCheck } from './query-plan.js';

/**
 * EXPLAIN of the push pending query (before the push: everything pending)
 * or the pull candidate query (after it: everything delivered, nothing
 * pulled), from the first batch and from a cursor in the middle of the table,
 * compiled by the engine's own builders, with the index hints the engine
 * gives them (MySQL).
 */
export async function checkPlans(
  database: Database,
  service: ResolvedService,
  protocol: ResolvedProtocol,
  nodes: string[],
  records: number,
  stage: 'push' | 'pull',
): Promise<Record<string, PlanCheck>> {
  const { dialect } = database;
  const hints = await flagIndexHints(database.db, dialect, protocol);
  const key = async (order: 'asc' | 'desc', id?: number) => {
    let query = database.db.selectFrom(protocol.table).select([protocol.sort, protocol.id]);
    if (id !== undefined) query = query.where(protocol.id, '=', id);
    const row = await query.orderBy(protocol.sort, order).orderBy(protocol.id, order).limit(1).executeTakeFirstOrThrow();
    return { sort: row[protocol.sort], id: row[protocol.id] };
  };
  const after = await key('asc', Math.ceil(records / 2));
  const limit = protocol.batchSize;
  // The push index gives the pull query its order too (push_success = TRUE, then sort, id); either is a range.
  const indexes = stage === 'push' ? [passIndex(protocol, 'push')] : [passIndex(protocol, 'pull'), passIndex(protocol, 'push')];
  const first = { indexes };
  const next = { indexes, rangeOn: protocol.sort };
  if (stage === 'push') {
    return {
      // A pass reads the NULL sorts first, then the rest from its start (record-source.ts): both phases are checked.
      'push, first batch': await checkQueryPlan(
        database,
        pendingBatchQuery(dialect, service, protocol, { after: null, nodes, limit, indexHint: hints.push }),
        first,
      ),
      'push, first sorted batch': await checkQueryPlan(
        database,
        pendingBatchQuery(dialect, service, protocol, { after: null, nodes, limit, indexHint: hints.push }, 'sorted'),
        first,
      ),
      'push, after a cursor': await checkQueryPlan(
        database,
        pendingBatchQuery(dialect, service, protocol, { after, nodes, limit, indexHint: hints.push }),
        next,
      ),
    };
  }
  const last = await key('desc');
  const bounds = { byNode: new Map<string, PullBound | null>(nodes.map((n) => [n, last])), ordered: last ? [last] : [] };
  return {
    'pull, first batch': await checkQueryPlan(
      database,
      pullCandidatesQuery(dialect, service, protocol, { after: null, bounds, limit, indexHint: hints.pull }),
      first,
    ),
    'pull, first sorted batch': await checkQueryPlan(
      database,
      pullCandidatesQuery(dialect, service, protocol, { after: null, bounds, limit, indexHint: hints.pull }, 'sorted'),
      first,
    ),
    'pull, after a cursor': await checkQueryPlan(
      database,
      pullCandidatesQuery(dialect, service, protocol, { after, bounds, limit, indexHint: hints.pull }),
      next,
    ),
  };
}
