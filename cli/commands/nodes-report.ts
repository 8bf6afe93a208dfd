import { nodeReport, type NodeReportRow } from '../../src/report/node-report.js';
import type { Command } from '../command.js';
import type { Output } from '../output.js';

export const nodesReportCommand: Command = {
  name: 'nodes',
  summary: 'one row per node: name, url, services, entities, weight, pending, failed, processed',
  usage: 'mesh --nodes [--ssh] [--json]',
  async run(ctx) {
    const config = await ctx.config();
    const rows = await nodeReport(await ctx.database(), config);
    if (ctx.out.json) {
      ctx.out.document(rows);
      return 0;
    }
    renderNodeReport(ctx.out, rows);
    return 0;
  },
};

export function renderNodeReport(out: Output, rows: NodeReportRow[]): void {
  out.table(
    ['name', 'url', 'services', 'entities', 'weight', 'pending', 'failed', 'processed'],
    rows.map((r) => [r.name, r.url, r.services.join(','), r.entities, r.weight, r.pending, r.failed, r.processed]),
  );
}
