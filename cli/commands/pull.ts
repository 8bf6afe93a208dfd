import { pullRecords } from '../../src/pull/pull-records.js';
import type { Command } from '../command.js';
import { concurrencyOption } from '../numeric-options.js';
import { ProgressLine } from '../progress.js';
import { stopOnSignals } from '../stop-signal.js';

export const pullCommand: Command = {
  name: 'pull',
  summary: 'pulls the results of processed records from their nodes and stores them',
  usage: 'mesh pull [--service S] [--node N] [--concurrency N]',
  async run(ctx) {
    const config = await ctx.config();
    const database = await ctx.database();
    const progress = new ProgressLine({ out: ctx.out, label: 'pull' });
    const stop = stopOnSignals();
    const summary = await pullRecords(database, config, {
      signal: stop.signal,
      ...(ctx.options.service !== undefined && { service: ctx.options.service }),
      ...(ctx.options.node !== undefined && { node: ctx.options.node }),
      concurrency: concurrencyOption(ctx),
      onBatch: progress.onBatch,
    }).finally(() => stop.release());
    progress.end();
    if (ctx.out.json) ctx.out.document(summary);
    else {
      ctx.out.line(`pulled ${summary.pulled}, failed ${summary.failed}`);
      const worked = summary.nodes.filter((n) => n.pulled > 0 || n.failed > 0 || n.notReady > 0 || n.skipped);
      if (worked.length > 0) {
        ctx.out.table(
          ['node', 'service', 'protocol', 'pulled', 'failed', 'not ready', 'note'],
          worked.map((n) => [n.node, n.service, n.protocol, n.pulled, n.failed, n.notReady, n.skipped ?? '']),
        );
      }
    }
    for (const n of summary.nodes.filter((n) => n.error)) {
      ctx.out.error(`mesh pull: ${n.node} (${n.service} ${n.protocol}): ${n.error}`);
    }
    return summary.failed > 0 || summary.nodes.some((n) => n.error) ? 1 : 0;
  },
};
