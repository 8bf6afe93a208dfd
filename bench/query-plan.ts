import { sql, type RawBuilder } from 'kysely';
import type { ResolvedProtocol } from '../src/config/mesh-config.js';
import type { Row } from '../src/config/service-config.js';
import type { DialectName } from '../src/db/database-url.js';
import type { Database } from '../src/db/open-database.js';
import { indexName } from '../src/db/plan-schema-changes.js';

export interface PlanCheck {
  /** The plan, one line per step, as the database printed it. */
  plan: string[];
  /** Why the plan is not an ordered index range; empty when it is. */
  problems: string[];
}

/** The index `mesh migrate` creates for a protocol's push or pull pass. */
export function passIndex(protocol: ResolvedProtocol, stage: 'push' | 'pull'): string {
  const { flags } = protocol;
  const columns =
    stage === 'push' ? [flags.pushSuccess, protocol.sort, protocol.id] : [flags.pullSuccess, flags.pushSuccess, protocol.sort, protocol.id];
  return indexName(protocol.table, `${protocol.name}_${stage}`, columns);
}

/** The plan of a query as `EXPLAIN QUERY PLAN` (SQLite) or `EXPLAIN` (MySQL, PostgreSQL) shows it. */
export async function explain(database: Database, query: RawBuilder<unknown>): Promise<string[]> {
  const { db, dialect } = database;
  const prefix = dialect === 'sqlite' ? sql`explain query plan` : sql`explain`;
  const { rows } = await sql<Record<string, unknown>>`${prefix} ${query}`.execute(db);
  return planLines(dialect, rows);
}

/** The rows an EXPLAIN returned, one line per step. */
export function planLines(dialect: DialectName, rows: Record<string, unknown>[]): string[] {
  if (dialect === 'sqlite') return rows.map((r) => String(r.detail));
  if (dialect === 'mysql')
    return rows.map(
      (r) => `table=${String(r.table)} type=${String(r.type)} key=${String(r.key)} rows=${String(r.rows)} extra=${String(r.Extra ?? '')}`,
    );
  return rows.map((r) => String(r['QUERY PLAN']));
}

export interface PlanExpectation {
  /** Indexes that give the query its order; the plan must read `r` as a range of one of them. */
  indexes: string[];
  /** With a cursor: the sort column, which must bound the range (the keyset is in the index range, not a filter). */
  rangeOn?: string;
}

/**
 * Whether a plan reads the records table `r` as a range of one of the
 * expected indexes, in the index's order, with no sort step (SQLite's temp
 * b-tree, MySQL's filesort, a PostgreSQL Sort node) and no temporary table.
 */
export function checkPlan(dialect: DialectName, plan: string[], expected: PlanExpectation): string[] {
  const problems: string[] = [];
  const has = (pattern: RegExp) => plan.some((line) => pattern.test(line));
  const indexes = `(${expected.indexes.join('|')})`;
  const names = expected.indexes.join(' or ');
  if (dialect === 'sqlite') {
    const search = plan.find((line) => new RegExp(`^SEARCH r USING (COVERING )?INDEX ${indexes} \\(`).test(line));
    if (search === undefined) problems.push(`r is not searched as a range of ${names}`);
    else if (expected.rangeOn !== undefined && !new RegExp(`[ (]${expected.rangeOn}[,>]`).test(search)) {
      problems.push(`the cursor on ${expected.rangeOn} does not bound the range: ${search}`);
    }
    if (has(/TEMP B-TREE/)) problems.push('the plan sorts (USE TEMP B-TREE)');
  } else if (dialect === 'mysql') {
    const first = plan[0] ?? '';
    // With a cursor, only `range` starts the scan at it: `ref` on `flag IS NULL` with the keyset as an index
    // condition reads the same order but from the flag range's start, and so reads every entry before the
    // cursor again for each batch (MariaDB takes it when the estimates are alike).
    if (!first.startsWith('table=r ')) problems.push('the plan does not start from the records table r');
    else if (!new RegExp(`^table=r type=(range|ref|ref_or_null) key=${indexes} `).test(first))
      problems.push(`r is not read through ${names}: ${first}`);
    else if (expected.rangeOn !== undefined && !/type=range /.test(first)) {
      problems.push(`the cursor does not bound the index scan (a ref from the range's start, the cursor filtered): ${first}`);
    }
    if (has(/filesort/i)) problems.push('the plan sorts (Using filesort)');
    if (has(/temporary/i)) problems.push('the plan uses a temporary table');
  } else {
    const scan = plan.findIndex((line) => new RegExp(`Index (Only )?Scan using ${indexes} on \\w+ r\\b`).test(line));
    if (scan < 0) problems.push(`r is not read through ${names}`);
    else if (expected.rangeOn !== undefined) {
      const cond = plan.slice(scan + 1).find((line) => /^\s*Index Cond:/.test(line)) ?? '';
      if (!cond.includes(expected.rangeOn))
        problems.push(`the cursor on ${expected.rangeOn} does not bound the index scan: ${cond.trim()}`);
    }
    if (has(/^\s*(->\s*)?(Incremental )?Sort\b/)) problems.push('the plan sorts (Sort node)');
    if (has(/Seq Scan on \w+ r\b/)) problems.push('r is scanned sequentially');
  }
  return problems;
}

