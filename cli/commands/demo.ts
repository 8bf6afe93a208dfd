import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { assignService } from '../../src/assign/assign-service.js';
import { reassignEntity } from '../../src/assign/move-entities.js';
import { loadConfig } from '../../src/config/load-config.js';
import type { MeshConfig } from '../../src/config/mesh-config.js';
import { migrateDatabase } from '../../src/db/migrate-database.js';
import { openDatabase, type Database } from '../../src/db/open-database.js';
import { writeDemoConfig } from '../../src/demo/demo-config.js';
import { startDemoNodes } from '../../src/demo/demo-nodes.js';
import { createDemoTables, seedDemoTables } from '../../src/demo/demo-saas.js';
import { pullRecords } from '../../src/pull/pull-records.js';
import { pushRecords } from '../../src/push/push-records.js';
import { entityStatus } from '../../src/report/entity-status.js';
import { nodeReport } from '../../src/report/node-report.js';
import { serviceReport } from '../../src/report/service-report.js';
import type { CommandContext } from '../command.js';
import type { Output } from '../output.js';
import { renderNodeReport } from './nodes-report.js';
import { renderServiceReport } from './services-report.js';

const ACCOUNTS = 12;
const RECORDS = 3_000;
const FAIL_EVERY = 500;

export async function run(ctx: CommandContext): Promise<number> {
  const out = ctx.out;
  const dir = mkdtempSync(join(tmpdir(), 'workmesh-demo-'));
  const say = (text: string) => {
    if (!out.json) out.line(text);
  };
  let database: Database | undefined;
  let stopNodes: (() => Promise<void>) | undefined;
  try {
    say(`workmesh demo, in ${dir}\n`);
    const started = await startDemoNodes({ dir, count: 3 });
    stopNodes = started.stop;
    for (const node of started.nodes) process.env[node.apiKeyVariable] = node.apiKey;
    say(`1. Started 3 local nodes built with workmesh/micro: ${started.nodes.map((n) => `${n.name} ${n.url}`).join(', ')}`);
    const files = writeDemoConfig(dir, started.nodes);
    const config = await loadConfig(files);
    say(`   Configuration written to ${files.nodes} and ${files.services}`);

    database = await openDatabase(`sqlite:${join(dir, 'saas.db')}`);
    await createDemoTables(database);
    await seedDemoTables(database, { accounts: ACCOUNTS, records: RECORDS, failEvery: FAIL_EVERY });
    say(
      `2. Created a SaaS database (SQLite): ${ACCOUNTS} accounts, ${RECORDS} deliveries; every ${FAIL_EVERY}th one is unreadable on purpose`,
    );

    const migrated = await migrateDatabase(database, config, { dryRun: false });
    say(`3. mesh migrate: ${migrated.steps.map((s) => s.description).join('; ')}`);

    const service = config.services[0]!;
    const assigned = await assignService(database.db, config, service);
    say(
      `4. mesh assign: ${assigned.assigned} accounts by round-robin (${Object.entries(assigned.byNode)
        .map(([n, c]) => `${n} ${c}`)
        .join(', ')})`,
    );

    const pushed = await pushRecords(database, config);
    say(
      `5. mesh push: ${pushed.pushed} records sent in (sort, id) order, in batches of ${service.protocols[0]!.batchSize}, failed ${pushed.failed}`,
    );

    const pulled = await pullUntilDone(database, config);
    say(`6. mesh pull: ${pulled.pulled} results stored in delivery.result_hash, ${pulled.failed} processing errors recorded\n`);
    say('mesh --nodes');
    if (!out.json) renderNodeReport(out, await nodeReport(database, config));
    say('\nmesh --services');
    if (!out.json) renderServiceReport(out, await serviceReport(database, config));

    const moved = await reassignEntity(database.db, config, service, '1', { repush: true });
    say(
      `\n7. mesh reassign --service ${service.name} --entity 1 --repush: account 1 moved ${moved.from} -> ${moved.to}; its records are pending again`,
    );
    await showStatus(out, database, config, say);
    const again = await pushRecords(database, config);
    const againPulled = await pullUntilDone(database, config);
    say(
      `8. mesh push, mesh pull: ${again.pushed} records of account 1 sent to ${moved.to} from the beginning, ${againPulled.pulled} results pulled`,
    );
    await showStatus(out, database, config, say);
    say('\nmesh --nodes');
    const finalNodes = await nodeReport(database, config);
    const finalServices = await serviceReport(database, config);
    if (out.json) out.document({ nodes: finalNodes, services: finalServices });
    else renderNodeReport(out, finalNodes);
    say('\nDone. The demo cleans up after itself; see README.md to point mesh at your own database.');
    return 0;
  } finally {
    await database?.close().catch(() => undefined);
    await stopNodes?.();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Nodes process in the background: pull until nothing pushed is left unpulled, for a few seconds at most. */
async function pullUntilDone(database: Database, config: MeshConfig): Promise<{ pulled: number; failed: number }> {
  const total = { pulled: 0, failed: 0 };
  const deadline = Date.now() + 15_000;
  for (;;) {
    const summary = await pullRecords(database, config);
    total.pulled += summary.pulled;
    total.failed += summary.failed;
    const pending = (await serviceReport(database, config)).reduce((n, s) => n + s.pending, 0);
    if (pending === 0 || Date.now() > deadline) return total;
    await sleep(200);
  }
}

async function showStatus(out: Output, database: Database, config: MeshConfig, say: (text: string) => void): Promise<void> {
  const status = await entityStatus(database, config.services[0]!, '1');
  if (!status || out.json) return;
  for (const p of status.protocols) {
    say(
      `   mesh status --entity 1: node ${status.node}, ${p.protocol}: pending ${p.pending}, failed ${p.failed}, processed ${p.processed}`,
    );
  }
}
