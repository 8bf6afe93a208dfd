import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { loadConfig } from '../../src/config/load-config.js';
import type { MeshConfig } from '../../src/config/mesh-config.js';
import { migrateDatabase } from '../../src/db/migrate-database.js';
import { openDatabase, type Database } from '../../src/db/open-database.js';
import { rebuildRecordCounts } from '../../src/db/rebuild-record-counts.js';
import { createDemoTables, seedDemoTablesFast } from '../../src/demo/demo-saas.js';
import { collectMetrics } from '../../src/metrics/collect-metrics.js';
import { packageFile } from '../../src/package-files.js';
import { countRecords, recountRecords, type RecordCounts } from '../../src/report/count-records.js';
import { entityStatus } from '../../src/report/entity-status.js';
import { nodeReport } from '../../src/report/node-report.js';
import { serviceReport } from '../../src/report/service-report.js';
import { streamLags } from '../../src/report/stream-lag.js';
import { writeBenchConfig } from '../bench-config.js';
import { createBenchDatabase, type BenchDatabase } from '../bench-database.js';
import { DEFAULT_SERVERS } from '../bench-options.js';
import { machine } from '../bench-report.js';
import { analyze } from '../reset-flags.js';

const USAGE =
  'npm run bench:reports -- [--db sqlite|mysql|postgres] [--records 1000000,10000000] [--entities 1000] [--nodes 20] [--out FILE]';

/** Records a node holds in flight, whatever the table's size: the newest are pending or delivered, as in a mesh that keeps up. */
const PENDING = 10_000;
const DELIVERED = 5_000;

interface ReportTiming {
  report: string;
  /** Median of the runs, in ms. */
  ms: number;
  runs: number;
}

interface SizeResult {
  records: number;
  seedSeconds: number;
  /** `mesh recount` building the counters from the records (what migrate does on an existing install). */
  recountSeconds: number;
  /** The same counts by a full GROUP BY over every record (the reports before the counters), once. */
  fullCountMs: number;
  countsEqual: boolean;
  timings: ReportTiming[];
}

/**
 * `npm run bench:reports`: the reports' time at 1M and 10M records. Builds
 * the demo SaaS with `records` deliveries of `entities` accounts on `nodes`
 * nodes, their flags set in bulk to a mesh that keeps up (the newest
 * PENDING records pending, the DELIVERED before them delivered and not
 * pulled, some failures and dead records spread over the table, the rest
 * processed), runs `mesh recount`, checks that the counts the reports give
 * equal a full recount, and times `mesh --nodes`, `--services`, `status`,
 * the lag and the metrics in process (median of 5), and `mesh --nodes` as
 * a command beside `mesh --help` (what starting mesh costs), against the
 * full count measured in the same run.
 */
