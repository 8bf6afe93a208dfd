import { setTimeout as sleep } from 'node:timers/promises';
import { assignService } from '../../src/assign/assign-service.js';
import { pullRecords } from '../../src/pull/pull-records.js';
import { pushRecords } from '../../src/push/push-records.js';
import { UsageError, type CommandContext } from '../command.js';
import { concurrencyOption, parseDuration } from '../numeric-options.js';
import { stopOnSignals } from '../stop-signal.js';
import { printStreamProblems, someNodeDown } from '../stage-run.js';
import { printFailover } from './push.js';

export async function run(ctx: CommandContext): Promise<number> {
  if (ctx.options.every === undefined) throw new UsageError('--every is required, e.g. mesh run --every 60s');
  const everyMs = parseDuration(ctx.options.every, '--every');
  const concurrency = concurrencyOption(ctx);
  const config = await ctx.config();
  const database = await ctx.database();
  const stop = stopOnSignals();
  const totals = { cycles: 0, assigned: 0, pushed: 0, pulled: 0, failed: 0 };
  let lastCycleFailed = false;
  /** One assign → push → pull; returns whether anything failed. */
  const runCycle = async (): Promise<boolean> => {
    let assigned = 0;
    for (const service of config.services) assigned += (await assignService(database.db, config, service)).assigned;
    const pushed = await pushRecords(database, config, { concurrency, signal: stop.signal });
    const pulled = stop.signal.aborted
      ? { pulled: 0, failed: 0, nodes: [] }
      : await pullRecords(database, config, { concurrency, signal: stop.signal });
    totals.cycles += 1;
    totals.assigned += assigned;
    totals.pushed += pushed.pushed;
    totals.pulled += pulled.pulled;
    totals.failed += pushed.failed + pulled.failed;
    printFailover(ctx.out, 'mesh run', pushed.failover ?? []);
    printStreamProblems(ctx.out, 'mesh run', [...pushed.nodes, ...pulled.nodes]);
    if (!ctx.out.json) {
      ctx.out.line(
        `${new Date().toISOString()} assigned ${assigned}, pushed ${pushed.pushed}, pulled ${pulled.pulled}, failed ${pushed.failed + pulled.failed}`,
      );
    }
    return pushed.failed + pulled.failed > 0 || pulled.nodes.some((n) => n.error !== undefined) || someNodeDown([...pushed.nodes, ...pulled.nodes]);
  };
  try {
    while (!stop.signal.aborted) {
      const started = Date.now();
      try {
        lastCycleFailed = await runCycle();
      } catch (error) {
        // A database or network outage fails this cycle, not the loop: the next one tries again.
        lastCycleFailed = true;
        ctx.out.error(`mesh run: cycle failed: ${(error as Error).message}`);
      }
      const wait = everyMs - (Date.now() - started);
      if (wait > 0) await sleep(wait, undefined, { signal: stop.signal }).catch(() => undefined);
    }
  } finally {
    stop.release();
  }
  if (ctx.out.json) ctx.out.document(totals);
  return lastCycleFailed ? 1 : 0;
}
