import { Worker } from 'bullmq';
import pg from 'pg';
import { benchRecord, digestOf, WRITE_DIGEST_SQL, type DeliveryRow } from './bench-record.js';
import { bullmqQueueName, BULLMQ_CONCURRENCY, BULLMQ_PG_POOL, redisConnection } from './bullmq-settings.js';
import { workerReporter } from './worker-pool.js';

/** One BullMQ worker process of the bench: hashes the job's record and writes the digest back. DATABASE_URL, REDIS_URL. */
async function main(): Promise<void> {
  const reporter = workerReporter();
  const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL!, max: BULLMQ_PG_POOL });
  const worker = new Worker(
    bullmqQueueName(),
    async (job) => {
      const record = benchRecord(job.data as DeliveryRow);
      await pool.query(WRITE_DIGEST_SQL, [digestOf(record), record.id]);
      reporter.stored();
    },
    { connection: redisConnection(process.env.REDIS_URL!), concurrency: BULLMQ_CONCURRENCY },
  );
  worker.on('failed', (_job, error) => reporter.failed(error));
  worker.on('error', (error) => reporter.failed(error));
  await worker.waitUntilReady();
  process.once('SIGTERM', () => {
    worker
      .close()
      .then(() => pool.end())
      .then(
        () => process.exit(0),
        () => process.exit(1),
      );
  });
  reporter.ready();
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
