/** What one usage read found; a figure the node did not give is left out. */
export interface NodeUsageFigures {
  /** Load average over the last minute. */
  load1?: number;
  cpus?: number;
  /** (total - available) / total, in percent with one decimal. */
  memoryUsedPercent?: number;
  /** Of the file system holding `/`, as df counts it, in percent with one decimal. */
  diskUsedPercent?: number;
}

/** Section markers between the parts of {@link USAGE_COMMAND}'s output. */
const MARK = '@@workmesh:';

/**
 * One command for every figure, so a usage read costs one round trip. Run
 * through `sh -c` so a node whose login shell is not POSIX still reads it,
 * and with LC_ALL=C so that df does not translate its header or numbers.
 */
export const USAGE_COMMAND = `sh -c 'export LC_ALL=C
echo ${MARK}loadavg; cat /proc/loadavg
echo ${MARK}cpus; nproc 2>/dev/null || grep -c ^processor /proc/cpuinfo
echo ${MARK}meminfo; cat /proc/meminfo
echo ${MARK}df; df -P /'`;

/**
 * Reads the output of {@link USAGE_COMMAND}: `/proc/loadavg`, `nproc`,
 * `/proc/meminfo` and `df -P /`. A part that is missing or garbled leaves its
 * figure out rather than failing the others.
 */
export function parseNodeUsage(text: string): NodeUsageFigures {
  const sections = splitSections(text);
  const figures: NodeUsageFigures = {};
  const load1 = parseLoadavg(sections.get('loadavg') ?? '');
  if (load1 !== undefined) figures.load1 = load1;
  const cpus = parseCpus(sections.get('cpus') ?? '');
  if (cpus !== undefined) figures.cpus = cpus;
  const memory = parseMeminfo(sections.get('meminfo') ?? '');
  if (memory !== undefined) figures.memoryUsedPercent = memory;
  const disk = parseDf(sections.get('df') ?? '');
  if (disk !== undefined) figures.diskUsedPercent = disk;
  return figures;
}

function splitSections(text: string): Map<string, string> {
  const sections = new Map<string, string>();
  let name: string | undefined;
  let lines: string[] = [];
  const close = (): void => {
    if (name !== undefined) sections.set(name, lines.join('\n'));
  };
  for (const line of text.split(/\r?\n/)) {
    if (line.startsWith(MARK)) {
      close();
      name = line.slice(MARK.length).trim();
      lines = [];
    } else lines.push(line);
  }
  close();
  return sections;
}

/** `0.52 0.58 0.59 2/1234 5678`: the first field. */
export function parseLoadavg(text: string): number | undefined {
  const first = text.trim().split(/\s+/)[0];
  return nonNegative(first);
}

export function parseCpus(text: string): number | undefined {
  const value = nonNegative(text.trim().split(/\s+/)[0]);
  return value !== undefined && Number.isInteger(value) && value > 0 ? value : undefined;
}

/** MemTotal and MemAvailable; kernels before 3.14 lack the latter, so free + buffers + cached stands in. */
export function parseMeminfo(text: string): number | undefined {
  const kb = new Map<string, number>();
  for (const line of text.split('\n')) {
    const match = /^(\w+):\s+(\d+)/.exec(line.trim());
    if (match) kb.set(match[1]!, Number(match[2]));
  }
  const total = kb.get('MemTotal');
  if (total === undefined || total <= 0) return undefined;
  let available = kb.get('MemAvailable');
  if (available === undefined) {
    const free = kb.get('MemFree');
    if (free === undefined) return undefined;
    available = free + (kb.get('Buffers') ?? 0) + (kb.get('Cached') ?? 0);
  }
  return percent(total - Math.min(available, total), total);
}

/**
 * The last line of `df -P`, read from the right because a file system name
 * may hold spaces: used / (used + available), as df computes Capacity (which
 * leaves out blocks reserved for root).
 */
export function parseDf(text: string): number | undefined {
  const lines = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !/^Filesystem\s/.test(l));
  const last = lines.at(-1);
  if (last === undefined) return undefined;
  const fields = last.split(/\s+/);
  if (fields.length < 6) return undefined;
  const used = nonNegative(fields.at(-4));
  const available = nonNegative(fields.at(-3));
  if (used !== undefined && available !== undefined && used + available > 0) return percent(used, used + available);
  const capacity = /^(\d+)%$/.exec(fields.at(-2) ?? '');
  return capacity ? Number(capacity[1]) : undefined;
}

function nonNegative(text: string | undefined): number | undefined {
  if (text === undefined || !/^\d+(\.\d+)?$/.test(text)) return undefined;
  return Number(text);
}

function percent(part: number, whole: number): number {
  return Math.round((part / whole) * 1000) / 10;
}
