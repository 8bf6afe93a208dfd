import { serviceReport, type ServiceReportRow } from '../../src/report/service-report.js';
import type { CommandContext } from '../command.js';
import type { Output } from '../output.js';

export async function run(ctx: CommandContext): Promise<number> {
  const config = await ctx.config();
  const rows = await serviceReport(await ctx.database(), config);
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
