import type { StageOptions, StreamOutcome } from '../src/stream/run-stage.js';
import type { CommandContext } from './command.js';
import { concurrencyOption } from './numeric-options.js';
import { ProgressLine } from './progress.js';
import { stopOnSignals } from './stop-signal.js';

interface BatchEvent {
  node: string;
  records: number;
}

/**
 * Runs push or pull as `mesh push` / `mesh pull` do: options from the
 * command line, a progress line on a terminal, SIGTERM obeyed after the
 * batches in flight, each failed stream on stderr.
 */
export async function runStageCommand<S extends { nodes: StreamOutcome[] }>(
  ctx: CommandContext,
  label: 'push' | 'pull',
  run: (options: StageOptions & { onBatch: (event: BatchEvent) => void }) => Promise<S>,
): Promise<S> {
  const progress = new ProgressLine({ out: ctx.out, label });
  const stop = stopOnSignals();
  const summary = await run({
    signal: stop.signal,
    ...(ctx.options.service !== undefined && { service: ctx.options.service }),
    ...(ctx.options.node !== undefined && { node: ctx.options.node }),
    concurrency: concurrencyOption(ctx),
    onBatch: progress.onBatch,
  }).finally(() => stop.release());
  progress.end();
  if (ctx.out.json) ctx.out.document(summary);
  for (const n of summary.nodes.filter((n) => n.error)) {
    ctx.out.error(`mesh ${label}: ${n.node} (${n.service} ${n.protocol}): ${n.error}`);
  }
  return summary;
}
