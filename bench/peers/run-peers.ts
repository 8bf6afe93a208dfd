import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { machine } from '../bench-report.js';
import { checkResults } from './check-results.js';
import { createPeerDatabase } from './peer-database.js';
import { parsePeerOptions, PEER_USAGE, peerCommand, PeerUsageError, type PeerOptions } from './peer-options.js';
import { peerSystem } from './peer-systems.js';
import { renderPeerTable, summarize, type PeerRun } from './peer-summary.js';

/**
 * `npm run bench:peers`: the same job — every record of a PostgreSQL table
 * hashed by a worker process and its digest written back — done by workmesh
 * and by the job queues users compare it with, in interleaved rounds, each
 * run on a fresh database; every run's results are checked (digests, and
 * per-tenant order). Prints a table; `--out` writes JSON.
 */
async function main(argv: string[]): Promise<number> {
  let options: PeerOptions;
  try {
    options = parsePeerOptions(argv);
  } catch (error) {
    if (!(error instanceof PeerUsageError)) throw error;
    if (error.message !== '') console.error(`bench:peers: ${error.message}`);
    console.error(`usage: ${PEER_USAGE}`);
    return error.message === '' ? 0 : 2;
  }
  const log = (text: string) => console.error(`[peers ${new Date().toISOString().slice(11, 19)}] ${text}`);
  const systems = options.systems.map(peerSystem);
  const loadBefore = loadavg()[0]!;
  const runs: PeerRun[] = [];
  for (let round = 1; round <= options.rounds; round++) {
    for (const system of systems) {
      const dir = mkdtempSync(join(tmpdir(), 'workmesh-peers-'));
      const db = await createPeerDatabase(options.db, options.entities, options.records);
      try {
        log(`round ${round}: ${system.id}, ${options.records} records of ${options.entities} tenants (load ${loadavg()[0]!.toFixed(2)})`);
        const measured = await system.run({
          db,
          serverUrl: options.db,
          redisUrl: options.redis,
          records: options.records,
          entities: options.entities,
          workers: options.workers,
          dir,
          timeoutMs: options.timeoutSeconds * 1000,
          log,
        });
        const check = await checkResults(db.database);
        const run: PeerRun = { system: system.id, round, ...measured, recordsPerSecond: options.records / measured.seconds, check };
        runs.push(run);
        const c = measured.cpu;
        log(
          `${system.id}: ${measured.seconds.toFixed(1)} s, ${Math.round(run.recordsPerSecond)} records/s; CPU s master ${c.master.toFixed(1)}, ` +
            `workers ${c.workers.toFixed(1)}, PostgreSQL ${c.database.toFixed(1)}, Redis ${c.redis.toFixed(1)}; ` +
            `digests wrong ${check.wrong}, missing ${check.missing}; inversions ${check.inversions}, unsequenced ${check.unsequenced}`,
        );
      } finally {
        await db.close(false);
        rmSync(dir, { recursive: true, force: true });
      }
    }
  }
  const rows = summarize(runs, systems);
  const load: [number, number] = [Math.round(loadBefore * 100) / 100, Math.round(loadavg()[0]! * 100) / 100];
  console.log(
    `${options.records.toLocaleString('en-US')} records of ${options.entities.toLocaleString('en-US')} tenants, ${options.workers} worker processes, ` +
      `${options.rounds} interleaved round(s); load ${load[0]} → ${load[1]}`,
  );
  console.log(renderPeerTable(rows));
  if (options.out !== undefined) {
    mkdirSync(dirname(resolve(options.out)), { recursive: true });
    const report = {
      command: peerCommand(options),
      date: new Date().toISOString(),
      machine: { ...machine(), loadAverage: load },
      options,
      rows,
      runs,
    };
    writeFileSync(options.out, `${JSON.stringify(report, null, 2)}\n`);
    log(`wrote ${options.out}`);
  }
  const failed = rows.filter((r) => r.violations > 0 || r.wrongDigests > 0 || r.missingDigests > 0);
  for (const row of failed)
    log(`FAILED CHECK ${row.system}: ${row.wrongDigests} wrong, ${row.missingDigests} missing digests, ${row.violations} order violations`);
  return failed.length === 0 ? 0 : 1;
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
