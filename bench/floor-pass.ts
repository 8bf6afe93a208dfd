import { sql, type RawBuilder } from 'kysely';
import type { ResolvedProtocol, ResolvedService } from '../src/config/mesh-config.js';
import type { Row } from '../src/config/service-config.js';
import { toDbBoolean, toDbTime } from '../src/db/db-values.js';
import type { Database } from '../src/db/open-database.js';
import { afterKey, sortText, type Key } from './keyset.js';
import { passIndex } from './query-plan.js';

const SORT_TEXT = '__floor_sort';

export interface FloorResult {
  records: number;
  seconds: number;
}

interface FloorPassProps {
  database: Database;
  service: ResolvedService;
  protocol: ResolvedProtocol;
  batchSize: number;
  /** The records this pass reads, besides the keyset. */
  where: RawBuilder<unknown>;
  /** The flag columns the pass's index starts with: PostgreSQL needs them in ORDER BY to read the index in order. */
  flagOrder: string[];
  /** The pass's index, named to MariaDB/MySQL (`force index`): at 10 million records it read the pull pass through the push index, from its start for every batch. */
  index: string;
  /** The columns it needs; when left out, the record's own (the first batch reads `*`, the next ones leave the flags out). */
  columns?: string[];
  /** The node a record goes to; its entity's when left out. */
  nodeOfRow?: (row: Row) => string | null | undefined;
  /**
   * `per-node`: one UPDATE per node batch, as a master writes the flags of
   * each node's answer. `per-read`: one UPDATE per batch read, every node's
   * records together in id order: the best schedule a master could use, so
   * that no smarter write order can beat the floor (with many nodes a node's
   * batch is scattered over the table; a read batch is not).
   */
  schedule?: 'per-node' | 'per-read';
  /** Flags (and results) of one node's batch (node null: of a whole read batch, `per-read`), one UPDATE. */
  write(node: string | null, ids: unknown[]): Promise<void>;
}

/**
 * The database work of a push or pull with no HTTP, as the performance notes
 * measure it: one ordered pass over the protocol's records (keyset on the
 * flag index, `batchSize` a query), each record dealt to its entity's node
 * through an in-memory map, and one UPDATE per node batch.
 */
async function floorPass(props: FloorPassProps): Promise<FloorResult> {
  const { database, service, protocol, batchSize } = props;
  const { db, dialect } = database;
  const started = process.hrtime.bigint();
  const entities = await sql<{ id: unknown; node: string | null }>`
    select ${sql.ref(service.entity.id)} as id, ${sql.ref(service.entity.node)} as node from ${sql.table(service.entity.table)}`.execute(
    db,
  );
  const nodeOf = new Map(entities.rows.map((e) => [String(e.id), e.node]));
  const buffers = new Map<string, Row[]>();
  const flush = async (node: string): Promise<void> => {
    const rows = buffers.get(node) ?? [];
    buffers.set(node, []);
    if (rows.length > 0)
      await props.write(
        node,
        rows.map((r) => r[protocol.id]),
      );
  };
  const nodeOfRecord = (row: Row): string | undefined =>
    (props.nodeOfRow?.(row) ?? nodeOf.get(String(row[protocol.entityRef ?? protocol.id]))) || undefined;
  let records = 0;
  let key: Key | null = null;
  let columns = props.columns;
  const flagColumns = new Set<string>(Object.values(protocol.flags));
  for (;;) {
    const conditions: RawBuilder<unknown>[] = [props.where, ...(key ? [afterKey(dialect, protocol.sort, protocol.id, key)] : [])];
    const { rows }: { rows: Row[] } = await sql<Row>`
      select ${columns ? sql.join(columns.map((c) => sql.ref(c))) : sql`*`}, ${sortText(dialect, protocol.sort)} as ${sql.ref(SORT_TEXT)} from ${sql.table(protocol.table)}${dialect === 'mysql' ? sql` force index (${sql.id(props.index)})` : sql``}
      where ${sql.join(conditions, sql` and `)}
      order by ${sql.join([...(dialect === 'postgres' ? props.flagOrder : []), protocol.sort, protocol.id].map((c) => sql.ref(c)))}
      limit ${batchSize}`.execute(db);
    if (rows[0] !== undefined) columns ??= Object.keys(rows[0]).filter((c) => c !== SORT_TEXT && !flagColumns.has(c));
    const assigned = rows.filter((row) => nodeOfRecord(row) !== undefined);
    records += assigned.length;
    if (props.schedule === 'per-read') {
      if (assigned.length > 0)
        await props.write(
          null,
          assigned.map((row) => row[protocol.id]),
        );
    } else {
      for (const row of assigned) {
        const node = nodeOfRecord(row)!;
        const buffer = buffers.get(node) ?? [];
        buffers.set(node, buffer);
        buffer.push(row);
        if (buffer.length >= batchSize) await flush(node);
      }
    }
    if (rows.length < batchSize) break;
    const last: Row = rows[rows.length - 1]!;
    key = { sort: last[SORT_TEXT], id: last[protocol.id] };
  }
  for (const node of buffers.keys()) await flush(node);
  return { records, seconds: Number(process.hrtime.bigint() - started) / 1e9 };
}

