import { sql } from 'kysely';
import type { MeshConfig, ResolvedProtocol, ResolvedService } from '../config/mesh-config.js';
import type { Db } from '../config/service-config.js';
import { countingSource } from './counting-source.js';
import type { DialectName } from './database-url.js';
import { toCount } from './db-values.js';
import type { Database } from './open-database.js';
import {
  addRecordCounts,
  countedStateOf,
  markRecordCountsBuilt,
  readRecordCounts,
  recordCountsBuilt,
  NO_NODE,
  type CountChange,
  type CountedState,
} from './record-counts.js';

/** One counter that did not match its records: what it held, and what the records say. */
export interface CountCorrection {
  service: string;
  protocol: string;
  node: string;
  state: CountedState;
  was: number;
  now: number;
}

export interface ProtocolRecount {
  service: string;
  protocol: string;
  /** False when the protocol's counters had never been built for its configuration as it is (a new install, a new protocol). */
  wasBuilt: boolean;
  /** Records found in a counted state. */
  counted: number;
  corrections: CountCorrection[];
}

/**
 * `mesh recount`: counts each protocol's done records from the records
 * themselves and sets the counters (record-counts.ts) to match, for records
 * the SaaS deleted or changed behind the master's back. One transaction per
 * protocol, holding the protocol's counters while it counts, so that a run
 * writing flags meanwhile waits and then adds to the rebuilt counters (it is
 * neither lost nor counted twice). `dryRun` counts and writes nothing.
 * `onlyUnbuilt`: just the protocols whose counters were never built (migrate).
 */
export async function rebuildRecordCounts(
  database: Database,
  config: MeshConfig,
  options: { service?: string; dryRun?: boolean; onlyUnbuilt?: boolean } = {},
): Promise<ProtocolRecount[]> {
  const results: ProtocolRecount[] = [];
  for (const service of config.services.filter((s) => options.service === undefined || s.name === options.service)) {
    for (const protocol of service.protocols) {
      const recount = async (db: Db): Promise<ProtocolRecount | null> => {
        const wasBuilt = await recordCountsBuilt(db, service, protocol);
        if (wasBuilt && options.onlyUnbuilt) return null;
        if (!options.dryRun) await lockCounters(db, database.dialect);
        const held = await readRecordCounts(db, service, protocol, { lock: !options.dryRun && database.dialect === 'mysql' });
        const found = await countDoneRecords(db, database.dialect, service, protocol);
        const corrections = compare(service, protocol, held, found);
        if (!options.dryRun) {
          await addRecordCounts(
            db,
            database.dialect,
            service,
            protocol,
            corrections.map((c) => ({ node: c.node, state: c.state, records: c.now - c.was })),
          );
          await markRecordCountsBuilt(db, service, protocol);
        }
        const counted = found.reduce((sum, c) => sum + c.records, 0);
        return { service: service.name, protocol: protocol.name, wasBuilt, counted, corrections };
      };
      const result = options.dryRun ? await recount(database.db) : await database.db.transaction().execute(recount);
      if (result !== null) results.push(result);
    }
  }
  return results;
}

/**
 * Makes every flag write that would change these counters wait until the
 * recount commits. PostgreSQL: the counters table, in a mode that lets reads
 * through. MySQL: the protocol's counter rows and the gaps between them (a
 * locking read under REPEATABLE READ), taken by readRecordCounts. SQLite:
 * the transaction holds the only write lock from its start.
 */
async function lockCounters(db: Db, dialect: DialectName): Promise<void> {
  if (dialect === 'postgres') await sql`lock table workmesh_record_counts in share row exclusive mode`.execute(db);
}

/**
 * The protocol's records in a counted state, per node, as recountRecords
 * (src/report/count-records.ts) places them: a delivered record at the node
 * it went to, any other at its entity's node. One GROUP BY over the table.
 */
async function countDoneRecords(
  db: Db,
  dialect: DialectName,
  service: ResolvedService,
  protocol: ResolvedProtocol,
): Promise<CountChange[]> {
  const { from, workNode: node } = countingSource(dialect, service, protocol);
  const state = countedStateOf(protocol, dialect);
  const { rows } = await sql<{ node: unknown; state: unknown; n: unknown }>`
    select ${node} as node, ${state} as state, count(*) as n from ${from} group by 1, 2`.execute(db);
  return rows
    .filter((row) => row.state !== null)
    .map((row) => ({ node: row.node === null ? NO_NODE : String(row.node), state: row.state as CountedState, records: toCount(row.n) }));
}

function compare(
  service: ResolvedService,
  protocol: ResolvedProtocol,
  held: readonly CountChange[],
  found: readonly CountChange[],
): CountCorrection[] {
  const key = (c: CountChange) => JSON.stringify([c.node, c.state]);
  const was = new Map(held.map((c) => [key(c), c]));
  const now = new Map(found.map((c) => [key(c), c]));
  const corrections: CountCorrection[] = [];
  for (const k of new Set([...was.keys(), ...now.keys()])) {
    const before = was.get(k)?.records ?? 0;
    const after = now.get(k)?.records ?? 0;
    if (before === after) continue;
    const { node, state } = (was.get(k) ?? now.get(k))!;
    corrections.push({ service: service.name, protocol: protocol.name, node, state, was: before, now: after });
  }
  return corrections.sort((a, b) => (a.node === b.node ? a.state.localeCompare(b.state) : a.node < b.node ? -1 : 1));
}
