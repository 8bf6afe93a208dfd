import type { Database } from '../../src/db/open-database.js';
import { readNodeHealth, type NodeHealth } from '../../src/health/node-health.js';

/**
 * Makes sure `workmesh_node_health` says `node` is failing, as a run that
 * failed by the node's fault leaves it: when the engine already wrote the
 * row (the run's own back-off), it is kept; else one is written here the same
 * way (first failure now, one failure, the error, a back-off). Returns the
 * row as the engine's reader reads it.
 */
export async function ensureNodeFailing(database: Database, node: string, error: string, backoffMs = 60_000): Promise<NodeHealth> {
  const recorded = (await readNodeHealth(database.db)).get(node);
  if (recorded?.failingSince !== null && recorded?.failingSince !== undefined) return recorded;
  const now = Date.now();
  await database.db.deleteFrom('workmesh_node_health').where('node', '=', node).execute();
  await database.db
    .insertInto('workmesh_node_health')
    .values({
      node,
      failing_since: now,
      failures: 1,
      last_error: error,
      next_try_at: now + backoffMs,
      last_success_at: recorded?.lastSuccessAt ?? null,
    })
    .execute();
  return (await readNodeHealth(database.db)).get(node)!;
}
