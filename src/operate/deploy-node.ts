import PQueue from 'p-queue';
import type { NodeConfig } from '../config/node-config.js';
import { connectSsh, SshError, type ConnectRemoteShell, type RemoteExecResult, type RemoteShell } from '../nodes/ssh-client.js';
import { expandDeployCommands } from './expand-deploy-commands.js';
import { OutputLines } from './output-lines.js';

export const DEFAULT_DEPLOY_CONCURRENCY = 4;
/** How much of a failed command's output its error keeps: the end, where the reason usually is. */
const FAILURE_OUTPUT_CHARS = 4_000;

export type OutputStream = 'stdout' | 'stderr';

/** One deploy command that ran, with how it ended. */
export interface DeployCommandRun {
  command: string;
  exitCode: number | null;
  signal: string | null;
  durationMs: number;
}

/** The command that stopped a deploy, with the end of its output (stdout and stderr as they came). */
export interface DeployFailedCommand extends DeployCommandRun {
  output: string;
}

/** How one node's deploy went. */
export interface DeployNodeSummary {
  node: string;
  ok: boolean;
  /** Every command the deploy meant to run, after `{node}` / `{service}` expansion. */
  planned: number;
  /** The commands that ran, in order; on a failure the failing one is last. */
  ran: DeployCommandRun[];
  durationMs: number;
  /**
   * Why the deploy failed, starting with the node's name: the SSH problem, or
   * the command and its exit status on the first line and the end of its
   * output on the next ones.
   */
  error?: string;
  /** Set when a command exited non-zero (not for SSH failures). */
  failedCommand?: DeployFailedCommand;
}

/** What a deploy reports while it runs; the engine never prints. */
export type DeployEvent =
  | { type: 'connecting'; node: string }
  | { type: 'command'; node: string; command: string; index: number; total: number }
  | { type: 'line'; node: string; stream: OutputStream; line: string }
  | { type: 'finished'; summary: DeployNodeSummary };

export interface DeployOptions {
  onEvent?: (event: DeployEvent) => void;
  /** How a shell on the node is opened; SSH from the node's config when left out. */
  connect?: ConnectRemoteShell;
}

export interface DeployNodesOptions extends DeployOptions {
  /** Nodes deployed at once; 4 when left out. */
  concurrency?: number;
}

/**
 * Runs a node's `deploy` commands in order over one SSH connection and stops
 * at the first one that exits non-zero. Never throws for the node's own
 * failures (SSH or a command): they are in the summary.
 */
export async function deployNode(node: NodeConfig, options: DeployOptions = {}): Promise<DeployNodeSummary> {
  const emit = options.onEvent ?? (() => undefined);
  const connect = options.connect ?? connectSsh;
  const commands = expandDeployCommands(node);
  const started = Date.now();
  const ran: DeployCommandRun[] = [];
  const finish = (extra: Pick<DeployNodeSummary, 'ok' | 'error' | 'failedCommand'>): DeployNodeSummary => {
    const summary: DeployNodeSummary = { node: node.name, planned: commands.length, ran, durationMs: Date.now() - started, ...extra };
    emit({ type: 'finished', summary });
    return summary;
  };

  let shell: RemoteShell;
  emit({ type: 'connecting', node: node.name });
  try {
    shell = await connect(node);
  } catch (error) {
    return finish({ ok: false, error: errorText(error) });
  }
  try {
    for (const [index, command] of commands.entries()) {
      emit({ type: 'command', node: node.name, command, index, total: commands.length });
      const commandStarted = Date.now();
      let output = '';
      const keep = (text: string): void => {
        output = (output + text).slice(-FAILURE_OUTPUT_CHARS);
      };
      const stdoutLines = new OutputLines((line) => emit({ type: 'line', node: node.name, stream: 'stdout', line }));
      const stderrLines = new OutputLines((line) => emit({ type: 'line', node: node.name, stream: 'stderr', line }));
      let result: RemoteExecResult;
      try {
        result = await shell.exec(command, {
          onStdout: (text) => {
            keep(text);
            stdoutLines.write(text);
          },
          onStderr: (text) => {
            keep(text);
            stderrLines.write(text);
          },
        });
      } catch (error) {
        return finish({ ok: false, error: `${errorText(error)} (while running "${command}")` });
      } finally {
        stdoutLines.end();
        stderrLines.end();
      }
      const run: DeployCommandRun = {
        command,
        exitCode: result.exitCode,
        signal: result.signal,
        durationMs: Date.now() - commandStarted,
      };
      ran.push(run);
      if (result.exitCode !== 0) {
        const failedCommand: DeployFailedCommand = { ...run, output };
        return finish({ ok: false, error: describeFailure(node.name, failedCommand), failedCommand });
      }
    }
  } finally {
    await shell.close().catch(() => undefined);
  }
  return finish({ ok: true });
}

/**
 * Deploys several nodes, a few at a time. Summaries come back in the order
 * of `nodes`, whatever order the deploys end in.
 */
export async function deployNodes(nodes: NodeConfig[], options: DeployNodesOptions = {}): Promise<DeployNodeSummary[]> {
  const queue = new PQueue({ concurrency: options.concurrency ?? DEFAULT_DEPLOY_CONCURRENCY });
  return Promise.all(nodes.map((node) => queue.add(() => deployNode(node, options))));
}

/** `exited with status 3`, or how it ended without a status. */
export function describeExit(run: Pick<DeployCommandRun, 'exitCode' | 'signal'>): string {
  if (run.exitCode !== null) return `exited with status ${run.exitCode}`;
  if (run.signal !== null) return `was killed by signal ${run.signal}`;
  return 'ended without an exit status';
}

function describeFailure(node: string, failed: DeployFailedCommand): string {
  const headline = `${node}: command "${failed.command}" ${describeExit(failed)}`;
  const output = failed.output.trimEnd();
  if (output === '') return `${headline} (no output)`;
  const cut = failed.output.length >= FAILURE_OUTPUT_CHARS ? '…' : '';
  return `${headline}\n${cut}${output}`;
}

function errorText(error: unknown): string {
  if (error instanceof SshError) return error.message;
  return error instanceof Error ? error.message : String(error);
}
