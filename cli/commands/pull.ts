import { pullRecords } from '../../src/pull/pull-records.js';
import type { CommandContext } from '../command.js';
import { runStageCommand, someNodeDown } from '../stage-run.js';
import { interruptedStatus } from '../stop-signal.js';
import { warnUnknownNodes } from '../unknown-nodes-warning.js';

export async function run(ctx: CommandContext): Promise<number> {
  const config = await ctx.config();
  const database = await ctx.database();
  await warnUnknownNodes(ctx, database, config);
  const summary = await runStageCommand(ctx, 'pull', (options) => pullRecords(database, config, options));
  if (!ctx.out.json) {
    ctx.out.line(
      `pulled ${summary.pulled}, failed ${summary.failed}${summary.interrupted ? `, interrupted by ${summary.interrupted}` : ''}`,
    );
    const worked = summary.nodes.filter((n) => n.pulled > 0 || n.failed > 0 || n.notReady > 0 || n.skipped || n.error);
    if (worked.length > 0) {
      ctx.out.table(
        ['node', 'service', 'protocol', 'pulled', 'failed', 'not ready', 'note'],
        worked.map((n) => [
          n.node,
          n.service,
          n.protocol,
          n.pulled,
          n.failed,
          n.notReady,
          n.skipped ?? (n.unavailable !== undefined ? 'unavailable: see stderr' : n.error ? 'stopped: see stderr' : ''),
        ]),
      );
    }
  }
  return (
    interruptedStatus(summary.interrupted) ??
    (summary.failed > 0 || summary.nodes.some((n) => n.error) || someNodeDown(summary.nodes) ? 1 : 0)
  );
}
