import { sql, type RawBuilder } from 'kysely';
import type { ResolvedProtocol, ResolvedService } from '../config/mesh-config.js';
import type { Db } from '../config/service-config.js';
import type { DialectName } from './database-url.js';
import { ignoringConflicts } from './ignore-conflicts.js';
import { chunksOf } from './statement-chunks.js';
import { toCount, toDbBoolean } from './db-values.js';
import { readState, writeState } from './state-store.js';

/**
 * The states kept as counters in workmesh_record_counts (migration 0004):
 * the records whose work is done, which only grow with the tables.
 * - processed: pulled successfully; for a protocol with no pull, delivered;
 * - failed: the node reported a processing error for it (pull_success FALSE).
 * Everything else (pending, delivered and not pulled yet, a failed try, dead
 * before delivery) is work in flight, counted live by src/report/live-counts.ts.
 */
export type CountedState = 'processed' | 'failed';

/**
 * The node of done records that have none: delivered before push_node was
 * recorded, of an entity no node has now. They count for their service, at
 * no node, as a full count has them.
 */
export const NO_NODE = '';

/** Records that entered (`records` > 0) or left (< 0) a counted state at a node. */
export interface CountChange {
  node: string;
  state: CountedState;
  records: number;
}

const TABLE = 'workmesh_record_counts';

/** The counter rows' key order, in which every transaction takes them: two never wait on each other. */
const byNodeAndState = (a: { node: string; state: string }, b: { node: string; state: string }): number =>
  a.node === b.node ? a.state.localeCompare(b.state) : a.node < b.node ? -1 : 1;

/**
 * The record's counted state as an SQL expression over the record table
 * (aliased `r`, or named by `table`), NULL when not counted, as the counters hold it.
 */
export function countedStateOf(protocol: ResolvedProtocol, dialect: DialectName, table = 'r'): RawBuilder<unknown> {
  const { flags } = protocol;
  if (!protocol.pull) {
    return sql`(case when ${sql.ref(`${table}.${flags.pushSuccess}`)} = ${toDbBoolean(dialect, true)} then 'processed' end)`;
  }
  const pulled = sql.ref(`${table}.${flags.pullSuccess}`);
  return sql`(case when ${pulled} = ${toDbBoolean(dialect, true)} then 'processed' when ${pulled} = ${toDbBoolean(dialect, false)} then 'failed' end)`;
}

/**
 * Adds the changes to the counters, in the caller's transaction: the one
 * that wrote the flags, so that a crash, a rollback or a second master never
 * leaves the counters and the records apart. Rows are changed in (node,
 * state) order in every transaction, so that two transactions that both
 * hold counter rows cannot wait on each other.
 */
export async function addRecordCounts(
  db: Db,
  dialect: DialectName,
  service: ResolvedService,
  protocol: ResolvedProtocol,
  changes: readonly CountChange[],
): Promise<void> {
  const merged = new Map<string, CountChange>();
  for (const change of changes) {
    const key = JSON.stringify([change.node, change.state]);
    const into = merged.get(key);
    if (into) into.records += change.records;
    else merged.set(key, { ...change });
  }
  const ordered = [...merged.values()].filter((c) => c.records !== 0).sort(byNodeAndState);
  for (const change of ordered) {
    const row = { service: service.name, protocol: protocol.name, node: change.node, state: change.state, records: change.records };
    const updated = await db
      .updateTable(TABLE)
      .set({ records: sql`${sql.ref('records')} + ${change.records}` })
      .where('service', '=', row.service)
      .where('protocol', '=', row.protocol)
      .where('node', '=', row.node)
      .where('state', '=', row.state)
      .executeTakeFirst();
    if (Number(updated.numUpdatedRows) > 0) continue;
    // The first count at this node: an upsert, in case another master inserts the same row meanwhile.
    const insert = db.insertInto(TABLE).values(row);
    await (
      dialect === 'mysql'
        ? insert.onDuplicateKeyUpdate({ records: sql`${sql.ref('records')} + values(${sql.ref('records')})` })
        : insert.onConflict((oc) =>
            oc
              .columns(['service', 'protocol', 'node', 'state'])
              .doUpdateSet({ records: sql`${sql.ref(`${TABLE}.records`)} + excluded.records` }),
          )
    ).execute();
  }
}

