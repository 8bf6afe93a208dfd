import { pushRecords } from '../../src/push/push-records.js';
import type { CommandContext } from '../command.js';
import { runStageCommand } from '../stage-run.js';
import { interruptedStatus } from '../stop-signal.js';
import { warnUnknownNodes } from '../unknown-nodes-warning.js';

export async function run(ctx: CommandContext): Promise<number> {
  const config = await ctx.config();
  const database = await ctx.database();
  await warnUnknownNodes(ctx, database, config);
  const summary = await runStageCommand(ctx, 'push', (options) => pushRecords(database, config, options));
  if (!ctx.out.json) {
    ctx.out.line(`pushed ${summary.pushed}, failed ${summary.failed}${summary.interrupted ? `, interrupted by ${summary.interrupted}` : ''}`);
    const worked = summary.nodes.filter((n) => n.pushed > 0 || n.failed > 0 || n.skipped);
    if (worked.length > 0) {
      ctx.out.table(
        ['node', 'service', 'protocol', 'pushed', 'failed', 'note'],
        worked.map((n) => [n.node, n.service, n.protocol, n.pushed, n.failed, n.skipped ?? (n.error ? 'stopped: see stderr' : '')]),
      );
    }
  }
  return interruptedStatus(summary.interrupted) ?? (summary.failed > 0 ? 1 : 0);
}
