import { CompiledQuery, sql, type RawBuilder } from 'kysely';
import type { ResolvedProtocol, ResolvedService } from '../config/mesh-config.js';
import type { Db, PullResult, Row } from '../config/service-config.js';
import type { DialectName } from '../db/database-url.js';
import { toDbBoolean, toDbTime } from '../db/db-values.js';
import { addRecordCounts } from '../db/record-counts.js';
import { rowsChanged, stillDeliveredTo } from '../db/record-guards.js';
import { cleanErrorText } from '../nodes/clean-error-text.js';
import { PullAnswerError, resultValueProblem } from './check-pull-answer.js';

/** The user's `pull.fn` threw: the batch is rolled back and fails, the run goes on. */
export class PullFunctionError extends Error {
  constructor(cause: unknown) {
    super(`pull.fn failed: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    this.name = 'PullFunctionError';
  }
}

export interface PullBatchResults {
  /** Records of the batch the node answered for, with their result. */
  succeeded: { record: Row; result: PullResult }[];
  failed: { record: Row; error: string }[];
}

/**
 * Splits a pull answer by the ids asked for; ids the node left out are not
 * ready and stay pending. Entries that are not objects, or whose id was not
 * asked for, are ignored. Throws PullAnswerError (naming the node and the
 * field) when `results` is not an array or a result field of an entry
 * asked for has a value no column takes (check-pull-answer.ts).
 */
export function matchResults(records: Row[], idColumn: string, results: unknown, node: string): PullBatchResults {
  if (!Array.isArray(results)) {
    throw new PullAnswerError(
      `node ${node}: pull answer field "results" must be an array; got ${results === null ? 'null' : typeof results}`,
    );
  }
  const asked = new Map(records.map((record) => [String(record[idColumn]), record]));
  const byId = new Map<string, PullResult>();
  results.forEach((entry: unknown, i) => {
    if (entry === null || typeof entry !== 'object' || Array.isArray(entry) || !('id' in entry)) return;
    const id = (entry as { id: unknown }).id;
    if (typeof id !== 'string' && typeof id !== 'number') return;
    const key = String(id);
    if (!asked.has(key)) return;
    const result = entry as PullResult;
    if (typeof result.error !== 'string') {
      for (const field in result) {
        const problem = field === 'id' ? undefined : resultValueProblem(result[field]);
        if (problem !== undefined)
          throw new PullAnswerError(`node ${node}: pull answer results[${i}] (id ${key}) field "${field}": ${problem}`);
      }
    }
    byId.set(key, result);
  });
  const matched: PullBatchResults = { succeeded: [], failed: [] };
  for (const [id, record] of asked) {
    const result = byId.get(id);
    if (result === undefined) continue;
    if (typeof result.error === 'string') matched.failed.push({ record, error: cleanErrorText(result.error) });
    else matched.succeeded.push({ record, result });
  }
  return matched;
}

/** What one batch's store wrote; `skipped` records were answered but are no longer delivered there (moved, re-pushed). */
export interface StoredPull {
  pulled: number;
  failed: number;
  skipped: number;
}

/** The node a batch was pulled from: its results are written only to records still delivered there. */
export interface PullGuard {
  service: ResolvedService;
  node: string;
}

/**
 * Stores one batch's results and sets its pull flags, in the transaction
 * given: results through `pull.columns`, in the same UPDATE as the
 * successes' flags (joined to a VALUES list in SQLite, a CASE per column
 * elsewhere), or `pull.fn` (then one UPDATE for the successes' flags); one
 * UPDATE for the errors.
 * `columnTypes` (PostgreSQL only) casts each bound value to its column's type,
 * which PostgreSQL cannot infer inside CASE.
 * Every UPDATE is guarded (record-guards.ts): a record re-pushed or pulled
 * meanwhile keeps its state, and its result from this node is dropped.
 * With `pull.fn`, or a result column that is a flag column, the records
 * still delivered are selected (and locked) first, so that the function
 * sees only those. The node's counters of processed and failed records
 * (record-counts.ts) grow in the same transaction. Returns what was written.
 */
export async function storePullResults(
  trx: Db,
  dialect: DialectName,
  guard: PullGuard,
  protocol: ResolvedProtocol,
  answered: PullBatchResults,
  columnTypes: Map<string, string>,
  at: Date,
): Promise<StoredPull> {
  const stored = await writePullResults(trx, dialect, guard, protocol, answered, columnTypes, at);
  await addRecordCounts(trx, dialect, guard.service, protocol, [
    { node: guard.node, state: 'processed', records: stored.pulled },
    { node: guard.node, state: 'failed', records: stored.failed },
  ]);
  return stored;
}

async function writePullResults(
  trx: Db,
  dialect: DialectName,
  guard: PullGuard,
  protocol: ResolvedProtocol,
  answered: PullBatchResults,
  columnTypes: Map<string, string>,
  at: Date,
): Promise<StoredPull> {
  const id = sql.ref(protocol.id);
  const { flags } = protocol;
  const table = sql.table(protocol.table);
  const ids = (entries: { record: Row }[]) => entries.map((e) => e.record[protocol.id]);
  const pull = protocol.pull!;
  const still = stillDeliveredTo(dialect, guard.service, protocol, guard.node);
  const total = answered.succeeded.length + answered.failed.length;
  let batch = answered;
  let pulled = 0;
  // Only the columns some result of this batch has a field for.
  const columns = Object.entries(pull.columns ?? {}).filter(([field]) => answered.succeeded.some((s) => field in s.result));
  const flagColumns = pullFlagColumns(protocol);
  // A result column that is a flag column is written first and then overwritten by the flags, as two UPDATEs in this order do.
  const overlaps = columns.some(([, column]) => flagColumns.includes(column));
  // Selected and locked first (SQLite: the transaction holds the write lock from its start): the later UPDATEs need no guard.
  const preselected = answered.succeeded.length > 0 && (pull.fn !== undefined || overlaps);
  if (preselected) {
    const lock = dialect === 'sqlite' ? sql`` : sql` for update`;
    const { rows } = await sql<Row>`
      select ${id} from ${table} where ${id} in (${sql.join(ids(answered.succeeded))}) and ${still}${lock}`.execute(trx);
    const current = new Set(rows.map((row) => String(row[protocol.id])));
    batch = { succeeded: answered.succeeded.filter((s) => current.has(String(s.record[protocol.id]))), failed: answered.failed };
  }
  if (batch.succeeded.length > 0) {
    const flagsSet = [
      sql`${sql.ref(flags.pullSuccess)} = ${toDbBoolean(dialect, true)}`,
      sql`${sql.ref(flags.pullTime)} = ${toDbTime(dialect, at)}`,
      sql`${sql.ref(flags.pullError)} = null`,
    ];
    if (dialect === 'sqlite' && columns.length > 0 && !overlaps) {
      // SQLite runs `CASE id WHEN ? THEN ? ...` as a linear search for every row (some 6 ms a batch of 500,
      // most of the pull's time); a VALUES list joined on the id costs one primary-key lookup per row.
      // The VALUES rows are written as text (`(?, ?, 1)`), not as Kysely nodes: thousands of nodes a batch cost
      // more to build, compile and collect than the UPDATE itself. SQLite's `?` placeholders concatenate.
      const rowParams: unknown[] = [];
      const rows = batch.succeeded.map((s) => {
        rowParams.push(s.record[protocol.id]);
        let row = '(?';
        for (const [field] of columns) {
          if (field in s.result) {
            rowParams.push(sqliteValue(s.result[field]));
            row += ', ?, 1';
          } else row += ', null, 0';
        }
        return `${row})`;
      });
      const names = [sql.ref('__wm_id'), ...columns.flatMap((_, i) => [sql.ref(`__wm_v${i}`), sql.ref(`__wm_p${i}`)])];
      const set = columns.map(
        ([, column], i) =>
          sql`${sql.ref(column)} = case when v.${sql.ref(`__wm_p${i}`)} then v.${sql.ref(`__wm_v${i}`)} else ${table}.${sql.ref(column)} end`,
      );
      const head = sql`with v(${sql.join(names)}) as (values `.compile(trx);
      const tail = sql`)
        update ${table} set ${sql.join([...set, ...flagsSet], sql`, `)}
        from v where ${table}.${id} = v.${sql.ref('__wm_id')} and ${still}`.compile(trx);
      const result = await trx.executeQuery(
        CompiledQuery.raw(`${head.sql}${rows.join(', ')}${tail.sql}`, [...head.parameters, ...rowParams, ...tail.parameters]),
      );
      pulled = rowsChanged(result);
      const failed = await storePullFailures(trx, dialect, guard, protocol, batch, at);
      return { pulled, failed, skipped: total - pulled - failed };
    }
    let resultsSet: RawBuilder<unknown>[] = [];
    if (columns.length > 0) {
      resultsSet = columns.map(([field, column]) => {
        const whens = batch.succeeded
          .filter((s) => field in s.result)
          .map((s) => sql`when ${s.record[protocol.id]} then ${bindValue(dialect, s.result[field], columnTypes.get(column))}`);
        return sql`${sql.ref(column)} = case ${id} ${sql.join(whens, sql` `)} else ${sql.ref(column)} end`;
      });
      // Results and flags go in one UPDATE (each row written once), unless they overlap.
      // The records were selected and locked above: the results go to those alone.
      if (overlaps) {
        await sql`update ${table} set ${sql.join(resultsSet, sql`, `)} where ${id} in (${sql.join(ids(batch.succeeded))})`.execute(trx);
        resultsSet = [];
      }
    }
    if (pull.fn) {
      try {
        await pull.fn(
          batch.succeeded.map((s) => s.record),
          batch.succeeded.map((s) => s.result),
          { service: guard.service.name, protocol: protocol.name, db: trx },
        );
      } catch (error) {
        throw new PullFunctionError(error);
      }
    }
    // Unguarded after the select: a result written into pull_success above must not make its own flags skip.
    const result = await sql`
      update ${table} set ${sql.join([...resultsSet, ...flagsSet], sql`, `)}
      where ${id} in (${sql.join(ids(batch.succeeded))}) and ${preselected ? sql`1 = 1` : still}`.execute(trx);
    pulled = rowsChanged(result);
  }
  const failed = await storePullFailures(trx, dialect, guard, protocol, batch, at);
  return { pulled, failed, skipped: total - pulled - failed };
}

/** The flag columns a pull writes; a result column that is one of them is written first, then overwritten. */
export function pullFlagColumns(protocol: ResolvedProtocol): string[] {
  const { flags } = protocol;
  return [flags.pullSuccess, flags.pullTime, flags.pullError];
}

/** The processing errors of one batch, one guarded UPDATE; returns the rows written. */
export async function storePullFailures(
  trx: Db,
  dialect: DialectName,
  guard: PullGuard,
  protocol: ResolvedProtocol,
  batch: PullBatchResults,
  at: Date,
): Promise<number> {
  const id = sql.ref(protocol.id);
  const { flags } = protocol;
  const table = sql.table(protocol.table);
  const ids = batch.failed.map((f) => f.record[protocol.id]);
  if (batch.failed.length === 0) return 0;
  const errors = batch.failed.map((f) => sql`when ${f.record[protocol.id]} then ${f.error}`);
  const result = await sql`
    update ${table} set
      ${sql.ref(flags.pullSuccess)} = ${toDbBoolean(dialect, false)},
      ${sql.ref(flags.pullTime)} = ${toDbTime(dialect, at)},
      ${sql.ref(flags.pullError)} = case ${id} ${sql.join(errors, sql` `)} end
    where ${id} in (${sql.join(ids)}) and ${stillDeliveredTo(dialect, guard.service, protocol, guard.node)}`.execute(trx);
  return rowsChanged(result);
}

/**
 * Marks a batch whose pull request failed: the records stay unpulled
 * (retried), with the error text, cleaned of control characters. Guarded
 * like storePullResults. Returns the rows written.
 */
export async function markPullRequestFailed(
  db: Db,
  dialect: DialectName,
  guard: PullGuard,
  protocol: ResolvedProtocol,
  ids: unknown[],
  at: Date,
  error: string,
): Promise<number> {
  const { flags } = protocol;
  const result = await sql`
    update ${sql.table(protocol.table)} set
      ${sql.ref(flags.pullTime)} = ${toDbTime(dialect, at)},
      ${sql.ref(flags.pullError)} = ${cleanErrorText(error)}
    where ${sql.ref(protocol.id)} in (${sql.join(ids)}) and ${stillDeliveredTo(dialect, guard.service, protocol, guard.node)}`.execute(db);
  return rowsChanged(result);
}

/** A result value as SQLite binds it (bindValue's conversions, without the Kysely node). */
export function sqliteValue(value: unknown): unknown {
  if (value !== null && typeof value === 'object') return JSON.stringify(value);
  if (typeof value === 'boolean') return value ? 1 : 0;
  return value === undefined ? null : value;
}

function bindValue(dialect: DialectName, value: unknown, postgresType: string | undefined): RawBuilder<unknown> {
  let bound: unknown = value;
  if (value !== null && typeof value === 'object') bound = JSON.stringify(value);
  else if (typeof value === 'boolean' && dialect === 'sqlite') bound = value ? 1 : 0;
  else if (value === undefined) bound = null;
  if (dialect === 'postgres' && postgresType !== undefined) return sql`cast(${bound} as ${sql.raw(postgresType)})`;
  return sql`${bound}`;
}