/** Push floor: pending records in order, flagged pushed one batch at a time. */
export function floorPush(
  database: Database,
  service: ResolvedService,
  protocol: ResolvedProtocol,
  batchSize: number,
  schedule: 'per-node' | 'per-read' = 'per-node',
): Promise<FloorResult> {
  const { dialect, db } = database;
  const { flags } = protocol;
  const { entity } = service;
  // A read batch holds every node's records: each record's node is its entity's, one primary-key lookup.
  const entityNode = sql`(select e.${sql.ref(entity.node)} from ${sql.table(entity.table)} e where e.${sql.ref(entity.id)} = ${sql.table(protocol.table)}.${sql.ref(protocol.entityRef ?? protocol.id)})`;
  return floorPass({
    database,
    service,
    protocol,
    batchSize,
    schedule,
    where: sql`${sql.ref(flags.pushSuccess)} is null`,
    flagOrder: [flags.pushSuccess],
    index: passIndex(protocol, 'push'),
    write: async (node, ids) => {
      await sql`
        update ${sql.table(protocol.table)} set
          ${sql.ref(flags.pushSuccess)} = ${toDbBoolean(dialect, true)},
          ${sql.ref(flags.pushTime)} = ${toDbTime(dialect, new Date())},
          ${sql.ref(flags.pushError)} = null,
          ${sql.ref(flags.pushNode)} = ${node ?? entityNode},
          ${sql.ref(flags.pushAttempts)} = ${sql.ref(flags.pushAttempts)} + 1
        where ${sql.ref(protocol.id)} in (${sql.join(ids)})`.execute(db);
    },
  });
}

/**
 * Pull floor: pushed, unpulled records in order; each batch's results and
 * pull flags written in one UPDATE (a 64-character result per record, as
 * the demo nodes answer).
 */
export function floorPull(
  database: Database,
  service: ResolvedService,
  protocol: ResolvedProtocol,
  batchSize: number,
  resultColumn: string,
  schedule: 'per-node' | 'per-read' = 'per-node',
): Promise<FloorResult> {
  const { dialect, db } = database;
  const { flags } = protocol;
  const id = sql.ref(protocol.id);
  return floorPass({
    database,
    service,
    protocol,
    batchSize,
    where: sql`${sql.ref(flags.pullSuccess)} is null and ${sql.ref(flags.pushSuccess)} = ${toDbBoolean(dialect, true)}`,
    flagOrder: [flags.pullSuccess, flags.pushSuccess],
    index: passIndex(protocol, 'pull'),
    schedule,
    // A pull needs the records' keys only: the id, and the node it was delivered to (else its entity's).
    columns: [protocol.id, flags.pushNode, ...(protocol.entityRef ? [protocol.entityRef] : [])],
    nodeOfRow: (row) => row[flags.pushNode] as string | null,
    write: async (_node, ids) => {
      const hash = (i: unknown) => String(i).padStart(64, '0');
      const set = sql`${sql.ref(flags.pullSuccess)} = ${toDbBoolean(dialect, true)},
          ${sql.ref(flags.pullTime)} = ${toDbTime(dialect, new Date())},
          ${sql.ref(flags.pullError)} = null`;
      const table = sql.table(protocol.table);
      if (dialect === 'sqlite') {
        // SQLite evaluates a CASE of 500 WHENs as a linear search per row; a VALUES list joined on the id does not.
        const values = ids.map((i) => sql`(${i}, ${hash(i)})`);
        await sql`
          with v(k, h) as (values ${sql.join(values)})
          update ${table} set ${sql.ref(resultColumn)} = v.h, ${set}
          from v where ${table}.${id} = v.k`.execute(db);
        return;
      }
      const whens = ids.map((i) => sql`when ${i} then ${hash(i)}`);
      await sql`
        update ${table} set ${sql.ref(resultColumn)} = case ${id} ${sql.join(whens, sql` `)} end, ${set}
        where ${id} in (${sql.join(ids)})`.execute(db);
    },
  });
}
