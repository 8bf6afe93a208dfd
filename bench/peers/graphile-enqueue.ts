import { makeWorkerUtils } from 'graphile-worker';
import pg from 'pg';
import { benchRecord, READ_PAGE_SQL, type DeliveryRow } from './bench-record.js';
import { GRAPHILE_ADD_BATCH, GRAPHILE_TASK } from './graphile-settings.js';

/**
 * The master side of graphile-worker in the bench: reads the table in (sort,
 * id) order, page by page, and adds one job per record with addJobs (one
 * add_jobs call a page), the next page read while the jobs of this one are
 * added. ORDERED=1 puts each job in its tenant's named queue.
 */
async function main(): Promise<void> {
  const url = process.env.DATABASE_URL!;
  const ordered = process.env.ORDERED === '1';
  const utils = await makeWorkerUtils({ connectionString: url });
  const reader = new pg.Client({ connectionString: url });
  await reader.connect();
  const read = (after: [string, number]) => reader.query<DeliveryRow>(READ_PAGE_SQL, [...after, GRAPHILE_ADD_BATCH]).then((r) => r.rows);
  let added = 0;
  try {
    let page = await read(['-infinity', 0]);
    while (page.length > 0) {
      const last = page[page.length - 1]!;
      const next = read([(last.create_time as Date).toISOString(), last.id]);
      await utils.addJobs(
        page.map((row) => ({
          identifier: GRAPHILE_TASK,
          payload: benchRecord(row),
          ...(ordered && { queueName: `tenant-${row.id_account}` }),
        })),
      );
      added += page.length;
      page = await next;
    }
  } finally {
    await reader.end();
    await utils.release();
  }
  process.stdout.write(`${JSON.stringify({ added })}\n`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
