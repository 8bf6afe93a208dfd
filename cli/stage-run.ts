import type { StageOptions, StreamOutcome } from '../src/stream/run-stage.js';
import type { CommandContext } from './command.js';
import type { Output } from './output.js';
import { concurrencyOption } from './numeric-options.js';
import { ProgressLine } from './progress.js';
import { interruptedStatus, stopOnSignals } from './stop-signal.js';

interface BatchEvent {
  node: string;
  records: number;
}

/** A stage's summary as push and pull print it: `interrupted` when SIGINT or SIGTERM stopped it. */
export type StageSummary<S> = S & { interrupted?: 'SIGINT' | 'SIGTERM' };

/**
 * Runs push or pull as `mesh push` / `mesh pull` do: options from the
 * command line, a progress line on a terminal, SIGINT and SIGTERM obeyed
 * after the batches in flight (the summary then says so), each failed stream
 * and each node unavailable or in back-off on stderr.
 */
export async function runStageCommand<S extends { nodes: StreamOutcome[] }>(
  ctx: CommandContext,
  label: 'push' | 'pull',
  run: (options: StageOptions & { onBatch: (event: BatchEvent) => void }) => Promise<S>,
): Promise<StageSummary<S>> {
  const progress = new ProgressLine({ out: ctx.out, label });
  const stop = stopOnSignals();
  const summary: StageSummary<S> = await run({
    signal: stop.signal,
    ...(ctx.options.service !== undefined && { service: ctx.options.service }),
    ...(ctx.options.node !== undefined && { node: ctx.options.node }),
    ...(ctx.options.now && { now: true }),
    concurrency: concurrencyOption(ctx),
    onBatch: progress.onBatch,
  }).finally(() => stop.release());
  progress.end();
  const reason = stop.reason();
  if (reason === 'SIGINT' || reason === 'SIGTERM') summary.interrupted = reason;
  if (ctx.out.json) ctx.out.document(summary);
  printStreamProblems(ctx.out, `mesh ${label}`, summary.nodes);
  if (summary.interrupted) ctx.out.error(interruptedLine(`mesh ${label}`, summary.interrupted));
  return summary;
}

/** What a stopped command says on stderr; its exit status says it too (interruptedStatus). */
export function interruptedLine(label: string, signal: 'SIGINT' | 'SIGTERM'): string {
  return `${label}: interrupted by ${signal} (exit ${interruptedStatus(signal)}): the batches in flight were finished, the rest waits for the next run`;
}

/**
 * One stderr line per stream that failed, per node found unavailable (with
 * its next try) and per node skipped for its back-off: never a silent
 * "pushed 0, failed 0".
 */
export function printStreamProblems(out: Output, prefix: string, nodes: StreamOutcome[]): void {
  for (const n of nodes) {
    const stream = `${n.node} (${n.service} ${n.protocol})`;
    if (n.unavailable !== undefined) {
      out.error(`${prefix}: ${stream}: unavailable: ${n.error ?? n.unavailable}${n.nextTryAt ? `; next try at ${n.nextTryAt}` : ''}`);
    } else if (n.error) out.error(`${prefix}: ${stream}: ${n.error}`);
    else if (n.skipped && n.nextTryAt) out.error(`${prefix}: ${stream}: skipped, ${n.skipped}`);
  }
}

/** A node was unavailable or in back-off: push, pull and run exit 1. */
export function someNodeDown(nodes: StreamOutcome[]): boolean {
  return nodes.some((n) => n.unavailable !== undefined || n.nextTryAt !== undefined);
}
