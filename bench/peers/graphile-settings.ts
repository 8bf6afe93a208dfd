/**
 * graphile-worker's throughput settings, from its docs ("Performance": a
 * concurrency per process, a pool one larger, completions batched with
 * `completeJobBatchDelay: 0`, the local queue fetching jobs in batches), scaled
 * to the 100 connections of this server: 4 processes × 11 connections.
 * With `queue_name` the local queue is left out: in 0.17.3 it lets jobs of one
 * named queue run concurrently (graphile/worker#621), which breaks the order
 * `queue_name` exists for. (`graphile-queue-local` keeps it, to show the order check catching that.)
 */
export function graphileSettings(ordered: boolean, localQueue = !ordered) {
  return {
    concurrentJobs: 10,
    maxPoolSize: 11,
    // LISTEN/NOTIFY wakes the workers when jobs are added; the poll is only the fallback (its default, 2 s).
    pollInterval: 2000,
    completeJobBatchDelay: 0,
    failJobBatchDelay: 0,
    ...(localQueue && { localQueue: { size: 500 } }),
  };
}

export const GRAPHILE_TASK = 'bench_digest';
/** Jobs per addJobs call (one add_jobs statement). */
export const GRAPHILE_ADD_BATCH = 1000;
