import { describeExit } from '../../src/operate/deploy-node.js';
import { execOnNode } from '../../src/operate/exec-on-node.js';
import { SshError } from '../../src/nodes/ssh-client.js';
import { requireOption, UsageError, type CommandContext } from '../command.js';

export async function run(ctx: CommandContext): Promise<number> {
  const name = requireOption(ctx, 'node');
  // Words are joined with spaces and run by the remote login shell, as ssh(1) does.
  const words = ctx.rest.length > 0 ? ctx.rest : ctx.positionals;
  const command = words.join(' ');
  if (command.trim() === '') throw new UsageError('no command given: mesh exec --node N -- CMD');
  const config = await ctx.config();
  const node = config.nodes.find((n) => n.name === name);
  if (node === undefined) throw new UsageError(`unknown node "${name}" (known: ${config.nodes.map((n) => n.name).join(', ') || 'none'})`);
  if (node.ssh === undefined) throw new UsageError(`no ssh configured for node ${name}`);
  const { out } = ctx;
  try {
    const result = await execOnNode(node, command, {
      ...(!out.json && {
        onOutput: (stream: 'stdout' | 'stderr', text: string) => (stream === 'stdout' ? out.stdout : out.stderr).write(text),
      }),
    });
    if (out.json) out.document({ node: result.node, exitCode: result.exitCode, stdout: result.stdout, stderr: result.stderr });
    if (result.exitCode !== 0 && !out.json) out.error(`mesh: ${name}: command ${describeExit(result)}`);
    return result.exitCode === 0 ? 0 : 1;
  } catch (error) {
    if (!(error instanceof SshError)) throw error;
    if (out.json) out.document({ node: name, error: error.message });
    out.error(`mesh: ${error.message}`);
    return 1;
  }
}
