import { readFileSync } from 'node:fs';
import type { BenchReport } from './bench-report.js';

/**
 * Prints one table row per database and size from several `npm run bench`
 * JSON files: the median ratio over the runs and the range, the highest peak
 * RSS. A single run moves by 10–30 % on a shared two-vCPU machine (the floor
 * as much as the mesh runs), so the README reports repeated runs.
 *
 * Usage: npm run bench:summary -- bench/results/*.json
 */
function main(files: string[]): number {
  if (files.length === 0) {
    console.error('usage: npm run bench:summary -- bench/results/*.json');
    return 2;
  }
  const groups = new Map<string, BenchReport[]>();
  for (const file of files) {
    const report = JSON.parse(readFileSync(file, 'utf8')) as BenchReport;
    const key = `${databaseName(report)}|${report.parameters.records}`;
    groups.set(key, [...(groups.get(key) ?? []), report]);
  }
  const rows = [...groups.values()].sort(
    (a, b) => databaseName(a[0]!).localeCompare(databaseName(b[0]!)) || a[0]!.parameters.records - b[0]!.parameters.records,
  );
  console.log(
    '| database | records | runs | push / floor | pull / floor | push / naive | master alone (stub) push / floor | push rec/s | pull rec/s | peak RSS push / pull MB | idle mesh start-up |',
  );
  console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const reports of rows) {
    const first = reports[0]!;
    const ratio = (pick: (r: BenchReport) => number | undefined) =>
      spread(
        reports.map(pick).filter((v): v is number => v !== undefined),
        2,
      );
    const count = (pick: (r: BenchReport) => number) => spread(reports.map(pick), 0, true);
    const peak = (pick: (r: BenchReport) => number | undefined) => Math.max(...reports.map((r) => pick(r) ?? 0)).toFixed(0);
    console.log(
      `| ${databaseName(first)} | ${first.parameters.records.toLocaleString('en-US')} | ${reports.length} | ${ratio((r) => r.ratios.pushOverFloor)} | ${ratio((r) => r.ratios.pullOverFloor)} | ${spread(
        reports.map((r) => r.ratios.pushOverNaive ?? 0),
        0,
      )} × | ${ratio((r) => r.ratios.stubPushOverFloor)} | ${count((r) => r.push.recordsPerSecond)} | ${count((r) => r.pull.recordsPerSecond)} | ${peak((r) => r.push.peakRssMB)} / ${peak((r) => r.pull.peakRssMB)} | ${spread(
        reports.map((r) => r.meshStartSeconds),
        2,
      )} s, ${peak((r) => r.meshStartPeakRssMB)} MB |`,
    );
  }
  return 0;
}

/** `SQLite`, `PostgreSQL`, `MariaDB` or `MySQL`: the report's version string starts with the version for the last two. */
function databaseName(report: BenchReport): string {
  const match = /mariadb|mysql|postgresql|sqlite/i.exec(report.database);
  return match
    ? ({ mariadb: 'MariaDB', mysql: 'MySQL', postgresql: 'PostgreSQL', sqlite: 'SQLite' } as Record<string, string>)[
        match[0].toLowerCase()
      ]!
    : report.database;
}

/** `median (min–max)`, or the value alone for one run. */
function spread(values: number[], digits: number, grouped = false): string {
  if (values.length === 0) return '';
  const sorted = [...values].sort((a, b) => a - b);
  const middle =
    sorted.length % 2 === 1 ? sorted[(sorted.length - 1) / 2]! : (sorted[sorted.length / 2 - 1]! + sorted[sorted.length / 2]!) / 2;
  const text = (v: number) => (grouped ? Math.round(v).toLocaleString('en-US') : v.toFixed(digits));
  return sorted.length === 1 ? text(middle) : `${text(middle)} (${text(sorted[0]!)}–${text(sorted[sorted.length - 1]!)})`;
}

process.exitCode = main(process.argv.slice(2));
