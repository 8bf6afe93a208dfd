import { readNodesUsage, type NodeUsage } from '../../src/operate/read-node-usage.js';
import { nodeReport, type NodeReportRow } from '../../src/report/node-report.js';
import type { CommandContext } from '../command.js';
import { checkedFilters } from '../filters.js';
import type { Output } from '../output.js';
import { warnUnknownNodes } from '../unknown-nodes-warning.js';

/** A row with what SSH read, under `ssh` (only with --ssh); `configured: false` for a node without ssh. */
type NodeRowWithUsage = NodeReportRow & { ssh?: Omit<NodeUsage, 'name'> & { configured: boolean } };

export async function run(ctx: CommandContext): Promise<number> {
  const config = await ctx.config();
  const filters = checkedFilters(ctx, config);
  const database = await ctx.database();
  await warnUnknownNodes(ctx, database, config);
  const nodes = config.nodes.filter((n) => filters.node === undefined || n.name === filters.node);
  // Both at once: the SSH reads are bounded by each node's connect time-out; a node without ssh is not tried.
  const [rows, usage] = await Promise.all([
    nodeReport(database, config, filters),
    ctx.options.ssh ? readNodesUsage(nodes.filter((n) => n.ssh !== undefined)) : Promise.resolve(undefined),
  ]);
  const withoutSsh = new Set(nodes.filter((n) => n.ssh === undefined).map((n) => n.name));
  const withUsage: NodeRowWithUsage[] = rows.map((row) => {
    if (usage === undefined) return row;
    if (withoutSsh.has(row.name)) return { ...row, ssh: { configured: false, reachable: false, error: 'no ssh configured' } };
    const found = usage.find((u) => u.name === row.name);
    if (!found) return row;
    const { name: _name, ...ssh } = found;
    return { ...row, ssh: { configured: true, ...ssh } };
  });
  if (ctx.out.json) {
    ctx.out.document(withUsage);
  } else if (usage) renderNodeReportWithUsage(ctx.out, withUsage);
  else renderNodeReport(ctx.out, rows);
  const failing = new Map(rows.filter((row) => row.health === 'failing').map((row) => [row.name, row]));
  for (const r of failing.values()) {
    ctx.out.error(`mesh --nodes: ${r.name} failing since ${r.failingSince}, next try ${r.nextTryAt ?? 'now'}: ${r.lastError ?? ''}`);
  }
  for (const u of usage ?? []) if (u.error) ctx.out.error(`mesh --nodes --ssh: ${u.error}`);
  return 0;
}

/** `3/5` beside its limit, `3` without one. */
const load = (value: number, limit: number | null) => (limit === null ? value : `${value}/${limit}`);

const REPORT_HEADERS = ['name', 'url', 'service', 'entities', 'weight', 'pending', 'failed', 'processed', 'health'];

/** A row's cells under REPORT_HEADERS. */
const reportCells = (r: NodeReportRow) => [
  r.name,
  r.url,
  r.service,
  load(r.entities, r.maxEntities),
  load(r.weight, r.maxWeight),
  r.pending,
  r.failed,
  r.processed,
  healthCell(r),
];

export function renderNodeReport(out: Output, rows: NodeReportRow[]): void {
  out.table(REPORT_HEADERS, rows.map(reportCells));
}

/** `ok`, or `failing since <time>` (the last error and next try go to stderr). */
const healthCell = (r: NodeReportRow): string => (r.health === 'ok' ? 'ok' : `failing since ${r.failingSince}`);

const percent = (value: number | undefined) => (value === undefined ? null : `${value.toFixed(0)}%`);

function renderNodeReportWithUsage(out: Output, rows: NodeRowWithUsage[]): void {
  out.table(
    [...REPORT_HEADERS, 'ssh', 'load', 'memory', 'disk'],
    rows.map((r) => [
      ...reportCells(r),
      r.ssh === undefined ? null : !r.ssh.configured ? 'no ssh configured' : r.ssh.reachable ? 'ok' : 'unreachable',
      r.ssh?.load1 === undefined ? null : `${r.ssh.load1.toFixed(2)}/${r.ssh.cpus ?? '?'}`,
      percent(r.ssh?.memoryUsedPercent),
      percent(r.ssh?.diskUsedPercent),
    ]),
  );
}
