import { sql } from 'kysely';
import type { MeshConfig } from '../config/mesh-config.js';
import type { Database } from '../db/open-database.js';
import { recordSource } from '../db/record-source.js';
import { recordStates } from './record-states.js';

export interface StreamLag {
  service: string;
  protocol: string;
  node: string;
  /** Age in ms of the oldest pending record, by its sort value; 0 when none is pending; null when the sort is not a time. */
  lagMs: number | null;
  /** The oldest pending record's sort value as the database returned it, null when none is pending. */
  oldestPending: unknown;
}

/**
 * Per (service, protocol, node): the age of the oldest pending record, the
 * lag an operator watches (as Kafka users watch consumer lag). Pending as in
 * the reports: neither processed nor failed, on an assigned entity. The age is
 * read from the protocol's sort column when it holds times. Reads only.
 */
export async function streamLags(database: Database, config: MeshConfig, now = Date.now()): Promise<StreamLag[]> {
  const lags: StreamLag[] = [];
  for (const service of config.services) {
    for (const protocol of service.protocols) {
      const source = recordSource(database.dialect, service, protocol);
      const { processed, failed } = recordStates(protocol, database.dialect);
      const sort = sql.ref(`r.${protocol.sort}`);
      // The states are tested with CASE, as countRecords does: a flag still NULL makes `not (...)` NULL, not true.
      const { rows } = await sql<{ node: string; oldest: unknown }>`
        select ${source.node} as node, min(${sort}) as oldest from ${source.from}
        where ${source.node} is not null and (case when ${processed} then 0 when ${failed} then 0 else 1 end) = 1
        group by ${source.node}`.execute(database.db);
      const byNode = new Map(rows.map((row) => [String(row.node), row.oldest]));
      const nodes = new Set([...config.nodes.filter((n) => Object.hasOwn(n.services, service.name)).map((n) => n.name), ...byNode.keys()]);
      for (const node of nodes) {
        const oldest = byNode.get(node) ?? null;
        lags.push({ service: service.name, protocol: protocol.name, node, oldestPending: oldest, lagMs: ageOf(oldest, now) });
      }
    }
  }
  return lags;
}

function ageOf(value: unknown, now: number): number | null {
  if (value === null || value === undefined) return 0;
  // Dates come back as Date (MySQL, PostgreSQL) or as ISO 8601 text (SQLite); a number sort is not a time.
  const time =
    value instanceof Date ? value.getTime() : typeof value === 'string' && /^\d{4}-\d{2}-\d{2}/.test(value) ? Date.parse(value) : NaN;
  return Number.isNaN(time) ? null : Math.max(0, now - time);
}
