import { runMigrations } from 'graphile-worker';
import { packageFile } from '../../src/package-files.js';
import { runMeasured } from './measured-child.js';
import { measureGroups } from './measure-groups.js';
import type { PeerSystem } from './peer-system.js';
import { startWorkerPool } from './worker-pool.js';

/**
 * graphile-worker: one job per record, added from the table by a separate
 * process; `ordered` puts each tenant in its own named queue. `localQueue`
 * with `ordered` is the combination graphile/worker#621 reports as breaking
 * the named queues' order (not one of the bench's defaults).
 */
export function graphileSystem(ordered: boolean, localQueue = !ordered): PeerSystem {
  const local = ordered && localQueue;
  return {
    id: local ? 'graphile-queue-local' : ordered ? 'graphile-queue' : 'graphile',
    label: local
      ? 'graphile-worker 0.17.3, `queue_name` per tenant, `localQueue`'
      : ordered
        ? 'graphile-worker 0.17.3, `queue_name` per tenant'
        : 'graphile-worker 0.17.3, no `queue_name`',
    promisesOrder: ordered,
    async run(ctx) {
      const url = ctx.db.url;
      // The schema is installed once, as an application does at deploy time: not part of the job.
      await runMigrations({ connectionString: url, logger: undefined });
      const env = { DATABASE_URL: url, ORDERED: ordered ? '1' : '0', LOCAL_QUEUE: localQueue ? '1' : '0' };
      const pool = await startWorkerPool(packageFile('dist/bench/peers/graphile-worker-process.js'), ctx.workers, env);
      try {
        return await measureGroups(ctx, pool.pids, async () => {
          const done = pool.waitDone(ctx.records, ctx.timeoutMs);
          done.catch(() => undefined);
          const enqueue = await runMeasured(packageFile('dist/bench/peers/graphile-enqueue.js'), [], env);
          if (enqueue.exitCode !== 0) throw new Error(`graphile enqueue exited ${enqueue.exitCode}: ${enqueue.stderr.slice(0, 2000)}`);
          ctx.log(`graphile: ${ctx.records} jobs added in ${enqueue.wallSeconds.toFixed(1)} s`);
          await done;
          return enqueue.cpuSeconds;
        });
      } finally {
        await pool.stop();
      }
    },
  };
}
