import { failedRecords } from '../../src/report/failed-records.js';
import type { CommandContext } from '../command.js';
import { checkedFilters } from '../filters.js';
import { warnUnknownNodes } from '../unknown-nodes-warning.js';
import { FAILED_LIST_LIMIT } from './index.js';

export async function run(ctx: CommandContext): Promise<number> {
  const config = await ctx.config();
  const filters = checkedFilters(ctx, config);
  const database = await ctx.database();
  await warnUnknownNodes(ctx, database, config);
  const records = await failedRecords(database, config, { ...filters, limit: FAILED_LIST_LIMIT });
  if (ctx.out.json) ctx.out.document(records);
  else if (records.length === 0) ctx.out.line('no failed records');
  else {
    ctx.out.table(
      ['service', 'protocol', 'id', 'node', 'state', 'attempts', 'error'],
      records.map((r) => [r.service, r.protocol, String(r.id), r.node, r.state, r.attempts, (r.error ?? '').slice(0, 80)]),
    );
  }
  return 0;
}
