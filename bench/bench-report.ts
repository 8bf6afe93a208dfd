import { cpus, release, totalmem } from 'node:os';

/** One measured way of moving the records. */
export interface Measurement {
  records: number;
  seconds: number;
  recordsPerSecond: number;
  /** Peak RSS of the master (the mesh child), MB; mesh runs only. */
  peakRssMB?: number;
  /** CPU seconds of the master (the mesh child) during the run; mesh runs only. */
  masterCpuSeconds?: number;
  /** CPU seconds of all nodes together during the run. */
  nodesCpuSeconds?: number;
  /** CPU seconds of the database server (MariaDB/MySQL, PostgreSQL) during the run. */
  serverCpuSeconds?: number;
}

export interface Machine {
  cpus: number;
  cpuModel: string;
  memoryGB: number;
  node: string;
  kernel: string;
  /** One-minute load average when the run started and when it ended: other work on the machine skews the numbers. */
  loadAverage?: [number, number];
}

export interface BenchReport {
  command: string;
  date: string;
  machine: Machine;
  database: string;
  parameters: {
    entities: number;
    records: number;
    nodes: number;
    batch: number;
    naiveSample: number;
    nodeBatch: number;
    floorRuns: number;
  };
  setup: { seedSeconds: number; migrateSeconds: number; assignSeconds: number };
  push: Measurement;
  pushFloor: Measurement;
  /** `mesh push` to nodes that only parse and answer: the master's own cost, without the nodes' work on the same CPUs. */
  stubPush?: Measurement;
  pull: Measurement;
  pullFloor: Measurement;
  naive?: Measurement;
  /** A `mesh push` with nothing pending: process start, config load, connection, leases. */
  meshStartSeconds: number;
  /** Peak RSS of that idle `mesh push`: what the master weighs before it moves any record. */
  meshStartPeakRssMB: number;
  /** How long the nodes still needed after the push to process everything. */
  waitProcessedSeconds: number;
  ratios: {
    pushOverFloor: number;
    pullOverFloor: number;
    pushOverNaive?: number;
    stubPushOverFloor?: number;
    /** The same, with the mesh runs' time less the start-up of an idle `mesh push` (process, modules, config). */
    pushOverFloorWithoutStart: number;
    pullOverFloorWithoutStart: number;
  };
  plans: Record<string, { plan: string[]; problems: string[] }>;
}

export function machine(): Machine {
  const list = cpus();
  return {
    cpus: list.length,
    cpuModel: list[0]?.model.trim() ?? 'unknown',
    memoryGB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    kernel: `${process.platform} ${release()}`,
  };
}

export function measurement(records: number, seconds: number, extra: Partial<Measurement> = {}): Measurement {
  return { records, seconds: round(seconds, 3), recordsPerSecond: Math.round(records / seconds), ...extra };
}

/** Records a second of a mesh run once the start-up of an idle `mesh push` is taken off its time. */
export function withoutStart(report: Pick<BenchReport, 'meshStartSeconds'>, m: Measurement): number {
  return Math.round(m.records / Math.max(0.001, m.seconds - report.meshStartSeconds));
}

export function round(value: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

/** The results as a Markdown table, the way BENCHMARKS.md shows them. */
export function renderTable(report: BenchReport): string {
  const r = report;
  const n = (v: number | undefined) => (v === undefined ? '' : v.toLocaleString('en-US'));
  const row = (what: string, m: Measurement | undefined, ratio: string) =>
    m === undefined
      ? ''
      : `| ${what} | ${n(m.records)} | ${m.seconds.toFixed(2)} | ${n(m.recordsPerSecond)} | ${m.peakRssMB === undefined ? '' : n(withoutStart(r, m))} | ${ratio} | ${m.peakRssMB ?? ''} | ${m.masterCpuSeconds ?? ''} | ${m.nodesCpuSeconds ?? ''} | ${m.serverCpuSeconds ?? ''} |`;
  const lines = [
    `${r.database}, ${n(r.parameters.entities)} entities, ${n(r.parameters.records)} records, ${r.parameters.nodes} nodes, batch ${r.parameters.batch}; ` +
      `${r.machine.cpus} × ${r.machine.cpuModel}, ${r.machine.memoryGB} GB, Node ${r.machine.node}` +
      (r.machine.loadAverage ? `, load ${r.machine.loadAverage[0]} → ${r.machine.loadAverage[1]}` : ''),
    '',
    '| run | records | s | records/s | records/s without mesh start-up | ratio | master peak RSS MB | master CPU s | nodes CPU s | DB server CPU s |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    row(
      'mesh push',
      r.push,
      `${r.ratios.pushOverFloor} × floor (${r.ratios.pushOverFloorWithoutStart} without start-up)${r.ratios.pushOverNaive === undefined ? '' : `, ${r.ratios.pushOverNaive} × naive`}`,
    ),
    row('push floor (DB only)', r.pushFloor, '1'),
    row(
      'mesh push to stub nodes (master alone)',
      r.stubPush,
      r.ratios.stubPushOverFloor === undefined ? '' : `${r.ratios.stubPushOverFloor} × floor`,
    ),
    row('naive push (1 request + 1 UPDATE a record)', r.naive, ''),
    row('mesh pull', r.pull, `${r.ratios.pullOverFloor} × floor (${r.ratios.pullOverFloorWithoutStart} without start-up)`),
    row('pull floor (DB only)', r.pullFloor, '1'),
  ].filter((line) => line !== '');
  lines.push(
    '',
    `mesh start-up (push with nothing pending): ${r.meshStartSeconds.toFixed(2)} s, peak RSS ${r.meshStartPeakRssMB} MB; nodes still processing after the push: ${r.waitProcessedSeconds.toFixed(1)} s`,
  );
  const bad = Object.entries(r.plans).filter(([, p]) => p.problems.length > 0);
  lines.push(
    bad.length === 0
      ? `query plans: ${Object.keys(r.plans).join(', ')}: ordered index ranges, no sort`
      : `query plans with problems: ${bad.map(([k, p]) => `${k}: ${p.problems.join('; ')}`).join(' | ')}`,
  );
  return lines.join('\n');
}
