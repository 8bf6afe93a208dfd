import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../src/config/load-config.js';
import { openDatabase, type Database } from '../src/db/open-database.js';
import { writeBenchConfig, type BenchConfigFiles } from './bench-config.js';
import { createBenchDatabase, type BenchDatabase } from './bench-database.js';
import { startBenchNodes, type BenchNodes } from './bench-nodes.js';
import { BenchUsageError, parseBenchOptions, reproduceCommand, USAGE, type BenchOptions } from './bench-options.js';
import { machine, renderTable, round, withoutStart, type BenchReport, type Measurement } from './bench-report.js';
import { databaseVersion, setUpBenchDatabase } from './bench-setup.js';
import { checkPlans } from './check-plans.js';
import { floorPull, floorPush } from './floor-pass.js';
import { fastestOf, Measurer } from './measure.js';
import { runMesh, type MeshRun } from './mesh-process.js';
import { naivePush } from './naive-push.js';
import { measureNodeScaling, renderNodeScaling } from './node-scaling.js';
import { cpuBetween } from './process-usage.js';
import { analyze, resetFlags } from './reset-flags.js';
import { waitUntilProcessed } from './wait-processed.js';

const RESULT_COLUMN = 'result_hash';
const MB = 2 ** 20;

/**
 * `npm run bench`: builds a SaaS database, starts kit nodes as processes and
 * measures, in one run, `mesh push` and `mesh pull` against the same
 * database work with no HTTP (the floor), against the naive way (one request
 * and one UPDATE a record), and a push to nodes that store nothing (the
 * master alone). Every phase starts from the same flags. Prints a table;
 * `--out` writes JSON.
 */
