import { setTimeout as sleep } from 'node:timers/promises';
import { assignService } from '../../src/assign/assign-service.js';
import type { MeshConfig } from '../../src/config/mesh-config.js';
import type { Database } from '../../src/db/open-database.js';
import { TransportPool } from '../../src/nodes/transport-pool.js';
import { pullRecords } from '../../src/pull/pull-records.js';
import { pushRecords } from '../../src/push/push-records.js';
import { UsageError, type CommandContext } from '../command.js';
import { concurrencyOption, parseDuration } from '../numeric-options.js';
import { interruptedLine, printStreamProblems, someNodeDown } from '../stage-run.js';
import { interruptedStatus, stopOnSignals, type StopSignal } from '../stop-signal.js';
import { warnUnknownNodes } from '../unknown-nodes-warning.js';
import { printFailover } from './push.js';

interface CycleTotals {
  cycles: number;
  assigned: number;
  /** Entities no node had room for, in the last cycle. */
  unassigned: number;
  pushed: number;
  pulled: number;
  failed: number;
}

/**
 * `mesh run --once` (one cycle, for cron) and `mesh run --every D` (the
 * loop). Entities that cannot be placed are said on stderr and never stop
 * push and pull: the records of every placed entity keep flowing.
 */
export async function run(ctx: CommandContext): Promise<number> {
  const { once, every } = ctx.options;
  if (once && every !== undefined) throw new UsageError('give --once or --every, not both');
  if (!once && every === undefined)
    throw new UsageError('--once or --every is required: mesh run --once (from cron) or mesh run --every 60s');
  const everyMs = every === undefined ? 0 : parseDuration(every, '--every');
  const concurrency = concurrencyOption(ctx);
  // From cron (stdout not a terminal) a good run says nothing: cron mails whatever a job prints.
  const out = once && !ctx.out.stdout.isTTY ? ctx.out.quieted() : ctx.out;
  const config = await ctx.config();
  const database = await ctx.database();
  await warnUnknownNodes(ctx, database, config);
  const stop = stopOnSignals();
  const totals: CycleTotals = { cycles: 0, assigned: 0, unassigned: 0, pushed: 0, pulled: 0, failed: 0 };
  // One connection to a node for a cycle's push and pull and the cycles after, while it stays open (undici closes
  // one idle for a few seconds): at 1,000 nodes a new connection is most of what a node costs a run.
  const transportPool = new TransportPool();
  const cycle = () => runCycle({ ctx: { ...ctx, out }, database, config, concurrency, stop, totals, transportPool });
  let lastCycleFailed = false;
  try {
    if (once) lastCycleFailed = await cycle();
    while (!once && !stop.signal.aborted) {
      const started = Date.now();
      try {
        lastCycleFailed = await cycle();
      } catch (error) {
        // A database or network outage fails this cycle, not the loop: the next one tries again.
        lastCycleFailed = true;
        out.error(`mesh run: cycle failed: ${(error as Error).message}`);
      }
      const wait = everyMs - (Date.now() - started);
      if (wait > 0) await sleep(wait, undefined, { signal: stop.signal }).catch(() => undefined);
    }
  } finally {
    stop.release();
    await transportPool.closeAll();
  }
  const reason = stop.reason();
  const interrupted = reason === 'SIGINT' || reason === 'SIGTERM' ? reason : undefined;
  if (out.json) out.document({ ...totals, ...(interrupted && { interrupted }) });
  if (interrupted) out.error(interruptedLine('mesh run', interrupted));
  return interruptedStatus(interrupted) ?? (lastCycleFailed ? 1 : 0);
}

/** One assign → push → pull; returns whether anything failed (an entity left unplaced included). */
async function runCycle(props: {
  ctx: CommandContext;
  database: Database;
  config: MeshConfig;
  concurrency: number;
  stop: StopSignal;
  totals: CycleTotals;
  transportPool: TransportPool;
}): Promise<boolean> {
  const { ctx, database, config, concurrency, stop, totals, transportPool } = props;
  const { out } = ctx;
  let assigned = 0;
  let unassigned = 0;
  for (const service of config.services) {
    const result = await assignService(database.db, config, service);
    assigned += result.assigned;
    unassigned += result.unassigned;
    if (result.unassigned > 0) {
      out.error(
        `mesh run: ${result.service}: ${result.unassigned} entit${result.unassigned === 1 ? 'y stays' : 'ies stay'} unassigned: ${result.reasons.join('; ')}; ` +
          'push and pull go on for the others',
      );
    }
  }
  const pushed = stop.signal.aborted
    ? { pushed: 0, failed: 0, nodes: [], failover: [] }
    : await pushRecords(database, config, { concurrency, signal: stop.signal, transportPool });
  const pulled = stop.signal.aborted
    ? { pulled: 0, failed: 0, nodes: [] }
    : await pullRecords(database, config, { concurrency, signal: stop.signal, transportPool });
  totals.cycles += 1;
  totals.assigned += assigned;
  totals.unassigned = unassigned;
  totals.pushed += pushed.pushed;
  totals.pulled += pulled.pulled;
  totals.failed += pushed.failed + pulled.failed;
  printFailover(out, 'mesh run', pushed.failover ?? []);
  printStreamProblems(out, 'mesh run', [...pushed.nodes, ...pulled.nodes]);
  if (!out.json) {
    out.line(
      `${new Date().toISOString()} assigned ${assigned}${unassigned > 0 ? ` (${unassigned} unassigned)` : ''}, pushed ${pushed.pushed}, ` +
        `pulled ${pulled.pulled}, failed ${pushed.failed + pulled.failed}`,
    );
  }
  return (
    unassigned > 0 ||
    pushed.failed + pulled.failed > 0 ||
    [...pushed.nodes, ...pulled.nodes].some((n) => n.error !== undefined) ||
    someNodeDown([...pushed.nodes, ...pulled.nodes])
  );
}
