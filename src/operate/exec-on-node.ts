import type { NodeConfig } from '../config/node-config.js';
import { connectSsh, type ConnectRemoteShell } from '../nodes/ssh-client.js';
import type { OutputStream } from './deploy-node.js';

/** How one command ended on a node. */
export interface ExecOnNodeResult {
  node: string;
  /** null when it ended without one (a signal, or a channel closed under it). */
  exitCode: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
}

export interface ExecOnNodeOptions {
  /** Output as it arrives, in chunks (not cut into lines), so it can be passed through as is. */
  onOutput?: (stream: OutputStream, text: string) => void;
  /** How a shell on the node is opened; SSH from the node's config when left out. */
  connect?: ConnectRemoteShell;
}

/**
 * Runs one command on a node through its login shell. Resolves whatever the
 * command's exit status; throws SshError when the node cannot be reached or
 * logged into.
 */
export async function execOnNode(node: NodeConfig, command: string, options: ExecOnNodeOptions = {}): Promise<ExecOnNodeResult> {
  const shell = await (options.connect ?? connectSsh)(node);
  try {
    const onOutput = options.onOutput;
    const result = await shell.exec(
      command,
      onOutput && {
        onStdout: (text) => onOutput('stdout', text),
        onStderr: (text) => onOutput('stderr', text),
      },
    );
    return { node: node.name, ...result };
  } finally {
    await shell.close().catch(() => undefined);
  }
}
