import type { NodeConfig } from '../config/node-config.js';
import { connectSsh, DEFAULT_CONNECT_TIMEOUT_MS, SshError, type ConnectRemoteShell, type RemoteShell } from '../nodes/ssh-client.js';
import { parseNodeUsage, USAGE_COMMAND, type NodeUsageFigures } from './parse-node-usage.js';

/** Reachability and load of one node, read over SSH for `mesh --nodes --ssh`. */
export interface NodeUsage extends NodeUsageFigures {
  name: string;
  reachable: boolean;
  /** Why the node could not be read: unreachable, refused, or its usage command failed. */
  error?: string;
}

export interface ReadNodesUsageOptions {
  /** How a shell on the node is opened; SSH from the node's config when left out. */
  connect?: ConnectRemoteShell;
}

/**
 * Reads every node at once, one connection and one command each. Each node
 * waits for its own `ssh.connectTimeoutMs` at most to connect and as long
 * again for the command, so nodes that do not answer hold the whole call up
 * for about one time-out, not one per node. Never throws for a node.
 */
export async function readNodesUsage(nodes: NodeConfig[], options: ReadNodesUsageOptions = {}): Promise<NodeUsage[]> {
  return Promise.all(nodes.map((node) => readNodeUsage(node, options)));
}

export async function readNodeUsage(node: NodeConfig, options: ReadNodesUsageOptions = {}): Promise<NodeUsage> {
  if (node.ssh === undefined) return { name: node.name, reachable: false, error: 'no ssh configured' };
  let shell: RemoteShell;
  try {
    shell = await (options.connect ?? connectSsh)(node);
  } catch (error) {
    return { name: node.name, reachable: false, error: errorText(error) };
  }
  try {
    const result = await shell.exec(USAGE_COMMAND, { timeoutMs: node.ssh.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS });
    const figures = parseNodeUsage(result.stdout);
    const usage: NodeUsage = { name: node.name, reachable: true, ...figures };
    if (Object.keys(figures).length === 0) {
      const detail = result.stderr.trim().split('\n')[0] ?? '';
      usage.error = `usage command gave nothing readable (exit status ${result.exitCode ?? 'none'}${detail ? `: ${detail}` : ''})`;
    }
    return usage;
  } catch (error) {
    // Logged in, so reachable; only the read itself failed.
    return { name: node.name, reachable: true, error: errorText(error) };
  } finally {
    await shell.close().catch(() => undefined);
  }
}

function errorText(error: unknown): string {
  if (error instanceof SshError) return error.message;
  return error instanceof Error ? error.message : String(error);
}
