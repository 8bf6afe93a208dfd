import { sql, type RawBuilder } from 'kysely';
import type { ResolvedProtocol } from '../config/mesh-config.js';
import type { Db, PullResult, Row } from '../config/service-config.js';
import type { DialectName } from '../db/database-url.js';
import { toDbBoolean, toDbTime } from '../db/db-values.js';

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

/** Splits a pull answer by the ids asked for; ids the node left out are not ready and stay pending. */
export function matchResults(records: Row[], idColumn: string, results: unknown): PullBatchResults {
  const byId = new Map<string, PullResult>();
  if (Array.isArray(results)) {
    for (const entry of results) {
      if (entry !== null && typeof entry === 'object' && 'id' in entry) byId.set(String(entry.id), entry as PullResult);
    }
  }
  const matched: PullBatchResults = { succeeded: [], failed: [] };
  for (const record of records) {
    const result = byId.get(String(record[idColumn]));
    if (result === undefined) continue;
    if (typeof result.error === 'string') matched.failed.push({ record, error: result.error });
    else matched.succeeded.push({ record, result });
  }
  return matched;
}

/**
 * Stores one batch's results and sets its pull flags, in the transaction
 * given: results through `pull.columns` (one UPDATE, a CASE per column) or
 * `pull.fn`; then one UPDATE for the successes and one for the errors.
 * `columnTypes` (PostgreSQL only) casts each bound value to its column's type,
 * which PostgreSQL cannot infer inside CASE.
 */
export async function storePullResults(
  trx: Db,
  dialect: DialectName,
  service: string,
  protocol: ResolvedProtocol,
  batch: PullBatchResults,
  columnTypes: Map<string, string>,
  at: Date,
): Promise<void> {
  const id = sql.ref(protocol.id);
  const { flags } = protocol;
  const table = sql.table(protocol.table);
  const ids = (entries: { record: Row }[]) => entries.map((e) => e.record[protocol.id]);
  const pull = protocol.pull!;
  if (batch.succeeded.length > 0) {
    if (pull.columns && Object.keys(pull.columns).length > 0) {
      const assignments = Object.entries(pull.columns).map(([field, column]) => {
        const whens = batch.succeeded
          .filter((s) => field in s.result)
          .map((s) => sql`when ${s.record[protocol.id]} then ${bindValue(dialect, s.result[field], columnTypes.get(column))}`);
        return whens.length === 0
          ? undefined
          : sql`${sql.ref(column)} = case ${id} ${sql.join(whens, sql` `)} else ${sql.ref(column)} end`;
      });
      const set = assignments.filter((a): a is RawBuilder<unknown> => a !== undefined);
      if (set.length > 0) {
        await sql`update ${table} set ${sql.join(set, sql`, `)} where ${id} in (${sql.join(ids(batch.succeeded))})`.execute(trx);
      }
    }
    if (pull.fn) {
      try {
        await pull.fn(
          batch.succeeded.map((s) => s.record),
          batch.succeeded.map((s) => s.result),
          { service, protocol: protocol.name, db: trx },
        );
      } catch (error) {
        throw new PullFunctionError(error);
      }
    }
    await sql`
      update ${table} set
        ${sql.ref(flags.pullSuccess)} = ${toDbBoolean(dialect, true)},
        ${sql.ref(flags.pullTime)} = ${toDbTime(dialect, at)},
        ${sql.ref(flags.pullError)} = null
      where ${id} in (${sql.join(ids(batch.succeeded))})`.execute(trx);
  }
  if (batch.failed.length > 0) {
    const errors = batch.failed.map((f) => sql`when ${f.record[protocol.id]} then ${f.error}`);
    await sql`
      update ${table} set
        ${sql.ref(flags.pullSuccess)} = ${toDbBoolean(dialect, false)},
        ${sql.ref(flags.pullTime)} = ${toDbTime(dialect, at)},
        ${sql.ref(flags.pullError)} = case ${id} ${sql.join(errors, sql` `)} end
      where ${id} in (${sql.join(ids(batch.failed))})`.execute(trx);
  }
}

/** Marks a batch whose pull request failed: the records stay unpulled (retried), with the error text. */
export async function markPullRequestFailed(db: Db, dialect: DialectName, protocol: ResolvedProtocol, ids: unknown[], at: Date, error: string): Promise<void> {
  const { flags } = protocol;
  await sql`
    update ${sql.table(protocol.table)} set
      ${sql.ref(flags.pullTime)} = ${toDbTime(dialect, at)},
      ${sql.ref(flags.pullError)} = ${error}
    where ${sql.ref(protocol.id)} in (${sql.join(ids)})`.execute(db);
}

function bindValue(dialect: DialectName, value: unknown, postgresType: string | undefined): RawBuilder<unknown> {
  let bound: unknown = value;
  if (value !== null && typeof value === 'object') bound = JSON.stringify(value);
  else if (typeof value === 'boolean' && dialect === 'sqlite') bound = value ? 1 : 0;
  else if (value === undefined) bound = null;
  if (dialect === 'postgres' && postgresType !== undefined) return sql`cast(${bound} as ${sql.raw(postgresType)})`;
  return sql`${bound}`;
}
