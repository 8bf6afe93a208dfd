import { afterEach, describe, expect, it } from 'vitest';
import { migrateDatabase } from '../../src/db/migrate-database.js';
import { markAbandonedRuns, startRun } from '../../src/db/run-log.js';
import { createSaasSchema, saasConfigObjects, toMeshConfig } from '../helpers/saas-fixture.js';
import { DIALECTS, openTestDatabase } from '../helpers/test-databases.js';

const cleanups: (() => Promise<void>)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const LEASE_MS = 60_000;
const NOW = 1_800_000_000_000;

for (const { name: dialect, available } of DIALECTS) {
  describe.skipIf(!available)(`run log on ${dialect}`, () => {
    it('marks abandoned only the running runs of owners without a live lease, older than a lease', async () => {
      const test = await openTestDatabase(dialect);
      cleanups.push(test.cleanup);
      const { db } = test.database;
      await createSaasSchema(test.database);
      const config = toMeshConfig(saasConfigObjects({ nodes: [{ name: 'node1', url: 'http://127.0.0.1:3001', apiKey: 'k' }] }));
      expect((await migrateDatabase(test.database, config, { dryRun: false })).problems).toEqual([]);

      const old = NOW - 2 * LEASE_MS;
      const runs = [
        { id: 'killed', owner: 'master-a', started_at: old, status: 'running' },
        { id: 'working', owner: 'master-b', started_at: old, status: 'running' },
        { id: 'lease-expired', owner: 'master-c', started_at: old, status: 'running' },
        { id: 'just-started', owner: 'master-d', started_at: NOW - 1_000, status: 'running' },
        { id: 'finished', owner: 'master-e', started_at: old, status: 'ok' },
      ];
      await db
        .insertInto('workmesh_run')
        .values(runs.map((r) => ({ ...r, command: 'push' })))
        .execute();
      await db
        .insertInto('workmesh_lease')
        .values([
          { stream: 'push:s:node1:p', owner: 'master-b', expires_at: NOW + 30_000 },
          { stream: 'push:s:node2:p', owner: 'master-c', expires_at: NOW - 1 },
        ])
        .execute();

      expect(await markAbandonedRuns(db, NOW, LEASE_MS)).toBe(2);
      const rows = await db.selectFrom('workmesh_run').select(['id', 'status', 'finished_at']).orderBy('id').execute();
      expect(Object.fromEntries(rows.map((r) => [r.id, [r.status, r.finished_at === null ? null : Number(r.finished_at)]]))).toEqual({
        finished: ['ok', null],
        'just-started': ['running', null],
        killed: ['abandoned', NOW],
        'lease-expired': ['abandoned', NOW],
        working: ['running', null],
      });
      // A run started now is not touched by the next sweep.
      const id = await startRun(db, 'pull', 'master-f');
      expect(await markAbandonedRuns(db, Date.now(), LEASE_MS)).toBe(0);
      const fresh = await db.selectFrom('workmesh_run').select('status').where('id', '=', id).executeTakeFirstOrThrow();
      expect(fresh.status).toBe('running');
    });
  });
}
