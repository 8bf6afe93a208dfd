import { drainNode } from '../../src/assign/move-entities.js';
import { requireOption, type CommandContext } from '../command.js';

export async function run(ctx: CommandContext): Promise<number> {
  const config = await ctx.config();
  const node = requireOption(ctx, 'node');
  const database = await ctx.database();
  const result = await drainNode(database.db, config, node, {
    ...(ctx.options.service !== undefined && { service: ctx.options.service }),
    repush: Boolean(ctx.options.repush),
  });
  if (ctx.out.json) ctx.out.document(result);
  else if (result.services.length === 0) ctx.out.line(`${node}: holds no entities; nothing to drain`);
  else {
    for (const s of result.services) {
      const spread = Object.entries(s.byNode).map(([to, n]) => `${to} ${n}`).join(', ');
      ctx.out.line(`${s.service}: moved ${s.moved} off ${node}${spread ? ` (${spread})` : ''}`);
    }
  }
  for (const s of result.services.filter((s) => s.stayed > 0)) {
    ctx.out.error(`mesh drain: ${s.service}: ${s.stayed} entities stay on ${node}: ${s.reasons.join('; ')}`);
  }
  return result.services.some((s) => s.stayed > 0) ? 1 : 0;
}
