import { requireService } from '../../src/config/mesh-config.js';
import { entityStatus } from '../../src/report/entity-status.js';
import { checkEntityId } from '../../src/db/check-entity-id.js';
import { requireOption, UsageError, type CommandContext } from '../command.js';
import { checkedFilters } from '../filters.js';
import { warnUnknownNodes } from '../unknown-nodes-warning.js';

export async function run(ctx: CommandContext): Promise<number> {
  const config = await ctx.config();
  const service = requireService(config, requireOption(ctx, 'service'));
  const entity = requireOption(ctx, 'entity');
  const { protocol } = checkedFilters(ctx, config);
  const database = await ctx.database();
  // Before any statement: MySQL would read "3 is not an id" as 3 and show entity 3.
  const badId = await checkEntityId(database, service.entity.table, service.entity.id, entity);
  if (badId !== undefined) throw new UsageError(`service ${service.name}: ${badId}`);
  await warnUnknownNodes(ctx, database, config);
  const status = await entityStatus(database, service, entity);
  if (status === null) throw new UsageError(`service ${service.name}: no entity ${entity} in table ${service.entity.table}`);
  if (protocol !== undefined) status.protocols = status.protocols.filter((p) => p.protocol === protocol);
  if (ctx.out.json) {
    ctx.out.document(status);
    return 0;
  }
  ctx.out.line(`${status.service}, entity ${status.entity}: node ${status.node ?? '(unassigned)'}`);
  ctx.out.table(
    ['protocol', 'pending', 'failed', 'processed'],
    status.protocols.map((p) => [p.protocol, p.pending, p.failed, p.processed]),
  );
  return 0;
}
