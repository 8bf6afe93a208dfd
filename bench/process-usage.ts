import { readFileSync } from 'node:fs';

/** Linux clock ticks per second (`getconf CLK_TCK`), 100 on every kernel config we run on. */
const CLOCK_TICKS = 100;

export interface ProcessUsage {
  /** Peak resident set (VmHWM), bytes. */
  peakRssBytes: number;
  /** User + system CPU time so far, seconds. */
  cpuSeconds: number;
}

/** Reads /proc/<pid>/status and /proc/<pid>/stat; undefined once the process is gone (or off Linux). */
export function readProcessUsage(pid: number): ProcessUsage | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const hwm = /^VmHWM:\s+(\d+) kB$/m.exec(status);
    // Fields after the command name, which is in parentheses and may hold spaces: utime and stime are the 12th and 13th.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]);
    return { peakRssBytes: hwm ? Number(hwm[1]) * 1024 : 0, cpuSeconds: ticks / CLOCK_TICKS };
  } catch {
    return undefined;
  }
}

/** CPU seconds a set of processes used between two readings. */
export function cpuBetween(before: (ProcessUsage | undefined)[], after: (ProcessUsage | undefined)[]): number {
  return after.reduce((sum, usage, i) => sum + (usage?.cpuSeconds ?? 0) - (before[i]?.cpuSeconds ?? 0), 0);
}
