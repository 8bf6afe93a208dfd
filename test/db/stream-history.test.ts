import { afterEach, describe, expect, it } from 'vitest';
import { finishRun, startRun } from '../../src/db/run-log.js';
import { recordStreamHistory, STREAM_HISTORY_MS } from '../../src/db/stream-history.js';
import { retryRecords } from '../../src/push/retry-records.js';
import { failedRecordsPage } from '../../src/report/failed-records-page.js';
import { runHistory } from '../../src/report/run-history.js';
import { streamActivity, throughput } from '../../src/report/stream-activity.js';
import { streamLags } from '../../src/report/stream-lag.js';
import {
  createSaasDatabase,
  insertAccounts,
  insertRecords,
  meshConfig,
  migrateAndAssign,
  range,
  readFlags,
  SERVICE,
  type SaasDatabase,
} from '../helpers/mesh-fixture.js';
import { setRecordFlags } from '../helpers/saas-fixture.js';
import { DIALECTS } from '../helpers/test-databases.js';

const cleanups: (() => Promise<void>)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const PROTOCOL = 'deliveries';
const config = meshConfig({
  protocol: PROTOCOL,
  nodes: [
    { name: 'node1', url: 'http://127.0.0.1:1', apiKey: 'k1' },
    { name: 'node2', url: 'http://127.0.0.1:2', apiKey: 'k2' },
  ],
  batchSize: 10,
  maxAttempts: 2,
});
const outcome = (node: string, extra: Record<string, unknown>) => ({ service: SERVICE, protocol: PROTOCOL, node, ...extra });
const MINUTE = 60_000;

/** Accounts 1..4 (round-robin: odd ones on node1, even ones on node2), records 1..8 at `times[i]` (epoch ms). */
async function database(
  dialect: (typeof DIALECTS)[number]['name'],
  times: number[] = range(1, 8).map((i) => Date.UTC(2024, 0, 1) + i * 1000),
): Promise<SaasDatabase> {
  const saas = await createSaasDatabase(dialect);
  cleanups.push(saas.cleanup);
  await insertAccounts(saas.database, range(1, 4));
  await insertRecords(
    saas.database,
    times.map((timeMs, i) => ({ id: i + 1, account: (i % 4) + 1, timeMs })),
  );
  await migrateAndAssign(saas.database, config);
  return saas;
}

