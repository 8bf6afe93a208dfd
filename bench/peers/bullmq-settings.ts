/**
 * BullMQ's throughput settings, from its docs: jobs added with Queue.addBulk
 * ("Adding jobs in bulk": fewer round trips to Redis), a worker concurrency
 * factor (the "Concurrency" guide's example, 50) for jobs that wait on I/O,
 * and completed jobs removed (the "Going to production" advice, so that Redis
 * does not fill up). Each worker process writes digests through a pool of its own.
 */
/** The queue's name: BULLMQ_QUEUE when the bench passes one (a name of its own per run), so that two runs on one Redis never share a queue. */
export function bullmqQueueName(): string {
  return process.env.BULLMQ_QUEUE ?? 'workmesh-bench-digest';
}
export const BULLMQ_CONCURRENCY = 50;
export const BULLMQ_PG_POOL = 10;
export const BULLMQ_ADD_BATCH = 1000;
export const BULLMQ_JOB_OPTIONS = { removeOnComplete: true, removeOnFail: 1000 } as const;

/** ioredis connection options from a redis:// URL; BullMQ workers need maxRetriesPerRequest null. */
export function redisConnection(url: string) {
  const parsed = new URL(url);
  return {
    host: parsed.hostname,
    port: Number(parsed.port || 6379),
    db: Number(parsed.pathname.slice(1) || 0),
    maxRetriesPerRequest: null,
  };
}
