import type { NodeConfig } from '../../src/config/node-config.js';
import {
  DEFAULT_DEPLOY_CONCURRENCY,
  deployNodes,
  describeExit,
  type DeployEvent,
  type DeployNodeSummary,
} from '../../src/operate/deploy-node.js';
import { UsageError, type CommandContext } from '../command.js';
import { concurrencyOption } from '../numeric-options.js';

export async function run(ctx: CommandContext): Promise<number> {
  const { node: name, all } = ctx.options;
  if (all && name !== undefined) throw new UsageError('give --node N or --all, not both');
  if (!all && (name === undefined || name === '')) throw new UsageError('--node N or --all is required');
  const concurrency = concurrencyOption(ctx, DEFAULT_DEPLOY_CONCURRENCY);
  const config = await ctx.config();
  const nodes = pickNodes(config.nodes, all ? undefined : name);
  const { out } = ctx;
  const summaries = await deployNodes(nodes, {
    concurrency,
    ...(!out.json && { onEvent: (event: DeployEvent) => printEvent(ctx, event) }),
  });
  if (out.json) {
    out.document(summaries);
    for (const s of summaries) if (!s.ok) out.error(`mesh: ${s.node}: ${headline(s)}`);
  } else printSummaries(ctx, summaries);
  return summaries.every((s) => s.ok) ? 0 : 1;
}

/**
 * A name (`--node N`) must be a node that can be deployed. None (`--all`) takes the nodes
 * that declare `deploy` commands (the others have nothing to deploy), and a
 * node that declares them without `ssh` is a configuration mistake.
 */
function pickNodes(nodes: NodeConfig[], name: string | undefined): NodeConfig[] {
  let picked: NodeConfig[];
  if (name === undefined) {
    picked = nodes.filter((n) => n.deploy !== undefined && n.deploy.length > 0);
    if (picked.length === 0) throw new UsageError('no node declares deploy commands');
  } else {
    const node = nodes.find((n) => n.name === name);
    if (node === undefined) throw new UsageError(`unknown node "${name}" (known: ${nodes.map((n) => n.name).join(', ') || 'none'})`);
    if (node.deploy === undefined || node.deploy.length === 0)
      throw new UsageError(`node "${name}" has no deploy commands in nodes.config.ts`);
    picked = [node];
  }
  const withoutSsh = picked.filter((n) => n.ssh === undefined).map((n) => n.name);
  if (withoutSsh.length > 0) throw new UsageError(`no ssh configured for node${withoutSsh.length > 1 ? 's' : ''} ${withoutSsh.join(', ')}`);
  return picked;
}

function printEvent(ctx: CommandContext, event: DeployEvent): void {
  const { out } = ctx;
  switch (event.type) {
    case 'command':
      out.line(`[${event.node}] $ ${event.command}`);
      break;
    case 'line':
      if (event.stream === 'stdout') out.line(`[${event.node}] ${event.line}`);
      else out.error(`[${event.node}] ${event.line}`);
      break;
    case 'finished':
      // The output was streamed already: the error's first line says enough here.
      if (!event.summary.ok) out.error(`[${event.summary.node}] failed: ${headline(event.summary)}`);
      break;
    case 'connecting':
      break;
  }
}

function printSummaries(ctx: CommandContext, summaries: DeployNodeSummary[]): void {
  const { out } = ctx;
  out.line();
  out.table(
    ['node', 'result', 'commands', 'seconds', 'failure'],
    summaries.map((s) => [
      s.node,
      s.ok ? 'ok' : 'failed',
      `${s.ran.length}/${s.planned}`,
      (s.durationMs / 1000).toFixed(1),
      s.ok ? null : s.failedCommand ? `"${s.failedCommand.command}" ${describeExit(s.failedCommand)}` : headline(s),
    ]),
  );
}

/**
 * The error's first line without the node's name, which the `[node]` prefix
 * or the table already shows; the output below it was streamed already.
 */
function headline(summary: DeployNodeSummary): string {
  const line = (summary.error ?? '').split('\n')[0] ?? '';
  return line.startsWith(`${summary.node}: `) ? line.slice(summary.node.length + 2) : line;
}
