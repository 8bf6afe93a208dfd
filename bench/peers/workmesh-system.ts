import { readFileSync, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { sql } from 'kysely';
import { assignService } from '../../src/assign/assign-service.js';
import { loadConfig } from '../../src/config/load-config.js';
import { migrateDatabase } from '../../src/db/migrate-database.js';
import { startDemoNodes } from '../../src/demo/demo-nodes.js';
import { packageFile } from '../../src/package-files.js';
import { writeBenchConfig } from '../bench-config.js';
import { runMeasured } from './measured-child.js';
import { measureGroups } from './measure-groups.js';
import type { PeerSystem } from './peer-system.js';

/** Records per push batch and per node processing chunk, the main bench's defaults. */
const BATCH = 500;
/**
 * The built CLI, found from the package root so that the tests (running the TypeScript sources) use it too;
 * WORKMESH_PEERS_MESH names another build's (an earlier commit's, for a comparison in the same run).
 */
const MESH = process.env.WORKMESH_PEERS_MESH ?? packageFile('dist/cli/mesh.js');

/**
 * workmesh: `mesh push` (every pending record to its entity's kit node), then
 * `mesh pull` until every digest is stored, each a child process as from cron,
 * with kit nodes (bench/peers/peer-node.ts: the demo node's digest plus a
 * processing counter) as the workers. migrate and assign are set-up.
 */
export const workmeshSystem: PeerSystem = {
  id: 'workmesh',
  label: 'workmesh (`mesh push` + `mesh pull`, kit nodes)',
  promisesOrder: true,
  async run(ctx) {
    const nodes = await startDemoNodes({
      dir: ctx.dir,
      count: ctx.workers,
      script: packageFile('dist/bench/peers/peer-node.js'),
      env: { BATCH_SIZE: String(BATCH) },
      keyVariablePrefix: 'WORKMESH_PEERS',
    });
    try {
      const env: NodeJS.ProcessEnv = { ...process.env };
      for (const node of nodes.nodes) env[node.apiKeyVariable] = node.apiKey;
      const files = writeBenchConfig(ctx.dir, nodes.nodes, BATCH);
      // The peer node answers a processing counter too: pulled into processed_seq for the order check.
      const services = readFileSync(files.services, 'utf8');
      writeFileSync(
        files.services,
        services.replace(`columns: { hash: 'result_hash' }`, `columns: { hash: 'result_hash', seq: 'processed_seq' }`),
      );
      Object.assign(process.env, env);
      const config = await loadConfig(files);
      const migrated = await migrateDatabase(ctx.db.database, config, { dryRun: false });
      if (migrated.problems.length > 0) throw new Error(`mesh migrate: ${migrated.problems.join('; ')}`);
      const assigned = await assignService(ctx.db.database.db, config, config.services[0]!);
      if (assigned.assigned !== ctx.entities) throw new Error(`assigned ${assigned.assigned} of ${ctx.entities} entities`);
      await sql`vacuum analyze`.execute(ctx.db.database.db);
      const mesh = async (command: 'push' | 'pull') => {
        const run = await runMeasured(
          MESH,
          [command, '--db', ctx.db.url, '--nodes-config', files.nodes, '--services-config', files.services, '--json'],
          env as Record<string, string>,
        );
        const summary = parseSummary(run.stdout);
        const moved = Number(summary?.[command === 'push' ? 'pushed' : 'pulled'] ?? NaN);
        if (run.exitCode !== 0 || !Number.isFinite(moved))
          throw new Error(`mesh ${command} exited ${run.exitCode}: ${run.stderr.slice(0, 2000)}`);
        ctx.log(`workmesh: mesh ${command} ${moved} records, ${run.wallSeconds.toFixed(1)} s, ${run.cpuSeconds.toFixed(1)} CPU-s`);
        return { moved, cpu: run.cpuSeconds };
      };
      return await measureGroups(
        ctx,
        nodes.nodes.map((n) => n.pid),
        async () => {
          const deadline = Date.now() + ctx.timeoutMs;
          const push = await mesh('push');
          if (push.moved !== ctx.records) throw new Error(`mesh push pushed ${push.moved} of ${ctx.records}`);
          let cpu = push.cpu;
          let pulled = 0;
          let pulls = 0;
          while (pulled < ctx.records) {
            if (Date.now() > deadline) throw new Error(`pulled ${pulled} of ${ctx.records} within ${ctx.timeoutMs / 1000} s`);
            const pull = await mesh('pull');
            pulled += pull.moved;
            cpu += pull.cpu;
            pulls++;
            // Nothing processed yet: the next cron run would come later still.
            if (pull.moved === 0) await sleep(100);
          }
          ctx.log(`workmesh: 1 push, ${pulls} pull${pulls === 1 ? '' : 's'}`);
          return cpu;
        },
      );
    } finally {
      await nodes.stop();
    }
  },
};

/** The `--json` document a mesh command printed last. */
function parseSummary(stdout: string): Record<string, unknown> | undefined {
  try {
    return JSON.parse(stdout.slice(stdout.startsWith('{') ? 0 : stdout.lastIndexOf('\n{') + 1)) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}
