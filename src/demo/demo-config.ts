import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface DemoNodeAddress {
  name: string;
  url: string;
  /** Only written into the demo's own nodes.config.ts, read from the environment there. */
  apiKeyVariable: string;
}

/**
 * Writes the demo's nodes.config.ts and services.config.ts: the same files a
 * user writes, so that the demo runs through the same loader and checks.
 */
export function writeDemoConfig(dir: string, nodes: DemoNodeAddress[]): { nodes: string; services: string } {
  const nodesFile = join(dir, 'nodes.config.ts');
  const servicesFile = join(dir, 'services.config.ts');
  const nodeEntries = nodes
    .map(
      (n) => `  {
    name: '${n.name}',
    url: '${n.url}',
    apiKey: process.env.${n.apiKeyVariable},
    services: { 'micro.emails.timeline': { maxEntities: 50 } },
    timeoutMs: 10_000,
  },`,
    )
    .join('\n');
  writeFileSync(nodesFile, `import { defineNodes } from 'workmesh';\n\nexport default defineNodes([\n${nodeEntries}\n]);\n`);
  writeFileSync(
    servicesFile,
    `import { defineServices } from 'workmesh';

export default defineServices([
  {
    name: 'micro.emails.timeline',
    entity: { table: 'account', id: 'id', node: 'node_for_micro_emails_timeline', weight: 'weight' },
    assign: 'roundrobin',
    protocols: [
      {
        name: 'deliveries',
        table: 'delivery',
        id: 'id',
        sort: 'create_time',
        entityRef: 'id_account',
        batchSize: 200,
        push: { path: '/api/1.0/deliveries/push.json' },
        pull: {
          statusPath: '/api/1.0/deliveries/status.json',
          path: '/api/1.0/deliveries/pull.json',
          columns: { hash: 'result_hash' },
        },
      },
    ],
  },
]);
`,
  );
  return { nodes: nodesFile, services: servicesFile };
}