/**
 * Creates the protocol's counter rows of these nodes (zero) where missing,
 * in autocommitted statements of STATEMENT_CHUNK rows in key order, before
 * a run writes flags: the transactions that write flags then only ever
 * update rows that exist. On MySQL, two such transactions that each
 * inserted a first row would take gap locks and deadlock; two masters
 * inserting the same rows here take them in the same order, as the leases
 * do. (One statement a row cost MariaDB 0.6 s for a first pull at 1,000
 * nodes.)
 */
export async function ensureRecordCountRows(
  db: Db,
  dialect: DialectName,
  service: ResolvedService,
  protocol: ResolvedProtocol,
  nodes: readonly string[],
): Promise<void> {
  const states: CountedState[] = protocol.pull ? ['failed', 'processed'] : ['processed'];
  const rows = nodes.flatMap((node) =>
    states.map((state) => ({ service: service.name, protocol: protocol.name, node, state, records: 0 })),
  );
  if (rows.length === 0) return;
  const existing = await db
    .selectFrom(TABLE)
    .select(['node', 'state'])
    .where('service', '=', service.name)
    .where('protocol', '=', protocol.name)
    .execute();
  const have = new Set(existing.map((row) => JSON.stringify([String(row.node), String(row.state)])));
  const missing = rows.filter((r) => !have.has(JSON.stringify([r.node, r.state]))).sort(byNodeAndState);
  for (const chunk of chunksOf(missing)) await ignoringConflicts(db.insertInto(TABLE).values(chunk), dialect).execute();
}

/** The counters of one protocol, per node; `lock` takes them FOR UPDATE (recount). */
export async function readRecordCounts(
  db: Db,
  service: ResolvedService,
  protocol: ResolvedProtocol,
  options: { lock?: boolean } = {},
): Promise<CountChange[]> {
  let query = db
    .selectFrom(TABLE)
    .select(['node', 'state', 'records'])
    .where('service', '=', service.name)
    .where('protocol', '=', protocol.name);
  if (options.lock) query = query.forUpdate();
  const rows = await query.execute();
  return rows.map((row) => ({ node: String(row.node), state: row.state as CountedState, records: toCount(row.records) }));
}

/** `mesh rename-node`: the counters of `from` are added to those of `to`, in the rename's transaction. */
export async function renameNodeCounts(db: Db, dialect: DialectName, service: ResolvedService, from: string, to: string): Promise<void> {
  for (const protocol of service.protocols) {
    const counts = (await readRecordCounts(db, service, protocol, { lock: dialect !== 'sqlite' })).filter((c) => c.node === from);
    if (counts.length === 0) continue;
    const moved = counts.flatMap((c) => [
      { node: from, state: c.state, records: -c.records },
      { node: to, state: c.state, records: c.records },
    ]);
    await addRecordCounts(db, dialect, service, protocol, moved);
    await db.deleteFrom(TABLE).where('service', '=', service.name).where('protocol', '=', protocol.name).where('node', '=', from).execute();
  }
}

/**
 * What the counters were built for: the protocol's table and flag columns.
 * The reports trust the counters of a protocol only while this matches the
 * configuration (recount writes it), so that a protocol added or pointed at
 * another table is counted in full until `mesh recount` (or `mesh migrate`)
 * has built its counters.
 */
function countsBuiltFor(protocol: ResolvedProtocol): string {
  return JSON.stringify({ table: protocol.table, id: protocol.id, flags: protocol.flags, pull: protocol.pull !== undefined });
}

const builtKey = (service: ResolvedService, protocol: ResolvedProtocol) => `counts:${service.name}:${protocol.name}`;

/** True when the protocol's counters were built (recount) for its configuration as it is. */
export async function recordCountsBuilt(db: Db, service: ResolvedService, protocol: ResolvedProtocol): Promise<boolean> {
  return (await readState(db, builtKey(service, protocol))) === countsBuiltFor(protocol);
}

/** Records that the protocol's counters now match its records; call in the recount's transaction. */
export async function markRecordCountsBuilt(db: Db, service: ResolvedService, protocol: ResolvedProtocol): Promise<void> {
  await writeState(db, builtKey(service, protocol), countsBuiltFor(protocol));
}