async function main(argv: string[]): Promise<number> {
  // `npm run bench -- --reports ...`: the report times at 1M and 10M records (bench/reports/run-report-bench.ts).
  if (argv[0] === '--reports') {
    const reports = spawnSync(
      process.execPath,
      [fileURLToPath(new URL('./reports/run-report-bench.js', import.meta.url)), ...argv.slice(1)],
      {
        stdio: 'inherit',
      },
    );
    return reports.status ?? 1;
  }
  let options: BenchOptions;
  try {
    options = parseBenchOptions(argv);
  } catch (error) {
    if (!(error instanceof BenchUsageError)) throw error;
    if (error.message !== '') console.error(`bench: ${error.message}`);
    console.error(`usage: ${USAGE}`);
    return error.message === '' ? 0 : 2;
  }
  const log = (text: string) => console.error(`[bench ${new Date().toISOString().slice(11, 19)}] ${text}`);
  const loadBefore = loadavg()[0]!;
  const dir = mkdtempSync(join(tmpdir(), 'workmesh-bench-run-'));
  const profileDir = options.profileDir === undefined ? undefined : resolve(options.profileDir);
  if (profileDir) mkdirSync(profileDir, { recursive: true });
  let bench: BenchDatabase | undefined;
  let database: Database | undefined;
  let nodes: BenchNodes | undefined;
  try {
    bench = await createBenchDatabase(options.db, options.dialect);
    if (options.scaling) return await runNodeScaling(bench, options, dir, log);
    nodes = await startBenchNodes({ dir, count: options.nodes, processBatch: options.nodeBatch, ...(profileDir && { profileDir }) });
    for (const node of nodes.nodes) process.env[node.apiKeyVariable] = node.apiKey;
    const files = writeBenchConfig(dir, nodes.nodes, options.batch);
    const config = await loadConfig(files);
    const service = config.services[0]!;
    const protocol = service.protocols[0]!;
    database = await openDatabase(bench.url);
    const db = database;
    log(`${await databaseVersion(db)}: seeding ${options.entities} entities, ${options.records} records`);
    const setup = await setUpBenchDatabase(db, config, options.entities, options.records);
    log(`seeded in ${setup.seedSeconds.toFixed(1)} s, migrated in ${setup.migrateSeconds.toFixed(1)} s`);
    const nodeNames = nodes.nodes.map((n) => n.name);
    const plans = await checkPlans(db, service, protocol, nodeNames, options.records, 'push');

    const measurer = new Measurer({ dialect: options.dialect, nodePids: nodes.nodes.map((n) => n.pid) });
    const mesh = (command: 'push' | 'pull', name: string, configFiles: BenchConfigFiles = files): Promise<MeshRun> =>
      runMesh({
        command: [command, '--db', bench!.url, '--nodes-config', configFiles.nodes, '--services-config', configFiles.services],
        env: process.env,
        nodeFlags: options.meshFlags,
        ...(profileDir && { profileDir, profileName: `${name}-${process.pid}` }),
      });
    const resetPush = () => resetFlags(db, protocol, 'push', RESULT_COLUMN);
    const resetPull = () => resetFlags(db, protocol, 'pull', RESULT_COLUMN);

    let naive: Measurement | undefined;
    if (options.naiveSample > 0) {
      log(`naive push of ${options.naiveSample} records to ${options.nodes} nodes of its own`);
      const naiveNodes = await startBenchNodes({ dir, count: options.nodes, prefix: 'naive', processBatch: options.nodeBatch });
      measurer.nodePids = naiveNodes.nodes.map((n) => n.pid);
      try {
        naive = await measurer.inProcess(() => naivePush(db, service, protocol, naiveNodes.nodes, options.naiveSample));
      } finally {
        await naiveNodes.stop();
      }
      await resetPush();
    }
    measurer.nodePids = nodes.nodes.map((n) => n.pid);

    log(`push floor (database work only), fastest of ${options.floorRuns}`);
    const pushFloor = await fastestOf(
      options.floorRuns,
      () => measurer.inProcess(() => floorPush(db, service, protocol, options.batch)),
      resetPush,
    );

    let stubPush: Measurement | undefined;
    if (options.stub) {
      log('mesh push to stub nodes (they parse and answer, store nothing): the master alone');
      const stubNodes = await startBenchNodes({ dir, count: options.nodes, kind: 'stub', processBatch: 1 });
      try {
        for (const node of stubNodes.nodes) process.env[node.apiKeyVariable.replace('_KEY', '_STUB_KEY')] = node.apiKey;
        const stubDir = join(dir, 'stub');
        mkdirSync(stubDir);
        const stubFiles = writeBenchConfig(
          stubDir,
          stubNodes.nodes.map((n) => ({ ...n, apiKeyVariable: n.apiKeyVariable.replace('_KEY', '_STUB_KEY') })),
          options.batch,
        );
        // Compiled once here, as for the main files above: every mesh run measured finds its config in the cache, as a cron job's runs do.
        await loadConfig(stubFiles);
        measurer.nodePids = stubNodes.nodes.map((n) => n.pid);
        stubPush = await measurer.mesh(() => mesh('push', 'stub-push', stubFiles), 'pushed', options.records);
      } finally {
        await stubNodes.stop();
        measurer.nodePids = nodes.nodes.map((n) => n.pid);
      }
      await resetPush();
    }

    log('mesh push');
    const push = await measurer.mesh(() => mesh('push', 'push'), 'pushed', options.records);

    log('waiting for the nodes to process everything');
    const before = measurer.nodesUsage();
    const waitProcessedSeconds = await waitUntilProcessed(db, service, protocol, nodes.nodes, 3_600_000);
    log(`nodes done ${waitProcessedSeconds.toFixed(1)} s after the push (nodes CPU ${round(cpuBetween(before, measurer.nodesUsage()))} s)`);

    // A server re-samples its statistics after so many changes; SQLite only when told.
    await analyze(db);
    Object.assign(plans, await checkPlans(db, service, protocol, nodeNames, options.records, 'pull'));
    for (const [name, check] of Object.entries(plans)) {
      log(`plan ${name}: ${check.problems.length === 0 ? 'ok' : check.problems.join('; ')}\n  ${check.plan.join('\n  ')}`);
    }

    log(`pull floor (database work only), fastest of ${options.floorRuns}`);
    const pullFloor = await fastestOf(
      options.floorRuns,
      () => measurer.inProcess(() => floorPull(db, service, protocol, options.batch, RESULT_COLUMN)),
      resetPull,
    );

    log('mesh pull');
    const pull = await measurer.mesh(() => mesh('pull', 'pull'), 'pulled', options.records);

    const idle = await mesh('push', 'idle');
    const report: BenchReport = {
      command: reproduceCommand(options),
      date: new Date().toISOString(),
      machine: { ...machine(), loadAverage: [round(loadBefore), round(loadavg()[0]!)] },
      database: await databaseVersion(db),
      parameters: {
        entities: options.entities,
        records: options.records,
        nodes: options.nodes,
        batch: options.batch,
        naiveSample: options.naiveSample,
        nodeBatch: options.nodeBatch,
        floorRuns: options.floorRuns,
      },
      setup: {
        seedSeconds: round(setup.seedSeconds),
        migrateSeconds: round(setup.migrateSeconds),
        assignSeconds: round(setup.assignSeconds),
      },
      push,
      pushFloor,
      ...(stubPush && { stubPush }),
      pull,
      pullFloor,
      ...(naive && { naive }),
      meshStartSeconds: round(idle.wallSeconds, 3),
      meshStartPeakRssMB: round(idle.peakRssBytes / MB, 1),
      waitProcessedSeconds: round(waitProcessedSeconds, 1),
      ratios: {
        pushOverFloor: round(push.recordsPerSecond / pushFloor.recordsPerSecond),
        pullOverFloor: round(pull.recordsPerSecond / pullFloor.recordsPerSecond),
        ...(naive && { pushOverNaive: round(push.recordsPerSecond / naive.recordsPerSecond, 1) }),
        ...(stubPush && { stubPushOverFloor: round(stubPush.recordsPerSecond / pushFloor.recordsPerSecond) }),
        pushOverFloorWithoutStart: round(withoutStart({ meshStartSeconds: idle.wallSeconds }, push) / pushFloor.recordsPerSecond),
        pullOverFloorWithoutStart: round(withoutStart({ meshStartSeconds: idle.wallSeconds }, pull) / pullFloor.recordsPerSecond),
      },
      plans,
    };
    console.log(renderTable(report));
    if (options.out !== undefined) {
      mkdirSync(dirname(resolve(options.out)), { recursive: true });
      writeFileSync(options.out, `${JSON.stringify(report, null, 2)}\n`);
      log(`wrote ${options.out}`);
    }
    return 0;
  } finally {
    await database?.close().catch(() => undefined);
    await nodes?.stop();
    if (bench && !options.keep) await bench.drop();
    else if (bench) log(`kept ${bench.url}`);
    rmSync(dir, { recursive: true, force: true });
  }
}

