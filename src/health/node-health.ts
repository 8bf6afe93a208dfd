import type { Db } from '../config/service-config.js';
import { toCount } from '../db/db-values.js';

/** A node's health as the masters share it in `workmesh_node_health`. */
export interface NodeHealth {
  node: string;
  /** Epoch ms of the first failure in the current run of failures; null when the node is ok. */
  failingSince: number | null;
  /** Failures in a row since the last success. */
  failures: number;
  lastError: string | null;
  /** Epoch ms before which no master calls the node; null when it is ok. */
  nextTryAt: number | null;
  lastSuccessAt: number | null;
}

/** Every node's recorded health (a node never recorded is ok). Reads only. */
export async function readNodeHealth(db: Db): Promise<Map<string, NodeHealth>> {
  const rows = await db.selectFrom('workmesh_node_health').selectAll().execute();
  return new Map(
    rows.map((row) => {
      const health: NodeHealth = {
        node: String(row.node),
        failingSince: nullableNumber(row.failing_since),
        failures: toCount(row.failures),
        lastError: row.last_error === null || row.last_error === undefined ? null : String(row.last_error),
        nextTryAt: nullableNumber(row.next_try_at),
        lastSuccessAt: nullableNumber(row.last_success_at),
      };
      return [health.node, health];
    }),
  );
}

function nullableNumber(value: unknown): number | null {
  return value === null || value === undefined ? null : Number(value);
}
