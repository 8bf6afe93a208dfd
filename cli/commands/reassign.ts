import { reassignEntity } from '../../src/assign/move-entities.js';
import { requireService } from '../../src/config/mesh-config.js';
import { requireOption, type Command } from '../command.js';

export const reassignCommand: Command = {
  name: 'reassign',
  summary: 'moves one entity; --repush sends all its records again to the new node',
  usage: 'mesh reassign --service S --entity ID [--to NODE] [--repush]',
  async run(ctx) {
    const config = await ctx.config();
    const service = requireService(config, requireOption(ctx, 'service'));
    const entity = requireOption(ctx, 'entity');
    const database = await ctx.database();
    const result = await reassignEntity(database.db, config, service, entity, {
      ...(ctx.options.to !== undefined && { to: ctx.options.to }),
      repush: Boolean(ctx.options.repush),
    });
    if (ctx.out.json) ctx.out.document(result);
    else {
      ctx.out.line(
        `${result.service}: entity ${String(result.entity)} moved from ${result.from ?? '(unassigned)'} to ${result.to}` +
          (result.repushed ? '; its records will be pushed again from the beginning' : ''),
      );
    }
    return 0;
  },
};
