import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assignService } from '../src/assign/assign-service.js';
import { loadConfig } from '../src/config/load-config.js';
import type { DialectName } from '../src/db/database-url.js';
import { migrateDatabase } from '../src/db/migrate-database.js';
import { openDatabase } from '../src/db/open-database.js';
import { createDemoTables, seedDemoTablesFast } from '../src/demo/demo-saas.js';
import { nodeReport } from '../src/report/node-report.js';
import { writeBenchConfig } from './bench-config.js';
import { createBenchDatabase } from './bench-database.js';
import { DEFAULT_SERVERS } from './bench-options.js';

/**
 * `node dist/bench/node-count-reports.js sqlite|mysql|postgres`: `mesh assign`
 * (10,000 entities, round-robin) and `mesh --nodes` (median of 5) with 4
 * and with 1,000 nodes, on 200,000 records, in process: what a run pays per
 * node outside the push and pull passes (issue 15.4).
 */
async function main(dialect: DialectName): Promise<void> {
  for (const count of [4, 1000]) {
    const dir = mkdtempSync(join(tmpdir(), 'workmesh-node-count-'));
    const nodes = Array.from({ length: count }, (_, i) => ({
      name: `node${i + 1}`,
      url: `http://127.0.0.1:${20_000 + i}`,
      apiKeyVariable: 'WORKMESH_NODE_COUNT_BENCH_KEY',
    }));
    process.env.WORKMESH_NODE_COUNT_BENCH_KEY = 'unused';
    const config = await loadConfig(writeBenchConfig(dir, nodes, 500));
    const bench = await createBenchDatabase(dialect === 'sqlite' ? 'sqlite' : DEFAULT_SERVERS[dialect], dialect);
    const database = await openDatabase(bench.url);
    try {
      await createDemoTables(database);
      await seedDemoTablesFast(database, { accounts: 10_000, records: 200_000 });
      await migrateDatabase(database, config, { dryRun: false });
      let start = Date.now();
      const assigned = await assignService(database.db, config, config.services[0]!);
      const assignMs = Date.now() - start;
      const times: number[] = [];
      for (let i = 0; i < 5; i++) {
        start = Date.now();
        await nodeReport(database, config);
        times.push(Date.now() - start);
      }
      times.sort((a, b) => a - b);
      console.log(
        `${dialect}, ${count} nodes: mesh assign of ${assigned.assigned} entities ${assignMs} ms; mesh --nodes median ${times[2]} ms`,
      );
    } finally {
      await database.close();
      await bench.drop();
      rmSync(dir, { recursive: true, force: true });
    }
  }
}

const dialect = process.argv[2] ?? 'sqlite';
if (dialect !== 'sqlite' && dialect !== 'mysql' && dialect !== 'postgres') {
  console.error('usage: node dist/bench/node-count-reports.js sqlite|mysql|postgres');
  process.exitCode = 2;
} else await main(dialect);
