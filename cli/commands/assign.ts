import { assignService, type AssignResult } from '../../src/assign/assign-service.js';
import { requireService } from '../../src/config/mesh-config.js';
import type { CommandContext } from '../command.js';
import { warnUnknownNodes } from '../unknown-nodes-warning.js';

export async function run(ctx: CommandContext): Promise<number> {
  const config = await ctx.config();
  const services = ctx.options.service === undefined ? config.services : [requireService(config, ctx.options.service)];
  const dryRun = Boolean(ctx.options['dry-run']);
  const database = await ctx.database();
  await warnUnknownNodes(ctx, database, config);
  const results: AssignResult[] = [];
  for (const service of services) results.push(await assignService(database.db, config, service, { dryRun }));
  if (ctx.out.json) ctx.out.document(results);
  else {
    for (const r of results) {
      const spread = Object.entries(r.byNode)
        .map(([node, n]) => `${node} ${n}`)
        .join(', ');
      ctx.out.line(
        `${r.service}: ${dryRun ? 'would assign' : 'assigned'} ${r.assigned}${spread ? ` (${spread})` : ''}${dryRun ? '; dry run, nothing written' : ''}`,
      );
      if (r.moves && r.moves.length > 0)
        ctx.out.table(
          ['entity', 'node'],
          r.moves.map((m) => [String(m.id), m.to]),
        );
    }
  }
  for (const r of results.filter((r) => r.unassigned > 0)) {
    ctx.out.error(
      `mesh assign: ${r.service}: ${r.unassigned} entit${r.unassigned === 1 ? 'y stays' : 'ies stay'} unassigned: ${r.reasons.join('; ')}`,
    );
  }
  return results.some((r) => r.unassigned > 0) ? 1 : 0;
}