for (const { name: dialect, available } of DIALECTS) {
  describe.skipIf(!available)(`stream history and the dashboard's reads on ${dialect}`, () => {
    it('a run writes one row per stream it worked, adds to the totals, and prunes what is older than 7 days', async () => {
      const { database: db } = await database(dialect);
      const old = Date.now() - STREAM_HISTORY_MS - MINUTE;
      const kept = Date.now() - STREAM_HISTORY_MS + 10 * MINUTE;
      await db.db
        .insertInto('workmesh_stream_history')
        .values(
          [old, kept].map((t) => ({
            run_id: `r${t}`,
            stage: 'push',
            service: SERVICE,
            protocol: PROTOCOL,
            node: 'node1',
            started_at: t,
            finished_at: t,
            records: 1,
            failed: 0,
            error: null,
          })),
        )
        .execute();

      const first = await startRun(db.db, 'push', 'me');
      await recordStreamHistory(db.db, first, 'push', [
        outcome('node1', { pushed: 5, failed: 0 }),
        outcome('node2', { pushed: 2, failed: 3, error: 'HTTP 500: down' }),
        outcome('node3', { pushed: 0, failed: 0, skipped: 'another master is working this push stream' }),
      ]);
      const second = await startRun(db.db, 'pull', 'me');
      await recordStreamHistory(db.db, second, 'pull', [outcome('node1', { pulled: 4, failed: 1 })]);
      const third = await startRun(db.db, 'push', 'me');
      await recordStreamHistory(db.db, third, 'push', [outcome('node1', { pushed: 7, failed: 0 })]);

      const rows = await db.db.selectFrom('workmesh_stream_history').selectAll().execute();
      // Runs may end within the same millisecond: compared without order.
      const text = (row: unknown[]) => JSON.stringify(row);
      expect(rows.map((r) => text([r.run_id, r.stage, r.node, Number(r.records), Number(r.failed), r.error ?? null])).sort()).toEqual(
        [
          [`r${kept}`, 'push', 'node1', 1, 0, null],
          [first, 'push', 'node1', 5, 0, null],
          [first, 'push', 'node2', 2, 3, 'HTTP 500: down'],
          [second, 'pull', 'node1', 4, 1, null],
          [third, 'push', 'node1', 7, 0, null],
        ]
          .map(text)
          .sort(),
      );
      const run = await db.db.selectFrom('workmesh_run').select('started_at').where('id', '=', first).executeTakeFirstOrThrow();
      expect(Number(rows.find((r) => r.run_id === first)!.started_at)).toBe(Number(run.started_at));
      const thirdEnd = Number(rows.find((r) => r.run_id === third)!.finished_at);

      const totals = await db.db.selectFrom('workmesh_stream_totals').selectAll().orderBy('stage').orderBy('node').execute();
      expect(totals.map((t) => [t.stage, t.node, Number(t.records), Number(t.failed)])).toEqual([
        ['pull', 'node1', 4, 1],
        ['push', 'node1', 12, 0],
        ['push', 'node2', 2, 3],
      ]);

      const activity = await streamActivity(db.db);
      const push2 = activity.find((a) => a.stage === 'push' && a.node === 'node2')!;
      expect([push2.lastSuccessAt, push2.lastError, push2.records]).toEqual([null, 'HTTP 500: down', 2]);
      const push1 = activity.find((a) => a.stage === 'push' && a.node === 'node1')!;
      expect([push1.lastError, push1.records, push1.lastSuccessAt === thirdEnd]).toEqual([null, 13, true]);
    });

    it("throughput counts records per minute of the runs' ends, per stage, over the window asked for", async () => {
      const { database: db } = await database(dialect);
      const now = Date.UTC(2026, 0, 1, 12, 30, 20);
      const at = (minutesAgo: number, stage: string, records: number, node = 'node1') => ({
        run_id: `r${minutesAgo}${stage}${node}`,
        stage,
        service: SERVICE,
        protocol: PROTOCOL,
        node,
        started_at: now - minutesAgo * MINUTE - 5000,
        finished_at: now - minutesAgo * MINUTE,
        records,
        failed: 0,
        error: null,
      });
      await db.db
        .insertInto('workmesh_stream_history')
        .values([at(0, 'push', 3), at(0, 'push', 4, 'node2'), at(0, 'pull', 2), at(2, 'push', 5), at(59, 'pull', 6), at(61, 'push', 100)])
        .execute();
      const series = await throughput(db.db, { hours: 1, now });
      expect(series.minutes.length).toBe(60);
      expect(series.minutes.at(-1)).toBe(Math.floor(now / MINUTE) * 60);
      expect(series.pushed.at(-1)).toBe(7);
      expect(series.pulled.at(-1)).toBe(2);
      expect(series.pushed.at(-3)).toBe(5);
      expect(series.pulled[0]).toBe(6);
      expect(series.pushed.reduce((a, b) => a + b, 0)).toBe(12);
      const node2 = await throughput(db.db, { hours: 1, now, node: 'node2' });
      expect(node2.pushed.reduce((a, b) => a + b, 0)).toBe(4);
    });

    it('the lag is the age of the oldest record still pending on each node, failed and processed ones left out', async () => {
      const now = Date.UTC(2026, 0, 1, 12, 0, 0);
      // Records 1..8: 1, 3, 5, 7 on node1 (accounts 1, 3), 2, 4, 6, 8 on node2; record i made i minutes before now.
      const { database: db } = await database(
        dialect,
        range(1, 8).map((i) => now - i * MINUTE),
      );
      const flags = { table: 'delivery', protocol: PROTOCOL };
      await setRecordFlags(db, flags, [7], { pushSuccess: false, pushError: 'dead', pushAttempts: 2 });
      await setRecordFlags(db, flags, [5], { pushSuccess: true, pullSuccess: true });
      await setRecordFlags(db, flags, [8, 6, 4, 2], { pushSuccess: true, pullSuccess: true });
      const lags = await streamLags(db, config, now);
      expect(lags.map((l) => [l.node, l.lagMs])).toEqual([
        ['node1', 3 * MINUTE],
        ['node2', 0],
      ]);
    });

    it('retry by ids revives only the records still dead; the failed page filters dead ones and pages', async () => {
      const { database: db } = await database(dialect);
      const flags = { table: 'delivery', protocol: PROTOCOL };
      await setRecordFlags(db, flags, [1, 2, 3, 4], { pushSuccess: false, pushError: 'HTTP 500', pushAttempts: 2 });
      await setRecordFlags(db, flags, [5], { pushError: 'HTTP 500', pushAttempts: 1 });
      await setRecordFlags(db, flags, [6], { pushSuccess: true, pushAttempts: 1 });

      const dead = await failedRecordsPage(db, config, { state: 'dead' }, { offset: 0, limit: 3 });
      expect([dead.total, dead.records.map((r) => r.id).map(Number)]).toEqual([4, [1, 2, 3]]);
      const next = await failedRecordsPage(db, config, { state: 'dead' }, { offset: 3, limit: 3 });
      expect(next.records.map((r) => Number(r.id))).toEqual([4]);
      const failed = await failedRecordsPage(db, config, { state: 'failed', node: 'node1' }, { offset: 0, limit: 50 });
      expect([failed.total, failed.records.map((r) => [Number(r.id), r.state])]).toEqual([
        3,
        [
          [1, 'dead'],
          [3, 'dead'],
          [5, 'push'],
        ],
      ]);

      // 5 failed but is not dead, 6 was delivered since the page showed it: both are left alone.
      const result = await retryRecords(db, config, { service: SERVICE, protocol: PROTOCOL, ids: [1, 3, 5, 6] });
      expect(result.revived).toBe(2);
      const after = await readFlags(db, PROTOCOL);
      expect([1, 3, 5, 6, 2].map((id) => [id, after.get(id)!.pushSuccess, after.get(id)!.pushAttempts])).toEqual([
        [1, null, 0],
        [3, null, 0],
        [5, null, 1],
        [6, true, 1],
        [2, false, 2],
      ]);
      expect(after.get(5)!.pushError).toBe('HTTP 500');
    });

    it('the run history pages newest first with durations, counts and errors', async () => {
      const { database: db } = await database(dialect);
      const ids: string[] = [];
      for (let i = 0; i < 3; i++) {
        const id = await startRun(db.db, i === 1 ? 'pull' : 'push', 'me');
        await db.db
          .updateTable('workmesh_run')
          .set({ started_at: 1_000 * (i + 1) })
          .where('id', '=', id)
          .execute();
        await finishRun(db.db, id, i === 2 ? 'failed' : 'ok', [
          outcome('node1', { pushed: 3, failed: i }),
          ...(i === 2 ? [outcome('node2', { pushed: 0, failed: 0, error: 'refused' })] : []),
        ]);
        ids.push(id);
      }
      const page = await runHistory(db.db, { offset: 0, limit: 2 });
      expect(page.total).toBe(3);
      expect(page.runs.map((r) => [r.id, r.status, r.records, r.failed, r.streams, r.errors])).toEqual([
        [ids[2], 'failed', 3, 2, 2, ['node2 deliveries: refused']],
        [ids[1], 'ok', 3, 1, 1, []],
      ]);
      expect(page.runs[0]!.durationMs).toBe(page.runs[0]!.finishedAt! - 3_000);
    });
  });
}
