import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { sql } from 'kysely';
import { assignService } from '../../src/assign/assign-service.js';
import { loadConfig } from '../../src/config/load-config.js';
import { migrateDatabase } from '../../src/db/migrate-database.js';
import { openDatabase, type Database } from '../../src/db/open-database.js';
import { createDemoTables, seedDemoTables } from '../../src/demo/demo-saas.js';
import { packageFile } from '../../src/package-files.js';
import { writeBenchConfig } from '../bench-config.js';
import { createBenchDatabase, type BenchDatabase } from '../bench-database.js';
import { startBenchNodes, type BenchNodes } from '../bench-nodes.js';
import { machine } from '../bench-report.js';
import { latencyCommand, LATENCY_USAGE, LatencyUsageError, parseLatencyOptions, type LatencyOptions } from './latency-options.js';
import { insertSteadily } from './steady-inserts.js';

interface Percentiles {
  records: number;
  p50: number;
  p99: number;
  max: number;
}

/**
 * `npm run bench:latency`: `mesh run --every 1s` against kit nodes while
 * records are inserted at a steady rate; reports, from each record's insert
 * time (a column of the table, from the server's clock) to its push_time and
 * to its pull_time (results stored), p50, p99 and max.
 */
async function main(argv: string[]): Promise<number> {
  let options: LatencyOptions;
  try {
    options = parseLatencyOptions(argv);
  } catch (error) {
    if (!(error instanceof LatencyUsageError)) throw error;
    if (error.message !== '') console.error(`bench:latency: ${error.message}`);
    console.error(`usage: ${LATENCY_USAGE}`);
    return error.message === '' ? 0 : 2;
  }
  const log = (text: string) => console.error(`[latency ${new Date().toISOString().slice(11, 19)}] ${text}`);
  const dir = mkdtempSync(join(tmpdir(), 'workmesh-latency-'));
  let bench: BenchDatabase | undefined;
  let database: Database | undefined;
  let nodes: BenchNodes | undefined;
  try {
    bench = await createBenchDatabase(options.db, 'postgres');
    database = await openDatabase(bench.url);
    const db = database;
    await createDemoTables(db);
    await sql`alter table delivery add column inserted_at timestamptz`.execute(db.db);
    await seedDemoTables(db, { accounts: options.entities, records: 0 });
    nodes = await startBenchNodes({ dir, count: options.nodes, processBatch: options.batch });
    const env: NodeJS.ProcessEnv = { ...process.env };
    for (const node of nodes.nodes) env[node.apiKeyVariable] = process.env[node.apiKeyVariable] = node.apiKey;
    const files = writeBenchConfig(dir, nodes.nodes, options.batch);
    const config = await loadConfig(files);
    const protocol = config.services[0]!.protocols[0]!;
    const migrated = await migrateDatabase(db, config, { dryRun: false });
    if (migrated.problems.length > 0) throw new Error(`mesh migrate: ${migrated.problems.join('; ')}`);
    await assignService(db.db, config, config.services[0]!);
    await sql`vacuum analyze`.execute(db.db);

    log(
      `mesh run --every ${options.every}; inserting ${options.rate} records/s for ${options.seconds} s (load ${loadavg()[0]!.toFixed(2)})`,
    );
    const loadBefore = loadavg()[0]!;
    const mesh = spawn(
      process.execPath,
      [
        packageFile('dist/cli/mesh.js'),
        'run',
        '--every',
        options.every,
        '--db',
        bench.url,
        '--nodes-config',
        files.nodes,
        '--services-config',
        files.services,
        '--json',
      ],
      { env, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let meshOut = '';
    let meshErr = '';
    mesh.stdout.setEncoding('utf8').on('data', (chunk: string) => (meshOut += chunk));
    mesh.stderr.setEncoding('utf8').on('data', (chunk: string) => (meshErr += chunk));
    const exited = new Promise<number | null>((done) => mesh.once('exit', (code) => done(code)));
    // The loop's first cycle (start-up, an empty table) is not what a record waits for in steady state.
    await sleep(2000);
    const inserts = await insertSteadily(db, { rate: options.rate, seconds: options.seconds, entities: options.entities, firstId: 1 });
    log(
      `inserted ${inserts.inserted} in ${inserts.seconds.toFixed(1)} s (largest statement ${inserts.largestStatement} records); waiting for every result`,
    );
    const pullTime = sql.ref(protocol.flags.pullTime);
    const pushTime = sql.ref(protocol.flags.pushTime);
    const drainDeadline = Date.now() + options.drainSeconds * 1000;
    let left = Infinity;
    while (left > 0 && Date.now() < drainDeadline && mesh.exitCode === null) {
      const { rows } = await sql<{ n: string }>`select count(*) as n from delivery where ${pullTime} is null`.execute(db.db);
      left = Number(rows[0]!.n);
      if (left > 0) await sleep(500);
    }
    mesh.kill('SIGTERM');
    const code = await exited;
    if (left > 0)
      log(`${left} records without a result after ${options.drainSeconds} s; mesh run exited ${code}: ${meshErr.slice(0, 2000)}`);
    const totals = meshOut.trim() === '' ? undefined : (JSON.parse(meshOut.slice(meshOut.lastIndexOf('\n{') + 1)) as unknown);

    const percentiles = async (column: typeof pushTime): Promise<Percentiles> => {
      const { rows } = await sql<{ n: string; p50: number; p99: number; max: number }>`
        select count(*) as n,
          percentile_cont(0.5) within group (order by extract(epoch from ${column} - inserted_at)) as p50,
          percentile_cont(0.99) within group (order by extract(epoch from ${column} - inserted_at)) as p99,
          max(extract(epoch from ${column} - inserted_at)) as max
        from delivery where ${column} is not null`.execute(db.db);
      const row = rows[0]!;
      return { records: Number(row.n), p50: Number(row.p50), p99: Number(row.p99), max: Number(row.max) };
    };
    const push = await percentiles(pushTime);
    const pull = await percentiles(pullTime);
    const loadAfter = loadavg()[0]!;
    const s = (n: number) => `${n.toFixed(2)} s`;
    console.log(
      `PostgreSQL, ${options.rate} records/s for ${options.seconds} s over ${options.entities} entities, mesh run --every ${options.every}, ` +
        `${options.nodes} kit nodes, batch ${options.batch}; load ${loadBefore.toFixed(2)} → ${loadAfter.toFixed(2)}`,
    );
    console.log('| from insert to | records | p50 | p99 | max |\n| --- | ---: | ---: | ---: | ---: |');
    console.log(`| pushed (push_time) | ${push.records.toLocaleString('en-US')} | ${s(push.p50)} | ${s(push.p99)} | ${s(push.max)} |`);
    console.log(
      `| result stored (pull_time) | ${pull.records.toLocaleString('en-US')} | ${s(pull.p50)} | ${s(pull.p99)} | ${s(pull.max)} |`,
    );
    if (options.out !== undefined) {
      mkdirSync(dirname(resolve(options.out)), { recursive: true });
      const report = {
        command: latencyCommand(options),
        date: new Date().toISOString(),
        machine: { ...machine(), loadAverage: [loadBefore, loadAfter] },
        options,
        inserts,
        meshRun: totals,
        insertToPush: push,
        insertToResult: pull,
        withoutResult: left,
      };
      writeFileSync(options.out, `${JSON.stringify(report, null, 2)}\n`);
      log(`wrote ${options.out}`);
    }
    return left === 0 && push.records === inserts.inserted ? 0 : 1;
  } finally {
    await database?.close().catch(() => undefined);
    await nodes?.stop();
    await bench?.drop().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}

main(process.argv.slice(2)).then(
  (status) => {
    process.exitCode = status;
  },
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
