import { retryDeadRecords } from '../../src/push/retry-dead-records.js';
import type { CommandContext } from '../command.js';
import { checkedFilters } from '../filters.js';
import { warnUnknownNodes } from '../unknown-nodes-warning.js';

export async function run(ctx: CommandContext): Promise<number> {
  const config = await ctx.config();
  const filters = checkedFilters(ctx, config);
  const dryRun = Boolean(ctx.options['dry-run']);
  const database = await ctx.database();
  await warnUnknownNodes(ctx, database, config);
  const results = await retryDeadRecords(database, config, { ...filters, dryRun });
  if (ctx.out.json) ctx.out.document(results);
  else {
    for (const r of results) {
      ctx.out.line(
        `${r.service} ${r.protocol}: ${r.revived} dead record${r.revived === 1 ? '' : 's'} ${dryRun ? 'would be pending again; dry run, nothing written' : 'pending again'}`,
      );
    }
  }
  return 0;
}
