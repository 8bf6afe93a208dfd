import { drainNode } from '../../src/assign/move-entities.js';
import { requireService } from '../../src/config/mesh-config.js';
import { requireOption, type CommandContext } from '../command.js';
import { warnUnknownNodes } from '../unknown-nodes-warning.js';

export async function run(ctx: CommandContext): Promise<number> {
  const config = await ctx.config();
  const node = requireOption(ctx, 'node');
  if (ctx.options.service !== undefined) requireService(config, ctx.options.service);
  const dryRun = Boolean(ctx.options['dry-run']);
  const database = await ctx.database();
  await warnUnknownNodes(ctx, database, config);
  // A node no longer in nodes.config.ts can be drained too: that is how the work of a removed node finds a home.
  const result = await drainNode(database.db, config, node, {
    ...(ctx.options.service !== undefined && { service: ctx.options.service }),
    repush: Boolean(ctx.options.repush),
    dryRun,
  });
  if (ctx.out.json) ctx.out.document(result);
  else if (result.services.length === 0) ctx.out.line(`${node}: holds no entities; nothing to drain`);
  else {
    for (const s of result.services) {
      const spread = Object.entries(s.byNode)
        .map(([to, n]) => `${to} ${n}`)
        .join(', ');
      const records = s.repushRecords ? Object.values(s.repushRecords).reduce((a, b) => a + b, 0) : undefined;
      ctx.out.line(
        `${s.service}: ${dryRun ? 'would move' : 'moved'} ${s.moved} off ${node}${spread ? ` (${spread})` : ''}` +
          (records === undefined ? '' : `; ${records} record${records === 1 ? '' : 's'} ${dryRun ? 'would be' : 'will be'} pushed again`) +
          (dryRun ? '; dry run, nothing written' : ''),
      );
      if (s.moves && s.moves.length > 0)
        ctx.out.table(
          ['entity', 'from', 'to'],
          s.moves.map((m) => [String(m.id), m.from, m.to]),
        );
    }
  }
  for (const s of result.services.filter((s) => s.stayed > 0)) {
    ctx.out.error(`mesh drain: ${s.service}: ${s.stayed} entities ${dryRun ? 'would stay' : 'stay'} on ${node}: ${s.reasons.join('; ')}`);
  }
  return result.services.some((s) => s.stayed > 0) ? 1 : 0;
}
