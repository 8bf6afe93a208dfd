import { collectMetrics } from '../../src/metrics/collect-metrics.js';
import type { CommandContext } from '../command.js';

/** `mesh metrics`: the dashboard's /metrics text on stdout, for node_exporter's textfile collector. */
export async function run(ctx: CommandContext): Promise<number> {
  const config = await ctx.config();
  ctx.out.stdout.write(await collectMetrics(await ctx.database(), config));
  return 0;
}
