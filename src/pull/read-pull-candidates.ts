import { sql } from 'kysely';
import type { ResolvedProtocol, ResolvedService } from '../config/mesh-config.js';
import type { Db, Row } from '../config/service-config.js';
import type { DialectName } from '../db/database-url.js';
import { toDbBoolean } from '../db/db-values.js';
import { recordSource, SORT_ALIAS, type Cursor } from '../db/record-source.js';

/**
 * Where the node's last processed record stands in `(sort, id)` order; null
 * when the id is unknown here (the status is a hint, never proof).
 */
export async function readRecordKey(db: Db, dialect: DialectName, service: ResolvedService, protocol: ResolvedProtocol, id: unknown): Promise<Cursor | null> {
  const source = recordSource(dialect, service, protocol);
  const { rows } = await sql<Row>`
    select ${source.columns} from ${source.from}
    where r.${sql.ref(protocol.id)} = ${id}`.execute(db);
  const row = rows[0];
  return row ? { sort: row[SORT_ALIAS], id: row[protocol.id] } : null;
}

export interface PullCandidatesQuery {
  after: Cursor | null;
  /** Each node's bound: only its records up to that key (null: no bound). */
  bounds: Map<string, Cursor | null>;
  limit: number;
}

/**
 * The next records pushed successfully and not pulled yet, in `(sort, id)`
 * order, of entities on the given nodes, each up to its node's bound. One
 * query per batch, a range of the `(pull_success, push_success, sort, id)` index.
 */
export async function readPullCandidates(
  db: Db,
  dialect: DialectName,
  service: ResolvedService,
  protocol: ResolvedProtocol,
  query: PullCandidatesQuery,
): Promise<Row[]> {
  const source = recordSource(dialect, service, protocol);
  const perNode = [...query.bounds].map(([node, bound]) =>
    bound === null ? sql`${source.node} = ${node}` : sql`(${source.node} = ${node} and ${source.notAfter(bound)})`,
  );
  const conditions = [
    sql`r.${sql.ref(protocol.flags.pullSuccess)} is null`,
    sql`r.${sql.ref(protocol.flags.pushSuccess)} = ${toDbBoolean(dialect, true)}`,
    sql`(${sql.join(perNode, sql` or `)})`,
  ];
  if (query.after) conditions.push(source.after(query.after));
  const { rows } = await sql<Row>`
    select ${source.columns} from ${source.from}
    where ${sql.join(conditions, sql` and `)}
    order by ${source.orderBy}
    limit ${query.limit}`.execute(db);
  return rows;
}
