import { rebalanceService, type RebalanceResult } from '../../src/assign/move-entities.js';
import { requireService } from '../../src/config/mesh-config.js';
import type { CommandContext } from '../command.js';
import { warnUnknownNodes } from '../unknown-nodes-warning.js';

export async function run(ctx: CommandContext): Promise<number> {
  const config = await ctx.config();
  const services = ctx.options.service === undefined ? config.services : [requireService(config, ctx.options.service)];
  const database = await ctx.database();
  await warnUnknownNodes(ctx, database, config);
  const dryRun = Boolean(ctx.options['dry-run']);
  const results: RebalanceResult[] = [];
  for (const service of services) results.push(await rebalanceService(database.db, config, service, { dryRun }));
  if (ctx.out.json) ctx.out.document(results);
  else {
    for (const r of results) {
      ctx.out.line(`${r.service}: ${r.moves.length} move${r.moves.length === 1 ? '' : 's'}${dryRun ? ' (dry run, nothing written)' : ''}`);
      for (const m of r.moves) ctx.out.line(`  entity ${String(m.id)}: ${m.from ?? '-'} -> ${m.to}`);
    }
  }
  for (const r of results.filter((r) => r.stuck > 0)) {
    ctx.out.error(`mesh rebalance: ${r.service}: ${r.stuck} entities are on nodes that no longer run it and no node has room for them`);
  }
  return results.some((r) => r.stuck > 0) ? 1 : 0;
}
