import { CompiledQuery, sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkKeyedWrite, checkQueryPlan, passIndex, planLines, type PlanExpectation } from '../../bench/query-plan.js';
import { assignService } from '../../src/assign/assign-service.js';
import type { ResolvedProtocol, ResolvedService } from '../../src/config/mesh-config.js';
import type { Db } from '../../src/config/service-config.js';
import { toDbBoolean, toDbTime } from '../../src/db/db-values.js';
import { recordingKysely } from '../../src/db/recording-kysely.js';
import type { Database } from '../../src/db/open-database.js';
import { LISTED_NODES, SORT_ALIAS, type Cursor, type KeysetPhase } from '../../src/db/record-source.js';
import { orderPullBounds, readRecordKey, type NodeBound } from '../../src/pull/pull-bounds.js';
import { pullCandidatesQuery, type PullCandidatesQuery } from '../../src/pull/read-pull-candidates.js';
import { pendingBatchQuery } from '../../src/push/read-pending-batch.js';
import { markPushFailed, markPushed, markPushedTogether } from '../../src/push/write-push-flags.js';
import { flagIndexHints } from '../../src/db/flag-index-hints.js';
import { markPullRequestFailed, storePullResults } from '../../src/pull/write-pull-results.js';
import { analyzePlanTables, openDemoFixture, PLAN_ACCOUNTS, PLAN_BATCH, PLAN_NODES, PLAN_RECORDS } from '../helpers/plan-fixture.js';
import { DIALECTS, type TestDatabase } from '../helpers/test-databases.js';

/**
 * The push pass reads every batch with one query that must be a range of the
 * `(push_success, sort, id)` index in index order: a plan that sorts does it
 * again for every batch, and the pass grows as R² (see the performance
 * notes). The queries are compiled by the engine's own builders and
 * prefixed with EXPLAIN, on a table large enough, with fresh statistics, for
 * the planners to choose as they do on real data.
 */

