import { serviceReport, type ServiceReportRow } from '../../src/report/service-report.js';
import type { CommandContext } from '../command.js';
import { checkedFilters } from '../filters.js';
import type { Output } from '../output.js';
import { warnUnknownNodes } from '../unknown-nodes-warning.js';

export async function run(ctx: CommandContext): Promise<number> {
  const config = await ctx.config();
  const filters = checkedFilters(ctx, config);
  const database = await ctx.database();
  await warnUnknownNodes(ctx, database, config);
  const rows = (await serviceReport(database, config)).filter((r) => filters.service === undefined || r.service === filters.service);
  if (ctx.out.json) {
    ctx.out.document(rows);
    return 0;
  }
  renderServiceReport(ctx.out, rows);
  return 0;
}

export function renderServiceReport(out: Output, rows: ServiceReportRow[]): void {
  out.table(
    ['service', 'nodes', 'entities', 'unassigned', 'pending', 'failed', 'processed'],
    rows.map((r) => [r.service, r.nodes, r.entities, r.unassigned, r.pending, r.failed, r.processed]),
  );
}
