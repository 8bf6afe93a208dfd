import { readNodesUsage, type NodeUsage } from '../../src/operate/read-node-usage.js';
import { nodeReport, type NodeReportRow } from '../../src/report/node-report.js';
import type { CommandContext } from '../command.js';
import type { Output } from '../output.js';

/** A node's row with what SSH read, under `ssh` (only with --ssh). */
type NodeRowWithUsage = NodeReportRow & { ssh?: Omit<NodeUsage, 'name'> };

export async function run(ctx: CommandContext): Promise<number> {
  const config = await ctx.config();
  const database = await ctx.database();
  // Both at once: the SSH reads are bounded by each node's connect time-out.
  const [rows, usage] = await Promise.all([
    nodeReport(database, config),
    ctx.options.ssh ? readNodesUsage(config.nodes) : Promise.resolve(undefined),
  ]);
  const withUsage: NodeRowWithUsage[] = rows.map((row) => {
    const found = usage?.find((u) => u.name === row.name);
    if (!found) return row;
    const { name: _name, ...ssh } = found;
    return { ...row, ssh };
  });
  if (ctx.out.json) {
    ctx.out.document(withUsage);
    return 0;
  }
  if (usage) renderNodeReportWithUsage(ctx.out, withUsage);
  else renderNodeReport(ctx.out, rows);
  for (const r of rows.filter((row) => row.health === 'failing')) {
    ctx.out.error(`mesh --nodes: ${r.name} failing since ${r.failingSince}, next try ${r.nextTryAt ?? 'now'}: ${r.lastError ?? ''}`);
  }
  for (const u of usage ?? []) if (!u.reachable && u.error) ctx.out.error(`mesh --nodes --ssh: ${u.error}`);
  return 0;
}

export function renderNodeReport(out: Output, rows: NodeReportRow[]): void {
  out.table(
    ['name', 'url', 'services', 'entities', 'weight', 'pending', 'failed', 'processed', 'health'],
    rows.map((r) => [r.name, r.url, r.services.join(','), r.entities, r.weight, r.pending, r.failed, r.processed, healthCell(r)]),
  );
}

/** `ok`, or `failing since <time>` (the last error and next try go to stderr). */
const healthCell = (r: NodeReportRow): string => (r.health === 'ok' ? 'ok' : `failing since ${r.failingSince}`);

const percent = (value: number | undefined) => (value === undefined ? null : `${value.toFixed(0)}%`);

function renderNodeReportWithUsage(out: Output, rows: NodeRowWithUsage[]): void {
  out.table(
    ['name', 'url', 'services', 'entities', 'weight', 'pending', 'failed', 'processed', 'health', 'ssh', 'load', 'memory', 'disk'],
    rows.map((r) => [
      r.name,
      r.url,
      r.services.join(','),
      r.entities,
      r.weight,
      r.pending,
      r.failed,
      r.processed,
      healthCell(r),
      r.ssh === undefined ? null : r.ssh.reachable ? 'ok' : 'unreachable',
      r.ssh?.load1 === undefined ? null : `${r.ssh.load1.toFixed(2)}/${r.ssh.cpus ?? '?'}`,
      percent(r.ssh?.memoryUsedPercent),
      percent(r.ssh?.diskUsedPercent),
    ]),
  );
}
