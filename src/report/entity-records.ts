import { sql } from 'kysely';
import { requireService, type MeshConfig } from '../config/mesh-config.js';
import type { Row } from '../config/service-config.js';
import type { Database } from '../db/open-database.js';
import { toCount } from '../db/db-values.js';
import { recordSource } from '../db/record-source.js';
import { recordStates } from './record-states.js';

export interface EntityRecord {
  id: unknown;
  /** As the reports count it. */
  state: 'pending' | 'failed' | 'processed';
  /** The record's own flags, for the detail view. */
  pushSuccess: unknown;
  pushAttempts: number;
  pushNode: string | null;
  pushError: string | null;
  pullSuccess: unknown;
  pullError: string | null;
}

/** One protocol's records of one entity with their states, in (sort, id) order, paged. Reads only. */
export async function entityRecords(
  database: Database,
  config: MeshConfig,
  options: { service: string; protocol: string; entity: string; offset: number; limit: number },
): Promise<{ total: number; records: EntityRecord[] }> {
  const service = requireService(config, options.service);
  const protocol = service.protocols.find((p) => p.name === options.protocol);
  if (protocol === undefined) return { total: 0, records: [] };
  const source = recordSource(database.dialect, service, protocol);
  const { processed, failed } = recordStates(protocol, database.dialect);
  const { flags } = protocol;
  const where = sql`r.${sql.ref(protocol.entityRef ?? protocol.id)} = ${options.entity}`;
  const { rows: counted } = await sql<{ total: unknown }>`select count(*) as total from ${source.from} where ${where}`.execute(database.db);
  const { rows } = await sql<Row & { __processed: unknown; __failed: unknown }>`
    select ${source.columns},
      case when ${processed} then 1 else 0 end as __processed,
      case when ${failed} then 1 else 0 end as __failed
    from ${source.from} where ${where}
    order by ${source.orderBy} limit ${options.limit} offset ${options.offset}`.execute(database.db);
  const text = (value: unknown) => (value === null || value === undefined ? null : String(value));
  return {
    total: toCount(counted[0]?.total),
    records: rows.map((row) => ({
      id: row[protocol.id],
      state: toCount(row.__processed) === 1 ? 'processed' : toCount(row.__failed) === 1 ? 'failed' : 'pending',
      pushSuccess: row[flags.pushSuccess] ?? null,
      pushAttempts: toCount(row[flags.pushAttempts]),
      pushNode: text(row[flags.pushNode]),
      pushError: text(row[flags.pushError]),
      pullSuccess: protocol.pull ? (row[flags.pullSuccess] ?? null) : null,
      pullError: protocol.pull ? text(row[flags.pullError]) : null,
    })),
  };
}
