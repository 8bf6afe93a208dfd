import { sql, type RawBuilder } from 'kysely';
import type { MeshConfig, ResolvedProtocol, ResolvedService } from '../config/mesh-config.js';
import type { DialectName } from '../db/database-url.js';
import type { Row } from '../config/service-config.js';
import type { Database } from '../db/open-database.js';
import { flagIndexHints, NO_HINTS, type FlagIndexHints } from '../db/flag-index-hints.js';
import { NODE_ALIAS, recordSource, type RecordSource } from '../db/record-source.js';
import { failedRanges, type FailedRange } from './record-states.js';

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
  const members = failedMembers(dialect, service, protocol, failedRanges(protocol, dialect), hints, (source) => {
    const conditions: RawBuilder<unknown>[] = [];
    if (options.node !== undefined) conditions.push(sql`${source.node} = ${options.node}`);
    if (options.entity !== undefined) conditions.push(sql`r.${sql.ref(protocol.entityRef ?? protocol.id)} = ${options.entity}`);
    return conditions;
  });
  return sql<Row>`${oldestFirst(protocol, members)} limit ${options.limit}`;
}

/** One range of failed records as a query part: `from ... where ...`, and the columns to select. */
export interface FailedMember {
  from: RawBuilder<unknown>;
  columns: RawBuilder<unknown>;
}

/** The ranges, each through its own index hint, narrowed by `narrow`'s conditions on the record source. */
export function failedMembers(
  dialect: DialectName,
  service: ResolvedService,
  protocol: ResolvedProtocol,
  ranges: readonly FailedRange[],
  hints: FlagIndexHints,
  narrow: (source: RecordSource) => RawBuilder<unknown>[],
): FailedMember[] {
  return ranges.map(({ where, index }) => {
    const source = recordSource(dialect, service, protocol, 'entity', hints[index]);
    return { from: sql`from ${source.from} where ${sql.join([where, ...narrow(source)], sql` and `)}`, columns: source.columns };
  });
}

/** The members' records, UNION ALL, oldest first (add the LIMIT). */
export function oldestFirst(protocol: ResolvedProtocol, members: readonly FailedMember[]): RawBuilder<Row> {
  const union = sql.join(
    members.map((member) => sql`select ${member.columns} ${member.from}`),
    sql` union all `,
  );
  return sql<Row>`select * from (${union}) u order by u.${sql.ref(protocol.sort)}, u.${sql.ref(protocol.id)}`;
}
