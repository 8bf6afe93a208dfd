import { Queue } from 'bullmq';
import { packageFile } from '../../src/package-files.js';
import { BULLMQ_QUEUE, redisConnection } from './bullmq-settings.js';
import { runMeasured } from './measured-child.js';
import { measureGroups } from './measure-groups.js';
import type { PeerSystem } from './peer-system.js';
import { startWorkerPool } from './worker-pool.js';

/** BullMQ on Redis: one job per record, added from the table by a separate process. Its open-source version has no per-key order. */
export const bullmqSystem: PeerSystem = {
  id: 'bullmq',
  label: 'BullMQ 6.7.0 (Redis 7)',
  promisesOrder: false,
  async run(ctx) {
    const queue = new Queue(BULLMQ_QUEUE, { connection: redisConnection(ctx.redisUrl) });
    try {
      await queue.obliterate({ force: true });
    } finally {
      await queue.close();
    }
    const env = { DATABASE_URL: ctx.db.url, REDIS_URL: ctx.redisUrl };
    const pool = await startWorkerPool(packageFile('dist/bench/peers/bullmq-worker-process.js'), ctx.workers, env);
    try {
      return await measureGroups(ctx, pool.pids, async () => {
        const done = pool.waitDone(ctx.records, ctx.timeoutMs);
        done.catch(() => undefined);
        const enqueue = await runMeasured(packageFile('dist/bench/peers/bullmq-enqueue.js'), [], env);
        if (enqueue.exitCode !== 0) throw new Error(`bullmq enqueue exited ${enqueue.exitCode}: ${enqueue.stderr.slice(0, 2000)}`);
        ctx.log(`bullmq: ${ctx.records} jobs added in ${enqueue.wallSeconds.toFixed(1)} s`);
        await done;
        return enqueue.cpuSeconds;
      });
    } finally {
      await pool.stop();
    }
  },
};
