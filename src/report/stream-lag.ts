import { sql, type RawBuilder } from 'kysely';
import type { MeshConfig, ResolvedProtocol, ResolvedService } from '../config/mesh-config.js';
import { toDbBoolean } from '../db/db-values.js';
import type { DialectName } from '../db/database-url.js';
import type { Database } from '../db/open-database.js';
import { flagIndexHints, NO_HINTS, type FlagIndexHints } from '../db/flag-index-hints.js';
import { recordSource } from '../db/record-source.js';

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
      const byNode = await oldestPending(database, service, protocol);
      const nodes = new Set([...config.nodes.filter((n) => Object.hasOwn(n.services, service.name)).map((n) => n.name), ...byNode.keys()]);
      for (const node of nodes) {
        const oldest = byNode.get(node) ?? null;
        lags.push({ service: service.name, protocol: protocol.name, node, oldestPending: oldest, lagMs: ageOf(oldest, now) });
      }
    }
  }
  return lags;
}

/**
 * The smallest sort value of the pending records per entity node, read
 * through the index ranges push and pull read (work in flight, never the
 * whole table): not delivered and never failed (`push_success IS NULL`),
 * and, with a pull, delivered and not pulled nor failed.
 */
async function oldestPending(database: Database, service: ResolvedService, protocol: ResolvedProtocol): Promise<Map<string, unknown>> {
  const oldest = new Map<string, unknown>();
  const hints = await flagIndexHints(database.db, database.dialect, protocol);
  for (const query of oldestPendingQueries(database.dialect, service, protocol, hints)) {
    for (const row of (await query.execute(database.db)).rows) {
      const node = String(row.node);
      const known = oldest.get(node);
      if (row.oldest !== null && (known === undefined || known === null || compareSort(row.oldest, known) < 0))
        oldest.set(node, row.oldest);
      else if (known === undefined) oldest.set(node, row.oldest);
    }
  }
  return oldest;
}

/** The lag's queries, one per index range (exported for the plan test): node, oldest sort value. */
export function oldestPendingQueries(
  dialect: DialectName,
  service: ResolvedService,
  protocol: ResolvedProtocol,
  hints: FlagIndexHints = NO_HINTS,
): RawBuilder<{ node: unknown; oldest: unknown }>[] {
  const { flags } = protocol;
  const f = (column: string) => sql.ref(`r.${column}`);
  const notPulled = sql`${f(flags.pullSuccess)} is null and ${f(flags.pullError)} is null`;
  const ranges = [
    {
      where: protocol.pull
        ? sql`${f(flags.pushSuccess)} is null and ${f(flags.pushError)} is null and ${notPulled}`
        : sql`${f(flags.pushSuccess)} is null and ${f(flags.pushError)} is null`,
      hint: hints.push,
    },
  ];
  if (protocol.pull)
    ranges.push({ where: sql`${notPulled} and ${f(flags.pushSuccess)} = ${toDbBoolean(dialect, true)}`, hint: hints.pull });
  return ranges.map(({ where, hint }) => {
    const source = recordSource(dialect, service, protocol, 'entity', hint);
    return sql<{ node: unknown; oldest: unknown }>`
      select ${source.node} as node, min(${f(protocol.sort)}) as oldest from ${source.from}
      where ${where} and ${source.node} is not null
      group by ${source.node}`;
  });
}

/** Sort values as the drivers return them: Date, number, bigint or text. */
function compareSort(a: unknown, b: unknown): number {
  if (a instanceof Date && b instanceof Date) return a.getTime() - b.getTime();
  if ((typeof a === 'number' || typeof a === 'bigint') && (typeof b === 'number' || typeof b === 'bigint'))
    return a < b ? -1 : a > b ? 1 : 0;
  const x = String(a);
  const y = String(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

function ageOf(value: unknown, now: number): number | null {
  if (value === null || value === undefined) return 0;
  // Dates come back as Date (MySQL, PostgreSQL) or as ISO 8601 text (SQLite); a number sort is not a time.
  const time =
    value instanceof Date ? value.getTime() : typeof value === 'string' && /^\d{4}-\d{2}-\d{2}/.test(value) ? Date.parse(value) : NaN;
  return Number.isNaN(time) ? null : Math.max(0, now - time);
}
