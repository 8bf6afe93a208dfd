import { requireNode, requireService } from '../../src/config/mesh-config.js';
import { failedRecords } from '../../src/report/failed-records.js';
import type { Command } from '../command.js';

const LIMIT = 100;

export const failedCommand: Command = {
  name: 'failed',
  summary: `lists failed records, dead ones included (at most ${LIMIT} per protocol), oldest first`,
  usage: 'mesh failed [--service S] [--node N]',
  async run(ctx) {
    const config = await ctx.config();
    if (ctx.options.service !== undefined) requireService(config, ctx.options.service);
    if (ctx.options.node !== undefined) requireNode(config, ctx.options.node);
    const records = await failedRecords(await ctx.database(), config, {
      ...(ctx.options.service !== undefined && { service: ctx.options.service }),
      ...(ctx.options.node !== undefined && { node: ctx.options.node }),
      limit: LIMIT,
    });
    if (ctx.out.json) ctx.out.document(records);
    else if (records.length === 0) ctx.out.line('no failed records');
    else {
      ctx.out.table(
        ['service', 'protocol', 'id', 'node', 'state', 'attempts', 'error'],
        records.map((r) => [r.service, r.protocol, String(r.id), r.node, r.state, r.attempts, (r.error ?? '').slice(0, 80)]),
      );
    }
    return 0;
  },
};