/** `--nodes 4,20,200 --stub`: push and pull cost per record against the number of nodes, nodes that cost nothing. */
async function runNodeScaling(bench: BenchDatabase, options: BenchOptions, dir: string, log: (text: string) => void): Promise<number> {
  const loadBefore = loadavg()[0]!;
  const setupDir = join(dir, 'setup');
  mkdirSync(setupDir);
  const maxNodes = Math.max(...options.nodeCounts);
  const names = Array.from({ length: maxNodes }, (_, i) => ({
    name: `stub${i + 1}`,
    url: 'http://127.0.0.1:9',
    apiKeyVariable: 'WORKMESH_BENCH_STUB_KEY',
  }));
  process.env.WORKMESH_BENCH_STUB_KEY ??= 'set-up-only';
  const config = await loadConfig(writeBenchConfig(setupDir, names, options.batch));
  const database = await openDatabase(bench.url);
  try {
    log(`${await databaseVersion(database)}: seeding ${options.entities} entities, ${options.records} records`);
    await setUpBenchDatabase(database, config, options.entities, options.records);
    const rows = await measureNodeScaling({ dir, database, dbUrl: bench.url, options, log });
    console.log(
      `${reproduceCommand(options)}\n${await databaseVersion(database)}, ${options.entities} entities, ${options.records} records, batch ${options.batch}\n`,
    );
    console.log(renderNodeScaling(rows));
    if (options.out !== undefined) {
      mkdirSync(dirname(resolve(options.out)), { recursive: true });
      const report = {
        command: reproduceCommand(options),
        date: new Date().toISOString(),
        machine: { ...machine(), loadAverage: [round(loadBefore), round(loadavg()[0]!)] },
        database: await databaseVersion(database),
        rows,
      };
      writeFileSync(options.out, `${JSON.stringify(report, null, 2)}\n`);
      log(`wrote ${options.out}`);
    }
    return 0;
  } finally {
    await database.close();
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
