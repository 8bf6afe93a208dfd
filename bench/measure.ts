import type { DialectName } from '../src/db/database-url.js';
import { measurement, round, type Measurement } from './bench-report.js';
import type { MeshRun } from './mesh-process.js';
import { cpuBetween, readProcessUsage } from './process-usage.js';
import { ServerCpu } from './server-cpu.js';

const MB = 2 ** 20;

/**
 * Measures runs with the CPU of everyone involved: the master (this process
 * for database-only passes, the mesh child otherwise), the nodes, and a
 * local database server.
 */
export class Measurer {
  readonly #dialect: DialectName;
  readonly #server: ServerCpu;
  #nodePids: number[];

  constructor(props: { dialect: DialectName; nodePids: number[] }) {
    this.#dialect = props.dialect;
    this.#server = new ServerCpu(props.dialect);
    this.#nodePids = props.nodePids;
  }

  set nodePids(pids: number[]) {
    this.#nodePids = pids;
  }

  /** CPU seconds the nodes have used so far, one reading per node. */
  nodesUsage() {
    return this.#nodePids.map(readProcessUsage);
  }

  /** A pass run in this process (the floors, the naive push). */
  async inProcess(run: () => Promise<{ records: number; seconds: number }>): Promise<Measurement> {
    const cpu = process.cpuUsage();
    const nodes = this.nodesUsage();
    this.#server.start();
    const result = await run();
    const serverCpuSeconds = this.#server.stop();
    const used = process.cpuUsage(cpu);
    return measurement(result.records, result.seconds, {
      masterCpuSeconds: round((used.user + used.system) / 1e6),
      nodesCpuSeconds: round(cpuBetween(nodes, this.nodesUsage())),
      ...(this.#dialect !== 'sqlite' && { serverCpuSeconds: round(serverCpuSeconds) }),
    });
  }

  /** A `mesh push` or `mesh pull` child; fails unless it moved every record. */
  async mesh(run: () => Promise<MeshRun>, field: 'pushed' | 'pulled', expected: number): Promise<Measurement> {
    const nodes = this.nodesUsage();
    this.#server.start();
    const result = await run();
    const serverCpuSeconds = this.#server.stop();
    const done = Number((result.summary as Record<string, unknown> | undefined)?.[field]);
    if (result.exitCode !== 0 || done !== expected) {
      throw new Error(`mesh exited ${result.exitCode} having ${field} ${done} of ${expected}: ${result.stderr.slice(0, 2000)}`);
    }
    return measurement(done, result.wallSeconds, {
      peakRssMB: round(result.peakRssBytes / MB, 1),
      masterCpuSeconds: round(result.cpuSeconds),
      nodesCpuSeconds: round(cpuBetween(nodes, this.nodesUsage())),
      ...(this.#dialect !== 'sqlite' && { serverCpuSeconds: round(serverCpuSeconds) }),
    });
  }
}

/** Runs a measurement `runs` times, `between` after each, and keeps the fastest: a floor is the best the database does. */
export async function fastestOf(runs: number, measure: () => Promise<Measurement>, between: () => Promise<void>): Promise<Measurement> {
  let best: Measurement | undefined;
  for (let i = 0; i < runs; i++) {
    const m = await measure();
    await between();
    if (best === undefined || m.seconds < best.seconds) best = m;
  }
  return best!;
}
