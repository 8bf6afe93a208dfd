import { randomUUID } from 'node:crypto';
import type { Db } from '../config/service-config.js';

/** Records a run in `workmesh_run`; returns its id. */
export async function startRun(db: Db, command: string, owner: string): Promise<string> {
  const id = randomUUID();
  await db
    .insertInto('workmesh_run')
    .values({ id, command, owner, started_at: Date.now(), status: 'running' })
    .execute();
  return id;
}

export async function finishRun(db: Db, id: string, status: 'ok' | 'failed', summary: unknown): Promise<void> {
  await db
    .updateTable('workmesh_run')
    .set({ finished_at: Date.now(), status, summary: JSON.stringify(summary) })
    .where('id', '=', id)
    .execute();
}
