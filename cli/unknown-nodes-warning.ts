import { readUnknownNodes } from '../src/assign/read-unknown-nodes.js';
import type { MeshConfig } from '../src/config/mesh-config.js';
import type { Database } from '../src/db/open-database.js';
import type { CommandContext } from './command.js';

const plural = (n: number, one: string, many: string) => `${n} ${n === 1 ? one : many}`;

/**
 * Warns on stderr, once per node name, when entities or unpulled records sit
 * on a node that nodes.config.ts no longer declares, with the command that
 * fixes it. Every command that reads assignments calls it: a renamed node
 * otherwise strands its work without a word.
 */
export async function warnUnknownNodes(ctx: CommandContext, database: Database, config: MeshConfig): Promise<void> {
  for (const unknown of await readUnknownNodes(database, config)) {
    const entities = Object.values(unknown.entities).reduce((a, b) => a + b, 0);
    const unpulled = Object.values(unknown.unpulled).reduce((a, b) => a + b, 0);
    const held = [
      entities > 0 &&
        `${plural(entities, 'entity', 'entities')} (${Object.entries(unknown.entities)
          .map(([s, n]) => `${s} ${n}`)
          .join(', ')})`,
      unpulled > 0 && `${plural(unpulled, 'record', 'records')} delivered and not pulled yet`,
    ].filter(Boolean);
    ctx.out.error(
      `mesh: warning: node "${unknown.node}" is not in nodes.config.ts but holds ${held.join(' and ')}; ` +
        `if it was renamed: mesh rename-node --from ${unknown.node} --to NEW_NAME; ` +
        `if it was removed: mesh drain --node ${unknown.node} (see README, "Renaming or removing a node")`,
    );
  }
}