for (const dialect of DIALECTS) {
  describe.skipIf(!dialect.available)(`push pending query plan (${dialect.name})`, () => {
    let test: TestDatabase;
    let database: Database;
    let service: ResolvedService;
    let protocol: ResolvedProtocol;

    beforeAll(async () => {
      const fixture = await openDemoFixture(dialect.name, { accounts: PLAN_ACCOUNTS, records: PLAN_RECORDS });
      ({ test, database, service, protocol } = fixture);
      const { config } = fixture;
      await assignService(database.db, config, service);
    }, 120_000);

    afterAll(async () => {
      await database?.close();
      await test?.drop();
    });

    /** Where the engine's cursor stands after reading `count` pending records: the last row's own key. */
    async function cursorAfter(count: number): Promise<Cursor> {
      const rows = await pendingBatchQuery(
        database.dialect,
        service,
        protocol,
        { after: null, nodes: PLAN_NODES, limit: count },
        'sorted',
      ).execute(database.db);
      const last = rows.rows[rows.rows.length - 1]!;
      return { sort: last[SORT_ALIAS], id: last[protocol.id] };
    }

    async function expectRange(query: Parameters<typeof checkQueryPlan>[1], expected: PlanExpectation): Promise<void> {
      const check = await checkQueryPlan(database, query, expected);
      expect(check.problems, `plan:\n${check.plan.join('\n')}`).toEqual([]);
    }

    const push = (): PlanExpectation => ({ indexes: [passIndex(protocol, 'push')] });
    // The push index gives the pull query its order as well (push_success = TRUE, then sort, id).
    const pull = (): PlanExpectation => ({ indexes: [passIndex(protocol, 'pull'), passIndex(protocol, 'push')] });
    const pullQuery = (query: Omit<PullCandidatesQuery, 'limit'>, phase?: KeysetPhase) =>
      pullCandidatesQuery(database.dialect, service, protocol, { ...query, limit: PLAN_BATCH }, phase);

    /** The guarded flag writes of push and pull, for a batch of pending ids and one of delivered ids, each find their rows by primary key. */
    async function expectKeyedWrites(pending: unknown[], delivered: unknown[]): Promise<void> {
      // The engine's own statements, compiled by a Kysely that records them instead of running them.
      const recorded: CompiledQuery[] = [];
      const writes = recordingKysely(database.dialect, recorded) as Db;
      const at = new Date();
      await markPushed(writes, database.dialect, protocol, pending, at, 'node1', { service });
      await markPushFailed(writes, database.dialect, protocol, pending, at, 'HTTP 422', { service, node: 'node1' });
      // SQLite: the deliveries of batches of several nodes written together.
      if (database.dialect === 'sqlite') {
        const half = Math.ceil(pending.length / 2);
        const parts = [
          { ids: pending.slice(0, half), node: 'node1', at },
          { ids: pending.slice(half), node: 'node2', at },
        ];
        await markPushedTogether(writes, protocol, parts, { service });
      }
      const guard = { service, node: 'node1' };
      const answered = { succeeded: delivered.map((id) => ({ record: { id }, result: { id, hash: 'h' } })), failed: [] };
      await storePullResults(writes, database.dialect, guard, protocol, answered, new Map(), at);
      await storePullResults(
        writes,
        database.dialect,
        guard,
        protocol,
        { succeeded: [], failed: delivered.map((id) => ({ record: { id }, error: 'bad' })) },
        new Map(),
        at,
      );
      await markPullRequestFailed(writes, database.dialect, guard, protocol, delivered, at, 'HTTP 500');
      const updates = recorded.filter(
        (q) => /^\s*(with|update)/i.test(q.sql) && / delivery\b|"delivery"|`delivery`/.test(q.sql.split('set')[0]!),
      );
      expect(updates.length).toBeGreaterThanOrEqual(5);
      const primaryKey = database.dialect === 'postgres' ? 'delivery_pkey' : 'PRIMARY';
      for (const update of updates) {
        const prefix = database.dialect === 'sqlite' ? 'explain query plan ' : 'explain ';
        const { rows } = await database.db.executeQuery<Record<string, unknown>>(
          CompiledQuery.raw(`${prefix}${update.sql}`, [...update.parameters]),
        );
        const plan = planLines(database.dialect, rows);
        expect(
          checkKeyedWrite(database.dialect, plan, 'delivery', primaryKey),
          `${update.sql.slice(0, 120)}\nplan:\n${plan.join('\n')}`,
        ).toEqual([]);
      }
    }

    it('reads the first push of a whole table as an ordered range of (push_success, sort, id), without sorting', async () => {
      await analyzePlanTables(database);
      const indexHint = (await flagIndexHints(database.db, database.dialect, protocol)).push;
      const query = (after: Cursor | null) =>
        pendingBatchQuery(database.dialect, service, protocol, { after, nodes: PLAN_NODES, limit: PLAN_BATCH, indexHint });
      await expectRange(query(null), push());
      // Every cursor of a pass over a table still all pending, as at 1,000 nodes, where the pass holds every record
      // read until its node's batch goes out: MariaDB read `push_success IS NULL` as a ref from its start for each
      // batch (4.5 s of server time for 400 batches of 200,000 records, against 1.5 s with 4 nodes) unless told the index.
      for (const share of [0.25, 0.5, 0.75]) {
        await expectRange(query(await cursorAfter(PLAN_RECORDS * share)), { ...push(), rangeOn: protocol.sort });
      }
      // The two phases of a pass (NULL sorts first): among the NULLs after an id, and the sorted ones from their start.
      await expectRange(query({ sort: null, id: 5 }), push());
      await expectRange(
        pendingBatchQuery(database.dialect, service, protocol, { after: null, nodes: PLAN_NODES, limit: PLAN_BATCH, indexHint }, 'sorted'),
        push(),
      );
      // A pass for some nodes only (`mesh push --node`, or streams stopped by a failure).
      const some = pendingBatchQuery(database.dialect, service, protocol, {
        after: await cursorAfter(PLAN_BATCH),
        nodes: ['node2'],
        limit: PLAN_BATCH,
        indexHint,
      });
      await expectRange(some, { ...push(), rangeOn: protocol.sort });
    });

    it('reads the pending tail of a mostly delivered table as an ordered range, and so does the pull', async () => {
      // The steady state: 80% delivered (60% pulled), new records pending at the end.
      const { flags } = protocol;
      const yes = toDbBoolean(database.dialect, true);
      await sql`update delivery set ${sql.ref(flags.pushSuccess)} = ${yes}, ${sql.ref(flags.pushNode)} = 'node1' where id <= ${PLAN_RECORDS * 0.8}`.execute(
        database.db,
      );
      await sql`update delivery set ${sql.ref(flags.pullSuccess)} = ${yes} where id <= ${PLAN_RECORDS * 0.6}`.execute(database.db);
      await analyzePlanTables(database);

      const hints = await flagIndexHints(database.db, database.dialect, protocol);
      const pending = (after: Cursor | null) =>
        pendingBatchQuery(database.dialect, service, protocol, { after, nodes: PLAN_NODES, limit: PLAN_BATCH, indexHint: hints.push });
      await expectRange(pending(null), push());
      await expectRange(pending(await cursorAfter(PLAN_BATCH * 4)), { ...push(), rangeOn: protocol.sort });
      // With more nodes than a query lists (LISTED_NODES), the pass reads every node's records: the same range.
      const manyNodes = [...PLAN_NODES, ...Array.from({ length: LISTED_NODES }, (_, i) => `far${i}`)];
      await expectRange(
        pendingBatchQuery(database.dialect, service, protocol, {
          after: null,
          nodes: manyNodes,
          limit: PLAN_BATCH,
          indexHint: hints.push,
        }),
        push(),
      );

      // Pull: pushed and not pulled, up to each node's last processed record.
      const { rows } = await sql<{ sort: unknown; id: unknown }>`
        select ${sql.ref(protocol.sort)} as sort, id from delivery where id = ${PLAN_RECORDS * 0.7}`.execute(database.db);
      const middle = { sort: rows[0]!.sort, id: rows[0]!.id };
      const bounds = new Map<string, Cursor | null>(PLAN_NODES.map((n) => [n, null]));
      await expectRange(
        pullQuery({
          after: null,
          bounds: { byNode: bounds, ordered: [] },
        }),
        pull(),
      );
      await expectRange(pullQuery({ after: null, bounds: { byNode: bounds, ordered: [] } }, 'sorted'), pull());
      // Each node bounded by its last processed record (NULL sorts count as before it: the bound is a filter, not the range).
      const bounded = new Map<string, Cursor | null>(PLAN_NODES.map((n) => [n, middle]));
      await expectRange(pullQuery({ after: null, bounds: { byNode: bounded, ordered: [middle] } }, 'sorted'), pull());
      await expectRange(
        pullQuery({
          after: middle,
          bounds: { byNode: bounded, ordered: [middle] },
        }),
        {
          ...pull(),
          rangeOn: protocol.sort,
        },
      );
      await expectRange(
        pullQuery({
          after: middle,
          bounds: { byNode: bounds, ordered: [] },
        }),
        {
          ...pull(),
          rangeOn: protocol.sort,
        },
      );
      // MariaDB/MySQL are told the pull index (flag-index-hints.ts): the pass reads exactly it.
      const indexHint = (await flagIndexHints(database.db, database.dialect, protocol)).pull;
      await expectRange(
        pullQuery({
          after: middle,
          bounds: { byNode: bounds, ordered: [] },
          indexHint,
        }),
        { indexes: [passIndex(protocol, 'pull')], rangeOn: protocol.sort },
      );
      // 300 nodes, each bounded by a record of its own: the node list, the rank among the bounds and the stop at the last bound ranked
      // change no plan (bounds among the records delivered and not pulled, as a node's last processed records are; the pass after
      // the cursor ranks the bounds from the 151st, record 42,001, on).
      const many = new Map<string, NodeBound>();
      for (let i = 0; i < 300; i++) {
        const node = i < PLAN_NODES.length ? PLAN_NODES[i]! : `far${i}`;
        many.set(node, await readRecordKey(database.db, database.dialect, service, protocol, PLAN_RECORDS * 0.6 + 1 + i * 40));
      }
      const manyBounds = await orderPullBounds(database.db, protocol, many);
      expect(manyBounds.ordered.length).toBe(300);
      await expectRange(pullQuery({ after: null, bounds: manyBounds }, 'sorted'), pull());
      await expectRange(pullQuery({ after: middle, bounds: manyBounds, firstBound: 150 }), {
        ...pull(),
        rangeOn: protocol.sort,
      });
    });

    it('writes the guarded flags of a batch through the primary key, and the pull sweep reads a range of the pull index', async () => {
      // The table as the previous test left it: 80% delivered, 60% pulled. A batch of pending ids, and one of delivered ids.
      const { flags } = protocol;
      const idsWhere = async (where: ReturnType<typeof sql>) =>
        (await sql<{ id: unknown }>`select id from delivery where ${where} order by id limit ${PLAN_BATCH}`.execute(database.db)).rows.map(
          (r) => r.id,
        );
      const pending = await idsWhere(sql`${sql.ref(flags.pushSuccess)} is null`);
      const delivered = await idsWhere(sql`${sql.ref(flags.pullSuccess)} is null and ${sql.ref(flags.pushSuccess)} is not null`);
      expect([pending.length, delivered.length]).toEqual([PLAN_BATCH, PLAN_BATCH]);
      await expectKeyedWrites(pending, delivered);

      // The sweep: records delivered long ago are asked for whatever the node's bound says; still one range of the pull index.
      // Delivered records carry their push time: an hour ago, and the last tenth just now.
      const pushedAt = (ms: number) => toDbTime(database.dialect, new Date(Date.now() - ms));
      await sql`update delivery set ${sql.ref(flags.pushTime)} = ${pushedAt(3_600_000)} where ${sql.ref(flags.pushSuccess)} is not null`.execute(
        database.db,
      );
      await sql`update delivery set ${sql.ref(flags.pushTime)} = ${pushedAt(0)} where id > ${PLAN_RECORDS * 0.7} and ${sql.ref(flags.pushSuccess)} is not null`.execute(
        database.db,
      );
      await analyzePlanTables(database);
      const sweepBefore = toDbTime(database.dialect, new Date(Date.now() - 300_000));
      const bounds = new Map<string, 'none'>(PLAN_NODES.map((n) => [n, 'none']));
      await expectRange(
        pullQuery({
          after: null,
          bounds: { byNode: bounds, ordered: [] },
          sweepBefore,
        }),
        pull(),
      );
      await expectRange(pullQuery({ after: null, bounds: { byNode: bounds, ordered: [] }, sweepBefore }, 'sorted'), pull());
    });

    it('writes the guarded flags through the primary key with statistics from before a wave of new records', async () => {
      // ANALYZE ran when every record was done; then every record became pending again (new records, a re-push), then delivered.
      // A planner trusting those statistics takes the flag indexes for the guard's `flag IS NULL` as a range of a few rows,
      // and scans every pending record for every batch.
      const { flags } = protocol;
      const yes = toDbBoolean(database.dialect, true);
      await sql`update delivery set ${sql.ref(flags.pushSuccess)} = ${yes}, ${sql.ref(flags.pullSuccess)} = ${yes}`.execute(database.db);
      await analyzePlanTables(database);
      await sql`update delivery set ${sql.ref(flags.pushSuccess)} = null, ${sql.ref(flags.pullSuccess)} = null`.execute(database.db);
      const batch = Array.from({ length: PLAN_BATCH }, (_, i) => i * 97 + 1);
      await expectKeyedWrites(batch, batch);
      await sql`update delivery set ${sql.ref(flags.pushSuccess)} = ${yes}`.execute(database.db);
      await expectKeyedWrites(batch, batch);
    });
  });
}
