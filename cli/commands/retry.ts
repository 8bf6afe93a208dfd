import { requireNode, requireService } from '../../src/config/mesh-config.js';
import { retryDeadRecords } from '../../src/push/retry-dead-records.js';
import type { CommandContext } from '../command.js';

export async function run(ctx: CommandContext): Promise<number> {
  const config = await ctx.config();
  if (ctx.options.service !== undefined) requireService(config, ctx.options.service);
  if (ctx.options.node !== undefined) requireNode(config, ctx.options.node);
  const results = await retryDeadRecords(await ctx.database(), config, {
    ...(ctx.options.service !== undefined && { service: ctx.options.service }),
    ...(ctx.options.node !== undefined && { node: ctx.options.node }),
  });
  if (ctx.out.json) ctx.out.document(results);
  else for (const r of results) ctx.out.line(`${r.service} ${r.protocol}: ${r.revived} dead record${r.revived === 1 ? '' : 's'} pending again`);
  return 0;
}
