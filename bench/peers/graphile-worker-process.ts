import { Logger, run } from 'graphile-worker';
import { benchRecord, digestOf, WRITE_DIGEST_SQL, type DeliveryRow } from './bench-record.js';
import { GRAPHILE_TASK, graphileSettings } from './graphile-settings.js';
import { workerReporter } from './worker-pool.js';

/**
 * One graphile-worker process of the bench: its task hashes the record in the
 * job's payload and writes the digest back to the row through the worker's own
 * pool. DATABASE_URL, ORDERED=1 for the per-tenant-queue settings,
 * LOCAL_QUEUE=1 for the local queue (the default without ORDERED).
 */
async function main(): Promise<void> {
  const reporter = workerReporter();
  const quiet = new Logger((scope) => (level, message) => {
    if (level === 'error') console.error(`[graphile-worker ${scope.label ?? ''}] ${message}`);
  });
  const runner = await run({
    noHandleSignals: true,
    logger: quiet,
    preset: {
      worker: {
        connectionString: process.env.DATABASE_URL!,
        ...graphileSettings(process.env.ORDERED === '1', process.env.LOCAL_QUEUE === '1'),
      },
    },
    taskList: {
      [GRAPHILE_TASK]: async (payload, helpers) => {
        const record = benchRecord(payload as DeliveryRow);
        await helpers.withPgClient((client) => client.query(WRITE_DIGEST_SQL, [digestOf(record), record.id]));
        reporter.stored();
      },
    },
  });
  runner.events.on('job:error', ({ error }) => reporter.failed(error));
  process.once('SIGTERM', () => {
    runner.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  });
  reporter.ready();
  await runner.promise;
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
