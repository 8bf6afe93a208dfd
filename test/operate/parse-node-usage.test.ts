import { describe, expect, it } from 'vitest';
import { parseDf, parseMeminfo, parseNodeUsage } from '../../src/operate/parse-node-usage.js';

const LINUX_SAMPLE = `@@workmesh:loadavg
0.52 0.58 0.59 2/1234 56789
@@workmesh:cpus
8
@@workmesh:meminfo
MemTotal:       16303528 kB
MemFree:         1021160 kB
MemAvailable:    8151764 kB
Buffers:          524288 kB
Cached:          6000000 kB
SwapCached:            0 kB
@@workmesh:df
Filesystem     1024-blocks      Used Available Capacity Mounted on
/dev/nvme0n1p2   102687672  50347188  47081908      52% /
`;

describe('parseNodeUsage', () => {
  it('reads load, CPUs, memory and disk from a Linux node', () => {
    expect(parseNodeUsage(LINUX_SAMPLE)).toEqual({
      load1: 0.52,
      cpus: 8,
      memoryUsedPercent: 50,
      diskUsedPercent: 51.7,
    });
  });

  it('copes with CRLF line ends', () => {
    expect(parseNodeUsage(LINUX_SAMPLE.replaceAll('\n', '\r\n'))).toMatchObject({ load1: 0.52, cpus: 8, memoryUsedPercent: 50 });
  });

  it('leaves out what a node did not give (no /proc, as on macOS)', () => {
    const text = `@@workmesh:loadavg
@@workmesh:cpus
10
@@workmesh:meminfo
@@workmesh:df
Filesystem     512-blocks      Used Available Capacity  Mounted on
/dev/disk3s1s1  965595304  19547200 503094696     4%    /
`;
    expect(parseNodeUsage(text)).toEqual({ cpus: 10, diskUsedPercent: 3.7 });
  });

  it('gives nothing for output that is not ours', () => {
    expect(parseNodeUsage('')).toEqual({});
    expect(parseNodeUsage('sh: 1: cat: not found\n')).toEqual({});
    expect(parseNodeUsage('@@workmesh:cpus\nnproc: command not found\n@@workmesh:loadavg\nabc def\n')).toEqual({});
  });
});

describe('parseMeminfo', () => {
  it('falls back to free + buffers + cached on kernels without MemAvailable', () => {
    expect(parseMeminfo('MemTotal: 1000 kB\nMemFree: 200 kB\nBuffers: 50 kB\nCached: 150 kB\n')).toBe(60);
  });

  it('gives nothing without MemTotal', () => {
    expect(parseMeminfo('MemFree: 200 kB\n')).toBeUndefined();
  });
});

describe('parseDf', () => {
  it('reads the row from the right, so a file system name with spaces does not shift the columns', () => {
    const text = 'Filesystem 1024-blocks Used Available Capacity Mounted on\nmy disk 1000 250 750 25% /\n';
    expect(parseDf(text)).toBe(25);
  });

  it('takes the Capacity column when the counts are zero', () => {
    expect(parseDf('Filesystem 1024-blocks Used Available Capacity Mounted on\nnone 0 0 0 0% /\n')).toBe(0);
  });
});
