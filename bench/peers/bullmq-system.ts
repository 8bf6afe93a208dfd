import { randomBytes } from 'node:crypto';
import { Queue } from 'bullmq';
import { packageFile } from '../../src/package-files.js';
import { redisConnection } from './bullmq-settings.js';
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
    const name = `workmesh-bench-digest-${randomBytes(4).toString('hex')}`;
    const env = { DATABASE_URL: ctx.db.url, REDIS_URL: ctx.redisUrl, BULLMQ_QUEUE: name };
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
      // Completed jobs are removed as they finish; the queue's own keys go too.
      const queue = new Queue(name, { connection: redisConnection(ctx.redisUrl) });
      await queue.obliterate({ force: true }).finally(() => queue.close());
    }
  },
};
