import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ResolvedProtocol, ResolvedService } from '../../src/config/mesh-config.js';
import type { Row } from '../../src/config/service-config.js';
import { toDbBoolean, toDbTime } from '../../src/db/db-values.js';
import type { Database } from '../../src/db/open-database.js';
import { NODE_ALIAS, recordSource, SORT_ALIAS, type Cursor } from '../../src/db/record-source.js';
import { isAsked, orderPullBounds, readRecordKey, type NodeBound, type PullBound } from '../../src/pull/pull-bounds.js';
import { BOUNDS_PER_READ, pullCandidatePass } from '../../src/pull/read-pull-candidates.js';
import { openDemoFixture } from '../helpers/plan-fixture.js';
import { DIALECTS, type TestDatabase } from '../helpers/test-databases.js';

const NODES = Array.from({ length: 300 }, (_, i) => `n${i + 1}`);
const ACCOUNTS = 600;
const RECORDS = 6_000;

/**
 * The pull pass tests every record against its own node's bound with one
 * rank the database computes among all the bounds (pull-bounds.ts). Checked
 * here against the plain per-node condition, node by node, on 300 nodes
 * with bounds of every kind: none, unknown, a record of the node's own or of
 * another's, with and without a push time, sort values tied, push times tied,
 * records moved to another node, and the sweep.
 */
for (const dialect of DIALECTS) {
  describe.skipIf(!dialect.available)(`pull bounds among many nodes (${dialect.name})`, () => {
    let test: TestDatabase;
    let database: Database;
    let service: ResolvedService;
    let protocol: ResolvedProtocol;

    beforeAll(async () => {
      const fixture = await openDemoFixture(dialect.name, { accounts: ACCOUNTS, records: RECORDS });
      ({ test, database, service, protocol } = fixture);
      const { flags } = protocol;
      const yes = toDbBoolean(database.dialect, true);
      const node = (expression: ReturnType<typeof sql>) =>
        database.dialect === 'mysql' ? sql`concat('n', ${expression} + 1)` : sql`'n' || (${expression} + 1)`;
      await sql`update account set node_for_micro_emails_timeline = ${node(sql`id % ${sql.lit(NODES.length)}`)}`.execute(database.db);
      // Every tenth record is not delivered; every seventh was delivered to another node than its entity's; the rest to its entity's, or (every third) before the node was recorded.
      await sql`update delivery set ${sql.ref(flags.pushSuccess)} = ${yes} where id % 10 <> 0`.execute(database.db);
      await sql`update delivery set ${sql.ref(flags.pushNode)} = ${node(sql`(id * 31) % ${sql.lit(NODES.length)}`)} where id % 7 = 0`.execute(
        database.db,
      );
      const ownNode = sql`(select a.node_for_micro_emails_timeline from account a where a.id = delivery.id_account)`;
      await sql`update delivery set ${sql.ref(flags.pushNode)} = ${ownNode} where id % 7 <> 0 and id % 3 <> 0`.execute(database.db);
      // Three push times, tied many times over.
      const base = Date.UTC(2026, 10, 1);
      for (const k of [0, 1, 2]) {
        await sql`update delivery set ${sql.ref(flags.pushTime)} = ${toDbTime(database.dialect, new Date(base + k * 60_000))} where id % 3 = ${k}`.execute(
          database.db,
        );
      }
      // Sort values tied at the start of the pass, out of id order.
      const first = (await sql<Row>`select create_time from delivery where id = 1`.execute(database.db)).rows[0]!.create_time;
      await sql`update delivery set create_time = ${first} where id % 5 = 0`.execute(database.db);
    }, 120_000);

    afterAll(async () => {
      await database?.close();
      await test?.drop();
    });

    it('asks each node for exactly the records within its own bound, in the pass order', async () => {
      const { flags } = protocol;
      const source = recordSource(database.dialect, service, protocol, 'delivered');
      const base = Date.UTC(2026, 10, 1);
      const sweepBefore = toDbTime(database.dialect, new Date(base + 30_000));
      const byNode = new Map<string, NodeBound>();
      for (const [i, node] of NODES.entries()) {
        if (i % 10 === 0) byNode.set(node, null);
        else if (i % 10 === 1) byNode.set(node, 'none');
        else {
          // A record spread over the table: the node's own or another's.
          const bound = await readRecordKey(database.db, database.dialect, service, protocol, 1 + ((i * 977) % RECORDS));
          expect(bound).not.toBeNull();
          byNode.set(node, i % 10 === 2 ? { sort: bound!.sort, id: bound!.id } : bound);
        }
      }
      const bounds = await orderPullBounds(database.db, protocol, byNode);
      expect(bounds.ordered.length).toBeGreaterThan(200);
      const ranks = new Map(bounds.ordered.map((b, i) => [b, i]));

      // The pass, in odd-sized batches, as runNodeStreams reads it.
      // More bounds than one read ranks (BOUNDS_PER_READ): the pass reads them a window at a time.
      expect(bounds.ordered.length).toBeGreaterThan(BOUNDS_PER_READ * 4);
      const pass = pullCandidatePass(database.db, database.dialect, service, protocol, { ordered: bounds.ordered, sweepBefore, limit: 97 });
      const asked = new Map<string, unknown[]>();
      let after: Cursor | null = null;
      for (;;) {
        const rows = await pass.read(after, byNode);
        for (const row of rows) {
          const node = String(row[NODE_ALIAS]);
          if (isAsked(row, byNode.get(node) ?? null, ranks, sweepBefore)) asked.set(node, [...(asked.get(node) ?? []), Number(row.id)]);
        }
        if (rows.length < 97) break;
        const last = rows[rows.length - 1]!;
        after = { sort: last[SORT_ALIAS], id: last.id };
      }

      // The same, node by node, with each bound written out as its own condition.
      const pushTime = sql`r.${sql.ref(flags.pushTime)}`;
      const swept = sql`${pushTime} < ${sweepBefore}`;
      let total = 0;
      for (const node of NODES) {
        const bound = byNode.get(node)!;
        const within = (b: PullBound) =>
          b.pushTime === undefined || b.pushTime === null
            ? source.notAfter(b)
            : sql`(${source.notAfter(b)} or ${pushTime} <= ${b.pushTime})`;
        const condition = bound === null ? sql`1 = 1` : bound === 'none' ? swept : sql`(${within(bound)} or ${swept})`;
        const { rows } = await sql<Row>`
          select r.id from ${source.from}
          where r.${sql.ref(flags.pullSuccess)} is null and r.${sql.ref(flags.pushSuccess)} = ${toDbBoolean(database.dialect, true)}
            and ${source.nodeIs(node)} and ${condition}
          order by ${source.orderBy}`.execute(database.db);
        const expected = rows.map((r) => Number(r.id));
        total += expected.length;
        expect(asked.get(node) ?? [], `node ${node}, bound ${JSON.stringify(bound)}`).toEqual(expected);
      }
      // Neither everything nor nothing: the bounds cut.
      expect(total).toBeGreaterThan(RECORDS * 0.2);
      expect(total).toBeLessThan(RECORDS * 0.9);
    }, 120_000);
  });
}
