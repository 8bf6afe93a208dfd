import { renameNode } from '../../src/assign/rename-node.js';
import { requireOption, type CommandContext } from '../command.js';

export async function run(ctx: CommandContext): Promise<number> {
  const from = requireOption(ctx, 'from');
  const to = requireOption(ctx, 'to');
  const dryRun = Boolean(ctx.options['dry-run']);
  const config = await ctx.config();
  const database = await ctx.database();
  const result = await renameNode(database, config, { from, to, dryRun });
  if (ctx.out.json) {
    ctx.out.document(result);
    return 0;
  }
  const entities = result.entities.reduce((n, e) => n + e.entities, 0);
  const records = result.records.reduce((n, r) => n + r.records, 0);
  ctx.out.line(
    `${from} -> ${to}: ${dryRun ? 'would rename' : 'renamed'} ${entities} entit${entities === 1 ? 'y' : 'ies'} and ${records} delivered record${records === 1 ? '' : 's'}` +
      (dryRun ? '; dry run, nothing written' : ''),
  );
  ctx.out.table(
    ['service', 'entities'],
    result.entities.map((e) => [e.service, e.entities]),
  );
  ctx.out.table(
    ['service', 'protocol', 'records'],
    result.records.map((r) => [r.service, r.protocol, r.records]),
  );
  return 0;
}
