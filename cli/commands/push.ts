import { pushRecords } from '../../src/push/push-records.js';
import type { CommandContext } from '../command.js';
import type { Output } from '../output.js';
import type { FailoverResult } from '../../src/assign/failover-nodes.js';
import { runStageCommand, someNodeDown } from '../stage-run.js';
import { interruptedStatus } from '../stop-signal.js';
import { warnUnknownNodes } from '../unknown-nodes-warning.js';

export async function run(ctx: CommandContext): Promise<number> {
  const config = await ctx.config();
  const database = await ctx.database();
  await warnUnknownNodes(ctx, database, config);
  const summary = await runStageCommand(ctx, 'push', (options) => pushRecords(database, config, options));
  printFailover(ctx.out, 'mesh push', summary.failover ?? []);
  if (!ctx.out.json) {
    ctx.out.line(
      `pushed ${summary.pushed}, failed ${summary.failed}${summary.interrupted ? `, interrupted by ${summary.interrupted}` : ''}`,
    );
    const worked = summary.nodes.filter((n) => n.pushed > 0 || n.failed > 0 || n.skipped || n.error);
    if (worked.length > 0) {
      ctx.out.table(
        ['node', 'service', 'protocol', 'pushed', 'failed', 'note'],
        worked.map((n) => [
          n.node,
          n.service,
          n.protocol,
          n.pushed,
          n.failed,
          n.skipped ?? (n.unavailable !== undefined ? 'unavailable: see stderr' : n.error ? 'stopped: see stderr' : ''),
        ]),
      );
    }
  }
  return interruptedStatus(summary.interrupted) ?? (summary.failed > 0 || someNodeDown(summary.nodes) ? 1 : 0);
}

/** One stderr line per node whose entities failover moved. */
export function printFailover(out: Output, prefix: string, results: FailoverResult[]): void {
  for (const f of results) {
    const to = Object.entries(f.byNode)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([node, n]) => `${node} ${n}`)
      .join(', ');
    const stayed = f.stayed > 0 ? `; ${f.stayed} stayed: ${f.reasons.join('; ')}` : '';
    out.error(
      `${prefix}: failover: ${f.node} (${f.service}) unavailable since ${f.failingSince}: moved ${f.moved} entities with re-push${to ? ` (${to})` : ''}${stayed}`,
    );
  }
}