/** explain + checkPlan. */
export async function checkQueryPlan(database: Database, query: RawBuilder<Row>, expected: PlanExpectation): Promise<PlanCheck> {
  const plan = await explain(database, query);
  return { plan, problems: checkPlan(database.dialect, plan, expected) };
}

/**
 * Whether every read of the records table `r` in a plan is a range of one of
 * the expected indexes, never a scan of the table or of a whole index: for
 * the reports' queries, which group or sort the few rows they find (work in
 * flight, failed records) and must never visit the others.
 */
export function checkIndexReads(dialect: DialectName, plan: string[], indexes: string[]): string[] {
  const problems: string[] = [];
  const names = `(${indexes.join('|')})`;
  if (dialect === 'sqlite') {
    const reads = plan.filter((line) => /^(SCAN|SEARCH) r\b/.test(line));
    if (reads.length === 0) problems.push('the plan does not read r');
    for (const line of reads) {
      if (!new RegExp(`^SEARCH r USING (COVERING )?INDEX ${names} \\(`).test(line))
        problems.push(`r is not read as an index range: ${line}`);
    }
  } else if (dialect === 'mysql') {
    const reads = plan.filter((line) => line.startsWith('table=r '));
    if (reads.length === 0) problems.push('the plan does not read r');
    for (const line of reads) {
      if (!new RegExp(`^table=r type=(range|ref|ref_or_null) key=${names} `).test(line))
        problems.push(`r is not read as an index range: ${line}`);
    }
  } else {
    if (plan.some((line) => /Seq Scan on \w+ r\b/.test(line))) problems.push('r is scanned sequentially');
    if (!plan.some((line) => new RegExp(`(Index (Only )?Scan using ${names} on \\w+ r\\b|Bitmap Index Scan on ${names})`).test(line)))
      problems.push(`r is not read through ${indexes.join(' or ')}`);
  }
  return problems;
}

/**
 * Whether a flag write (an UPDATE of a batch by its ids, guarded) finds the
 * rows of `table` through its primary key: one lookup per id, never a scan
 * of the table or a range of a flag index.
 */
export function checkKeyedWrite(dialect: DialectName, plan: string[], table: string, primaryKey: string): string[] {
  const problems: string[] = [];
  if (dialect === 'sqlite') {
    const reads = plan.filter((line) => new RegExp(`^(SCAN|SEARCH) ${table}\\b`).test(line));
    if (reads.length === 0) problems.push(`the plan does not read ${table}`);
    for (const line of reads) {
      if (!/USING (INTEGER )?PRIMARY KEY|USING INDEX sqlite_autoindex/.test(line))
        problems.push(`${table} is not read by its key: ${line}`);
    }
  } else if (dialect === 'mysql') {
    const reads = plan.filter((line) => line.startsWith(`table=${table} `));
    if (reads.length === 0) problems.push(`the plan does not read ${table}`);
    for (const line of reads) if (!/ key=PRIMARY /.test(line)) problems.push(`${table} is not read by its key: ${line}`);
  } else {
    if (plan.some((line) => new RegExp(`Seq Scan on ${table}\\b`).test(line))) problems.push(`${table} is scanned sequentially`);
    if (!plan.some((line) => line.includes(primaryKey))) problems.push(`${table} is not read through ${primaryKey}`);
  }
  return problems;
}
