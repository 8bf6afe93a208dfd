import type { ResultCheck } from './check-results.js';
import type { GroupCpu, PeerMeasurement } from './peer-system.js';

export interface PeerRun extends PeerMeasurement {
  system: string;
  round: number;
  recordsPerSecond: number;
  check: ResultCheck;
}

export interface PeerRow {
  system: string;
  label: string;
  promisesOrder: boolean;
  runs: number;
  recordsPerSecond: Range;
  /** CPU seconds per 1,000 records, by group, median over the runs. */
  cpuPer1k: GroupCpu & { total: number };
  /** workmesh's records/s ÷ this system's, medians. */
  workmeshOverIt?: number;
  wrongDigests: number;
  missingDigests: number;
  /** Adjacent per-entity inversions, per run. */
  inversions: number[];
  /** Inversions where the system promises order: a failure of the run. */
  violations: number;
}

export interface Range {
  median: number;
  min: number;
  max: number;
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function range(values: number[]): Range {
  return { median: median(values), min: Math.min(...values), max: Math.max(...values) };
}

const GROUPS: (keyof GroupCpu)[] = ['master', 'workers', 'database', 'redis'];

export function summarize(runs: PeerRun[], systems: { id: string; label: string; promisesOrder: boolean }[]): PeerRow[] {
  const rows = systems.map((system): PeerRow => {
    const mine = runs.filter((r) => r.system === system.id);
    const per1k = (group: keyof GroupCpu) => median(mine.map((r) => (r.cpu[group] / r.check.records) * 1000));
    const cpuPer1k = Object.fromEntries(GROUPS.map((g) => [g, per1k(g)])) as unknown as GroupCpu;
    const total = median(mine.map((r) => (GROUPS.reduce((s, g) => s + r.cpu[g], 0) / r.check.records) * 1000));
    const inversions = mine.map((r) => r.check.inversions + r.check.unsequenced);
    return {
      system: system.id,
      label: system.label,
      promisesOrder: system.promisesOrder,
      runs: mine.length,
      recordsPerSecond: range(mine.map((r) => r.recordsPerSecond)),
      cpuPer1k: { ...cpuPer1k, total },
      wrongDigests: mine.reduce((s, r) => s + r.check.wrong, 0),
      missingDigests: mine.reduce((s, r) => s + r.check.missing, 0),
      inversions,
      violations: system.promisesOrder ? inversions.reduce((a, b) => a + b, 0) : 0,
    };
  });
  const workmesh = rows.find((r) => r.system === 'workmesh');
  if (workmesh) for (const row of rows) row.workmeshOverIt = workmesh.recordsPerSecond.median / row.recordsPerSecond.median;
  return rows;
}

const int = (n: number) => Math.round(n).toLocaleString('en-US');
const cpu = (n: number) => (n >= 1 ? n.toFixed(2) : n.toFixed(3));

export function renderPeerTable(rows: PeerRow[]): string {
  const lines = [
    '| system, same job | order per tenant | runs | records/s end to end | CPU-s per 1k records: master / workers / PostgreSQL / Redis = total | workmesh ÷ it | digests wrong / missing |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const row of rows) {
    const seen = Math.max(...row.inversions);
    const order = row.promisesOrder
      ? row.violations === 0
        ? '✓ promised, 0 inversions'
        : `✗ promised, ${row.inversions.join(' / ')} inversions`
      : `not promised (${row.inversions.map(int).join(' / ')} inversions)`;
    const rps = row.recordsPerSecond;
    const c = row.cpuPer1k;
    lines.push(
      `| ${row.label} | ${seen === 0 && !row.promisesOrder ? 'not promised (0 inversions)' : order} | ${row.runs} | ${int(rps.median)} (${int(rps.min)}–${int(rps.max)}) | ` +
        `${cpu(c.master)} / ${cpu(c.workers)} / ${cpu(c.database)} / ${cpu(c.redis)} = ${cpu(c.total)} | ` +
        `${row.workmeshOverIt === undefined ? '' : row.system === 'workmesh' ? '1' : `${row.workmeshOverIt.toFixed(1)} ×`} | ${row.wrongDigests} / ${row.missingDigests} |`,
    );
  }
  return lines.join('\n');
}
