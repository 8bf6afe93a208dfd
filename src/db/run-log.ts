import { randomUUID } from 'node:crypto';
import type { Db } from '../config/service-config.js';
import { fitRunSummary } from './fit-run-summary.js';

/** Records a run in `workmesh_run`; returns its id. */
export async function startRun(db: Db, command: string, owner: string): Promise<string> {
  const id = randomUUID();
  await db.insertInto('workmesh_run').values({ id, command, owner, started_at: Date.now(), status: 'running' }).execute();
  return id;
}

export async function finishRun(db: Db, id: string, status: 'ok' | 'failed', summary: unknown): Promise<void> {
  await db
    .updateTable('workmesh_run')
    .set({ finished_at: Date.now(), status, summary: fitRunSummary(summary) })
    .where('id', '=', id)
    .execute();
}

/**
 * Marks `abandoned` the runs a master left `running` because it was killed or
 * crashed: their owner holds no live lease (a working master renews its own),
 * and they started longer ago than a lease lives (a master that has just
 * started may hold none yet). Should it mark a live master's run, one paused
 * past its leases, that master's own `finishRun` sets the run right.
 * Returns how many runs it marked.
 */
export async function markAbandonedRuns(db: Db, now: number, leaseMs: number): Promise<number> {
  const liveOwners = db.selectFrom('workmesh_lease').select('owner').where('expires_at', '>=', now);
  const result = await db
    .updateTable('workmesh_run')
    .set({ status: 'abandoned', finished_at: now })
    .where('status', '=', 'running')
    .where('started_at', '<', now - leaseMs)
    .where('owner', 'not in', liveOwners)
    .executeTakeFirst();
  return Number(result.numUpdatedRows);
}
