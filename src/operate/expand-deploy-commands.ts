import type { NodeConfig } from '../config/node-config.js';

/**
 * The commands `mesh deploy` runs on a node, in order: `{node}` becomes the
 * node's name everywhere, and a command naming `{service}` is repeated once
 * per service the node runs, in the order the config lists them.
 *
 * Names go in as written, unquoted: the user wrote the command around them
 * (`cd ~/code/{service}`, `"{service}.service"`), and quoting here would
 * break commands that already quote.
 */
export function expandDeployCommands(node: Pick<NodeConfig, 'name' | 'services' | 'deploy'>): string[] {
  const services = Object.keys(node.services);
  const commands: string[] = [];
  for (const template of node.deploy ?? []) {
    const forNode = template.replaceAll('{node}', node.name);
    if (!forNode.includes('{service}')) {
      commands.push(forNode);
      continue;
    }
    for (const service of services) commands.push(forNode.replaceAll('{service}', service));
  }
  return commands;
}
