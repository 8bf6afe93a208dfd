import { rebuildRecordCounts } from '../../src/db/rebuild-record-counts.js';
import type { CommandContext } from '../command.js';
import { checkedFilters } from '../filters.js';

export async function run(ctx: CommandContext): Promise<number> {
  const config = await ctx.config();
  const filters = checkedFilters(ctx, config);
  const dryRun = Boolean(ctx.options['dry-run']);
  const database = await ctx.database();
  const results = await rebuildRecordCounts(database, config, {
    ...(filters.service !== undefined && { service: filters.service }),
    dryRun,
  });
  if (ctx.out.json) {
    ctx.out.document({ dryRun, protocols: results });
    return 0;
  }
  const would = dryRun ? 'would be ' : '';
  for (const r of results) {
    const built = r.wasBuilt ? '' : `, counters ${would}built for the first time`;
    const fixed =
      r.corrections.length === 0
        ? 'counters match'
        : `${r.corrections.length} counter${r.corrections.length === 1 ? '' : 's'} ${would}corrected`;
    ctx.out.line(`${r.service} ${r.protocol}: ${r.counted} records processed or failed; ${fixed}${built}`);
  }
  const corrections = results.flatMap((r) => r.corrections);
  if (corrections.length > 0) {
    ctx.out.table(
      ['service', 'protocol', 'node', 'state', 'was', 'now'],
      corrections.map((c) => [c.service, c.protocol, c.node === '' ? '(no node)' : c.node, c.state, c.was, c.now]),
    );
  }
  if (dryRun) ctx.out.line('dry run, nothing written');
  return 0;
}