async function main(argv: string[]): Promise<number> {
  const options = parse(argv);
  if (options === null) {
    console.error(`usage: ${USAGE}`);
    return 2;
  }
  const log = (text: string) => console.error(`[reports ${new Date().toISOString().slice(11, 19)}] ${text}`);
  const results: SizeResult[] = [];
  let version = '';
  for (const records of options.records) {
    const dir = mkdtempSync(join(tmpdir(), 'workmesh-report-bench-'));
    let bench: BenchDatabase | undefined;
    let database: Database | undefined;
    try {
      bench = await createBenchDatabase(options.dialect === 'sqlite' ? 'sqlite' : DEFAULT_SERVERS[options.dialect], options.dialect);
      database = await openDatabase(bench.url);
      const nodes = Array.from({ length: options.nodes }, (_, i) => ({
        name: `node${i + 1}`,
        url: `http://127.0.0.1:${20_000 + i}`,
        apiKeyVariable: `WORKMESH_REPORT_BENCH_KEY_${i + 1}`,
      }));
      for (const node of nodes) process.env[node.apiKeyVariable] = `report-bench-key-${node.name}`;
      const files = writeBenchConfig(dir, nodes, 500);
      const config = await loadConfig(files);
      version = await versionOf(database);
      log(`${version}: seeding ${options.entities} entities, ${records} records`);
      let t = Date.now();
      await createDemoTables(database);
      await seedDemoTablesFast(database, { accounts: options.entities, records });
      const migrated = await migrateDatabase(database, config, { dryRun: false });
      if (migrated.problems.length > 0) throw new Error(migrated.problems.join('; '));
      await setFlags(database, config, records, options.nodes);
      await analyze(database);
      const seedSeconds = (Date.now() - t) / 1000;
      log(`seeded and flagged in ${seedSeconds.toFixed(0)} s; recounting`);
      t = Date.now();
      await rebuildRecordCounts(database, config);
      const recountSeconds = (Date.now() - t) / 1000;
      const service = config.services[0]!;
      const protocol = service.protocols[0]!;
      t = Date.now();
      const full = await recountRecords(database.db, database.dialect, service, protocol, { byNode: true });
      const fullWhole = await recountRecords(database.db, database.dialect, service, protocol, { whole: true });
      const fullCountMs = Date.now() - t;
      const fast = await countRecords(database.db, database.dialect, service, protocol, { byNode: true });
      const fastWhole = await countRecords(database.db, database.dialect, service, protocol, { whole: true });
      const countsEqual = same(full, fast) && same(fullWhole, fastWhole);
      log(`recount ${recountSeconds.toFixed(1)} s, full count ${fullCountMs} ms, counts equal: ${countsEqual}`);
      if (!countsEqual) log(`full ${JSON.stringify([...full, ...fullWhole])}\nfast ${JSON.stringify([...fast, ...fastWhole])}`);
      const db = database;
      const timings: ReportTiming[] = [
        await time('mesh --nodes', () => nodeReport(db, config)),
        await time('mesh --services', () => serviceReport(db, config)),
        await time('mesh status (one entity)', () => entityStatus(db, service, '1')),
        await time('lag per stream', () => streamLags(db, config)),
        await time('mesh metrics', () => collectMetrics(db, config)),
        await timeCommand('mesh --help: starting mesh, no database (baseline)', ['--help']),
        await timeCommand('mesh --nodes --json: the whole command', [
          '--nodes',
          '--json',
          '--db',
          bench.url,
          '--nodes-config',
          files.nodes,
          '--services-config',
          files.services,
        ]),
      ];
      for (const timing of timings) log(`${timing.report}: ${timing.ms.toFixed(1)} ms`);
      results.push({ records, seedSeconds, recountSeconds, fullCountMs, countsEqual, timings });
    } finally {
      await database?.close();
      await bench?.drop();
      rmSync(dir, { recursive: true, force: true });
    }
  }
  print(version, options, results);
  if (options.out) writeFileSync(options.out, `${JSON.stringify({ machine: machine(), version, options, results }, null, 2)}\n`);
  return results.every((r) => r.countsEqual) ? 0 : 1;
}

/**
 * Accounts on nodes round-robin by id, and every record's flags in one
 * UPDATE per million ids (a chunk the servers' undo logs take well).
 */
async function setFlags(database: Database, config: MeshConfig, records: number, nodes: number): Promise<void> {
  const { dialect, db } = database;
  const service = config.services[0]!;
  const { flags } = service.protocols[0]!;
  const text = (n: ReturnType<typeof sql.ref>) =>
    dialect === 'mysql' ? sql`concat('node', (${n} % ${sql.lit(nodes)}) + 1)` : sql`'node' || ((${n} % ${sql.lit(nodes)}) + 1)`;
  await sql`update account set ${sql.ref(service.entity.node)} = ${text(sql.ref('id'))}`.execute(db);
  const yes = dialect === 'sqlite' ? sql`1` : sql`true`;
  const no = dialect === 'sqlite' ? sql`0` : sql`false`;
  const id = sql.ref('id');
  const inFlight = records - PENDING - DELIVERED;
  // Spread over the table: a dead record in 10,000, a failed try in 5,000, a processing error in 2,000.
  const dead = sql`(${id} <= ${inFlight} and ${id} % 10000 = 7)`;
  const retrying = sql`(${id} <= ${inFlight} and ${id} % 5000 = 3)`;
  const pullFailed = sql`(${id} <= ${inFlight} and ${id} % 2000 = 5)`;
  const pending = sql`(${id} > ${records - PENDING})`;
  const delivered = sql`(${id} > ${inFlight} and ${id} <= ${records - PENDING})`;
  const at =
    dialect === 'sqlite'
      ? sql`'2026-01-01T00:00:00.000Z'`
      : dialect === 'postgres'
        ? sql`cast('2026-01-01T00:00:00Z' as timestamptz)`
        : sql`${new Date(Date.UTC(2026, 0, 1))}`;
  for (let first = 1; first <= records; first += 1_000_000) {
    await sql`
      update delivery set
        ${sql.ref(flags.pushSuccess)} = case when ${pending} or ${retrying} then null when ${dead} then ${no} else ${yes} end,
        ${sql.ref(flags.pushNode)} = case when ${pending} or ${retrying} or ${dead} then null else ${text(sql.ref('id_account'))} end,
        ${sql.ref(flags.pushTime)} = case when ${pending} then null else ${at} end,
        ${sql.ref(flags.pushError)} = case when ${retrying} or ${dead} then 'bench: refused' else null end,
        ${sql.ref(flags.pushAttempts)} = case when ${pending} then 0 else 1 end,
        ${sql.ref(flags.pullSuccess)} = case when ${pending} or ${retrying} or ${dead} or ${delivered} then null when ${pullFailed} then ${no} else ${yes} end,
        ${sql.ref(flags.pullTime)} = case when ${pending} or ${retrying} or ${dead} or ${delivered} then null else ${at} end,
        ${sql.ref(flags.pullError)} = case when ${pullFailed} and not ${pending} then 'bench: no such mailbox' else null end
      where ${id} >= ${first} and ${id} < ${first + 1_000_000}`.execute(db);
  }
}

