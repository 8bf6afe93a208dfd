import { requireNode, requireService } from '../../src/config/mesh-config.js';
import { failedRecords } from '../../src/report/failed-records.js';
import type { CommandContext } from '../command.js';
import { FAILED_LIST_LIMIT } from './index.js';

export async function run(ctx: CommandContext): Promise<number> {
  const config = await ctx.config();
  if (ctx.options.service !== undefined) requireService(config, ctx.options.service);
  if (ctx.options.node !== undefined) requireNode(config, ctx.options.node);
  const records = await failedRecords(await ctx.database(), config, {
    ...(ctx.options.service !== undefined && { service: ctx.options.service }),
    ...(ctx.options.node !== undefined && { node: ctx.options.node }),
    limit: FAILED_LIST_LIMIT,
  });
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
