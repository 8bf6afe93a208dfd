import { pushRecords } from '../../src/push/push-records.js';
import type { Command } from '../command.js';
import { concurrencyOption } from '../numeric-options.js';
import { ProgressLine } from '../progress.js';
import { stopOnSignals } from '../stop-signal.js';

export const pushCommand: Command = {
  name: 'push',
  summary: 'pushes pending records to their nodes, in (sort, id) order, in batches',
  usage: 'mesh push [--service S] [--node N] [--concurrency N]',
  async run(ctx) {
    const config = await ctx.config();
    const database = await ctx.database();
    const progress = new ProgressLine({ out: ctx.out, label: 'push' });
    const stop = stopOnSignals();
    const summary = await pushRecords(database, config, {
      signal: stop.signal,
      ...(ctx.options.service !== undefined && { service: ctx.options.service }),
      ...(ctx.options.node !== undefined && { node: ctx.options.node }),
      concurrency: concurrencyOption(ctx),
      onBatch: progress.onBatch,
    }).finally(() => stop.release());
    progress.end();
    if (ctx.out.json) ctx.out.document(summary);
    else {
      ctx.out.line(`pushed ${summary.pushed}, failed ${summary.failed}`);
      const worked = summary.nodes.filter((n) => n.pushed > 0 || n.failed > 0 || n.skipped);
      if (worked.length > 0) {
        ctx.out.table(
          ['node', 'service', 'protocol', 'pushed', 'failed', 'note'],
          worked.map((n) => [n.node, n.service, n.protocol, n.pushed, n.failed, n.skipped ?? (n.error ? 'stopped: see stderr' : '')]),
        );
      }
    }
    for (const n of summary.nodes.filter((n) => n.error)) {
      ctx.out.error(`mesh push: ${n.node} (${n.service} ${n.protocol}): ${n.error}`);
    }
    return summary.failed > 0 ? 1 : 0;
  },
};