async function time(report: string, work: () => Promise<unknown>, runs = 5): Promise<ReportTiming> {
  await work();
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = process.hrtime.bigint();
    await work();
    times.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  return { report, ms: median(times), runs };
}

async function timeCommand(report: string, args: string[], runs = 3): Promise<ReportTiming> {
  const times: number[] = [];
  for (let i = 0; i <= runs; i++) {
    const start = process.hrtime.bigint();
    const run = spawnSync(process.execPath, [packageFile('dist/cli/mesh.js'), ...args], { encoding: 'utf8', env: process.env });
    if (run.status !== 0) throw new Error(`mesh ${args[0]} failed: ${run.stderr}`);
    if (i > 0) times.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  return { report, ms: median(times), runs };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

function same(a: Map<string, RecordCounts>, b: Map<string, RecordCounts>): boolean {
  const nonzero = (m: Map<string, RecordCounts>) =>
    JSON.stringify(
      [...m]
        .filter(([, c]) => c.pending + c.failed + c.processed > 0)
        .sort(([x], [y]) => (x < y ? -1 : 1))
        .map(([node, c]) => [node, c.pending, c.failed, c.processed]),
    );
  return nonzero(a) === nonzero(b);
}

async function versionOf(database: Database): Promise<string> {
  if (database.dialect === 'sqlite') {
    const { rows } = await sql<{ v: string }>`select sqlite_version() as v`.execute(database.db);
    return `SQLite ${rows[0]?.v}`;
  }
  const { rows } = await sql<{ v: string }>`select version() as v`.execute(database.db);
  return String(rows[0]?.v ?? '').split(' on ')[0]!;
}

function print(version: string, options: Options, results: SizeResult[]): void {
  const lines = [
    `${version}, ${options.entities} entities on ${options.nodes} nodes, ${PENDING} records pending and ${DELIVERED} delivered not pulled:`,
    '',
    '| records | report | median ms | full count ms | full ÷ report |',
    '| ---: | --- | ---: | ---: | ---: |',
  ];
  for (const r of results) {
    for (const t of r.timings) {
      lines.push(
        `| ${r.records.toLocaleString('en')} | ${t.report} | ${t.ms.toFixed(1)} | ${r.fullCountMs} | ${(r.fullCountMs / t.ms).toFixed(0)} |`,
      );
    }
  }
  lines.push('');
  for (const r of results) {
    lines.push(
      `${r.records.toLocaleString('en')} records: seeded in ${r.seedSeconds.toFixed(0)} s, mesh recount ${r.recountSeconds.toFixed(1)} s, counts equal to a full recount: ${r.countsEqual ? 'yes' : 'NO'}`,
    );
  }
  console.log(lines.join('\n'));
}

interface Options {
  dialect: 'sqlite' | 'mysql' | 'postgres';
  records: number[];
  entities: number;
  nodes: number;
  out?: string;
}

function parse(argv: string[]): Options | null {
  const options: Options = { dialect: 'sqlite', records: [1_000_000, 10_000_000], entities: 1000, nodes: 20 };
  for (let i = 0; i < argv.length; i += 2) {
    const [flag, value] = [argv[i], argv[i + 1]];
    if (value === undefined) return null;
    if (flag === '--db' && (value === 'sqlite' || value === 'mysql' || value === 'postgres')) options.dialect = value;
    else if (flag === '--records') options.records = value.split(',').map(Number);
    else if (flag === '--entities') options.entities = Number(value);
    else if (flag === '--nodes') options.nodes = Number(value);
    else if (flag === '--out') options.out = value;
    else return null;
  }
  const whole = (n: number) => Number.isInteger(n) && n > 0;
  if (!options.records.every((n) => whole(n) && n > PENDING + DELIVERED) || !whole(options.entities) || !whole(options.nodes)) return null;
  return options;
}

process.exitCode = await main(process.argv.slice(2));
