import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { checkResults } from '../../bench/peers/check-results.js';
import { createPeerDatabase, type PeerDatabase } from '../../bench/peers/peer-database.js';
import { peerSystem } from '../../bench/peers/peer-systems.js';
import { TEST_SERVER_URLS } from '../helpers/test-databases.js';

const POSTGRES = TEST_SERVER_URLS.postgres;
/** BullMQ needs Redis: set WORKMESH_TEST_REDIS_URL (redis://127.0.0.1:6379) to run its case. */
const REDIS = process.env.WORKMESH_TEST_REDIS_URL;
const RECORDS = 200;
const ENTITIES = 20;

/**
 * Each system of `npm run bench:peers` does the job on tiny data (the worker
 * programs come from dist/: `npm run build` first), and the checks that judge
 * it are shown to catch what they are for: a wrong digest, a missing one, and
 * a per-tenant order inversion planted in the results.
 */
describe.skipIf(POSTGRES === undefined)('peers bench on postgres', () => {
  let db: PeerDatabase | undefined;
  let dir: string | undefined;
  afterEach(async () => {
    await db?.close(false);
    if (dir) rmSync(dir, { recursive: true, force: true });
    db = undefined;
  });

  const cases = [
    { id: 'workmesh', redis: false },
    { id: 'graphile-queue', redis: false },
    { id: 'graphile', redis: false },
    { id: 'bullmq', redis: true },
  ];
  for (const { id, redis } of cases) {
    it.skipIf(redis && REDIS === undefined)(
      `${id} stores every digest right, and the checks catch planted faults (postgres)`,
      async () => {
        db = await createPeerDatabase(POSTGRES!, ENTITIES, RECORDS);
        dir = mkdtempSync(join(tmpdir(), 'workmesh-peers-test-'));
        const system = peerSystem(id);
        const measured = await system.run({
          db,
          serverUrl: POSTGRES!,
          redisUrl: REDIS ?? '',
          records: RECORDS,
          entities: ENTITIES,
          workers: 2,
          dir,
          timeoutMs: 120_000,
          log: () => undefined,
        });
        expect(measured.seconds).toBeGreaterThan(0);
        expect(measured.cpu.workers).toBeGreaterThan(0);

        const check = await checkResults(db.database);
        expect(check).toMatchObject({ records: RECORDS, missing: 0, wrong: 0, unsequenced: 0 });
        if (system.promisesOrder) expect(check.inversions).toBe(0);

        // Planted: one digest wrong, one gone; then, from a processing order made exactly right, tenant 1's first two records swapped.
        await sql`update delivery set result_hash = ${'0'.repeat(64)} where id = 5`.execute(db.database.db);
        await sql`update delivery set result_hash = null where id = 6`.execute(db.database.db);
        await sql`update delivery d set processed_seq = o.n from (select id, row_number() over (order by create_time, id) as n from delivery) o
        where o.id = d.id`.execute(db.database.db);
        expect(await checkResults(db.database)).toMatchObject({ missing: 1, wrong: 1, inversions: 0 });
        const { rows } = await sql<{ id: number }>`select id from delivery where id_account = 1 order by create_time, id limit 2`.execute(
          db.database.db,
        );
        await sql`update delivery set processed_seq = -processed_seq where id = ${rows[1]!.id}`.execute(db.database.db);
        expect(await checkResults(db.database)).toMatchObject({ missing: 1, wrong: 1, inversions: 1 });
      },
      180_000,
    );
  }
});
