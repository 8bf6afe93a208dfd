import { reassignEntity } from '../../src/assign/move-entities.js';
import { requireService } from '../../src/config/mesh-config.js';
import { checkEntityId } from '../../src/db/check-entity-id.js';
import { requireOption, UsageError, type CommandContext } from '../command.js';
import { warnUnknownNodes } from '../unknown-nodes-warning.js';

export async function run(ctx: CommandContext): Promise<number> {
  const config = await ctx.config();
  const service = requireService(config, requireOption(ctx, 'service'));
  const entity = requireOption(ctx, 'entity');
  const dryRun = Boolean(ctx.options['dry-run']);
  const database = await ctx.database();
  // Before any statement: MySQL would read "3 is not an id" as 3 and move entity 3.
  const badId = await checkEntityId(database, service.entity.table, service.entity.id, entity);
  if (badId !== undefined) throw new UsageError(`service ${service.name}: ${badId}`);
  await warnUnknownNodes(ctx, database, config);
  const result = await reassignEntity(database.db, config, service, entity, {
    ...(ctx.options.to !== undefined && { to: ctx.options.to }),
    repush: Boolean(ctx.options.repush),
    dryRun,
  });
  if (ctx.out.json) ctx.out.document(result);
  else {
    const records = result.repushRecords ? Object.values(result.repushRecords).reduce((a, b) => a + b, 0) : 0;
    ctx.out.line(
      `${result.service}: entity ${String(result.entity)} ${dryRun ? 'would move' : 'moved'} from ${result.from ?? '(unassigned)'} to ${result.to}` +
        (result.repushed
          ? `; its ${records} record${records === 1 ? '' : 's'} ${dryRun ? 'would be' : 'will be'} pushed again from the beginning`
          : '') +
        (dryRun ? '; dry run, nothing written' : ''),
    );
  }
  return 0;
}
