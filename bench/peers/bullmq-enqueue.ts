import { Queue } from 'bullmq';
import pg from 'pg';
import { benchRecord, READ_PAGE_SQL, type DeliveryRow } from './bench-record.js';
import { bullmqQueueName, BULLMQ_ADD_BATCH, BULLMQ_JOB_OPTIONS, redisConnection } from './bullmq-settings.js';

/**
 * The master side of BullMQ in the bench: reads the table in (sort, id)
 * order, page by page, and adds one job per record with addBulk, the next
 * page read while this one is added. DATABASE_URL, REDIS_URL.
 */
async function main(): Promise<void> {
  const queue = new Queue(bullmqQueueName(), { connection: redisConnection(process.env.REDIS_URL!) });
  const reader = new pg.Client({ connectionString: process.env.DATABASE_URL! });
  await reader.connect();
  const read = (after: [string, number]) => reader.query<DeliveryRow>(READ_PAGE_SQL, [...after, BULLMQ_ADD_BATCH]).then((r) => r.rows);
  let added = 0;
  try {
    let page = await read(['-infinity', 0]);
    while (page.length > 0) {
      const last = page[page.length - 1]!;
      const next = read([(last.create_time as Date).toISOString(), last.id]);
      await queue.addBulk(page.map((row) => ({ name: 'digest', data: benchRecord(row), opts: BULLMQ_JOB_OPTIONS })));
      added += page.length;
      page = await next;
    }
  } finally {
    await reader.end();
    await queue.close();
  }
  process.stdout.write(`${JSON.stringify({ added })}\n`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
