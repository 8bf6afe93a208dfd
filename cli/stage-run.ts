import type { StageOptions, StreamOutcome } from '../src/stream/run-stage.js';
import type { CommandContext } from './command.js';
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
 * on stderr.
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
    concurrency: concurrencyOption(ctx),
    onBatch: progress.onBatch,
  }).finally(() => stop.release());
  progress.end();
  const reason = stop.reason();
  if (reason === 'SIGINT' || reason === 'SIGTERM') summary.interrupted = reason;
  if (ctx.out.json) ctx.out.document(summary);
  for (const n of summary.nodes.filter((n) => n.error)) {
    ctx.out.error(`mesh ${label}: ${n.node} (${n.service} ${n.protocol}): ${n.error}`);
  }
  if (summary.interrupted) ctx.out.error(interruptedLine(`mesh ${label}`, summary.interrupted));
  return summary;
}

/** What a stopped command says on stderr; its exit status says it too (interruptedStatus). */
export function interruptedLine(label: string, signal: 'SIGINT' | 'SIGTERM'): string {
  return `${label}: interrupted by ${signal} (exit ${interruptedStatus(signal)}): the batches in flight were finished, the rest waits for the next run`;
}
