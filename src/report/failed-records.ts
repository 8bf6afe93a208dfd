import { sql, type RawBuilder } from 'kysely';
import type { MeshConfig, ResolvedProtocol, ResolvedService } from '../config/mesh-config.js';
import type { DialectName } from '../db/database-url.js';
import type { Row } from '../config/service-config.js';
import type { Database } from '../db/open-database.js';
import { flagIndexHints, NO_HINTS, type FlagIndexHints } from '../db/flag-index-hints.js';
import { NODE_ALIAS, recordSource } from '../db/record-source.js';
import { failedRanges } from './record-states.js';

export interface FailedRecord {
  service: string;
  protocol: string;
  id: unknown;
  node: string | null;
  /** `dead`: gave up after maxAttempts, waits for `mesh retry`; `push`/`pull`: the last try failed. */
  state: 'dead' | 'push' | 'pull';
  attempts: number;
  error: string | null;
}

/** A failed record as a report shows it, from a row read through recordSource. */
export function toFailedRecord(service: string, protocol: ResolvedProtocol, row: Row): FailedRecord {
  const { flags } = protocol;
  const pushSuccess = row[flags.pushSuccess];
  // FALSE comes back as false (PostgreSQL) or 0 (MySQL, SQLite).
  const dead = pushSuccess === false || pushSuccess === 0;
  const pushFailed = pushSuccess === null || pushSuccess === undefined;
  return {
    service,
    protocol: protocol.name,
    id: row[protocol.id],
    node: (row[NODE_ALIAS] as string | null) ?? null,
    state: dead ? 'dead' : pushFailed ? 'push' : 'pull',
    attempts: Number(row[flags.pushAttempts] ?? 0),
    error: ((dead || pushFailed ? row[flags.pushError] : row[flags.pullError]) as string | null) ?? null,
  };
}

/** `mesh failed`: the failed records, oldest first, at most `limit` per protocol, narrowed by the filters given. Reads only. */
export async function failedRecords(
  database: Database,
  config: MeshConfig,
  options: { service?: string; node?: string; protocol?: string; entity?: string; limit: number },
): Promise<FailedRecord[]> {
  const found: FailedRecord[] = [];
  for (const service of config.services.filter((s) => options.service === undefined || s.name === options.service)) {
    for (const protocol of service.protocols.filter((p) => options.protocol === undefined || p.name === options.protocol)) {
      const hints = await flagIndexHints(database.db, database.dialect, protocol);
      const { rows } = await failedRecordsQuery(database.dialect, service, protocol, options, hints).execute(database.db);
      for (const row of rows) found.push(toFailedRecord(service.name, protocol, row));
    }
  }
  return found;
}

/** One protocol's failed records, oldest first, at most `limit`: a UNION ALL of the failed index ranges (exported for the plan test). */
export function failedRecordsQuery(
  dialect: DialectName,
  service: ResolvedService,
  protocol: ResolvedProtocol,
  options: { node?: string; entity?: string; limit: number },
  hints: FlagIndexHints = NO_HINTS,
): RawBuilder<Row> {
  const members = failedRanges(protocol, dialect).map(({ where, index }) => {
    const source = recordSource(dialect, service, protocol, 'entity', hints[index]);
    const conditions = [where];
    if (options.node !== undefined) conditions.push(sql`${source.node} = ${options.node}`);
    if (options.entity !== undefined) conditions.push(sql`r.${sql.ref(protocol.entityRef ?? protocol.id)} = ${options.entity}`);
    return sql`select ${source.columns} from ${source.from} where ${sql.join(conditions, sql` and `)}`;
  });
  const union = sql.join(members, sql` union all `);
  return sql<Row>`
    select * from (${union}) u
    order by u.${sql.ref(protocol.sort)}, u.${sql.ref(protocol.id)}
    limit ${options.limit}`;
}
